"""Benchmark: generating the sample world of `kiai demo` (default 96 sets, about 320 maps) and landing it.

    python bench/sample_world.py [--sets 96] [--quick]

Times `kiai.sample.generate_world` (maps, bodies, dump, files written) against the bar of a couple of seconds,
and `kiai ingest osu-files` of the generated files in a subprocess as the peer: generation should cost about as
much as ingesting what it generates.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _figures import emit, figure  # bench/_figures.py: figures for `python -m bench`

from kiai.sample import generate_world

BAR_SECONDS = 3.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", type=int, default=96)
    parser.add_argument("--quick", action="store_true", help="30 sets")
    args = parser.parse_args()
    sets = 30 if args.quick else args.sets
    with tempfile.TemporaryDirectory(prefix="kiai-bench-") as tmp:
        started = time.perf_counter()
        world = generate_world(Path(tmp) / "world", seed=7, n_sets=sets)
        seconds = time.perf_counter() - started
        objects = sum(len(m.gm.objects) for s in world.sets for m in s.maps)
        command = [sys.executable, "-m", "kiai", "--db", f"{tmp}/b.duckdb", "ingest", "osu-files", str(world.osu_dir)]
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        ingest = time.perf_counter() - started
    print(f"generate_world: {sets} sets, {len(world.osu_files)} maps, {objects:,} hit objects in {seconds:.2f} s")
    print(f"kiai ingest osu-files of the same files: {ingest:.2f} s")
    emit(
        [
            figure("generate the sample world", seconds, "s", peer="bar", peer_value=BAR_SECONDS, at_most=1),
            figure("generate vs ingest it", seconds, "s", peer="kiai ingest of its files", peer_value=ingest),
        ]
    )


if __name__ == "__main__":
    main()
