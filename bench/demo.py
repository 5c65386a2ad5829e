"""Benchmark: `kiai demo` end to end (the README's first command after the install) in a fresh folder.

    python bench/demo.py [--quick]

The issue's target is the README's first command, fresh install included, within 5 minutes on a 2-core machine;
the install is not timed here, so the bar for the demo itself is 4 minutes. The peer is a second run in the same
folder (everything already landed; training runs again).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time

from _figures import emit, figure  # bench/_figures.py: figures for `python -m bench`

BAR_SECONDS = 240.0


def run(cwd: str, quick: bool) -> float:
    command = [sys.executable, "-m", "kiai", "demo", *(["--quick"] if quick else [])]
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"kiai demo failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="kiai demo --quick (30 sets, short training)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kiai-bench-demo-") as tmp:
        first = run(tmp, args.quick)
        second = run(tmp, args.quick)
    print(f"kiai demo{' --quick' if args.quick else ''}: {first:.1f} s fresh, {second:.1f} s again")
    emit(
        [
            figure("kiai demo, fresh folder", first, "s", peer="bar", peer_value=BAR_SECONDS, at_most=1),
            figure("kiai demo, fresh vs again", first, "s", peer="second run, same folder", peer_value=second),
        ]
    )


if __name__ == "__main__":
    main()
