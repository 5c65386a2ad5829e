"""Run every benchmark in bench/ and print one table: each figure, its peer or ceiling in the same run, the ratio,
the bar and whether it passed.

    python -m bench                 # full sizes (minutes; the machine should be otherwise idle)
    python -m bench --quick         # tiny sizes: a smoke test of every benchmark, bars shown but not enforced
    python -m bench --only ingest_osu --only demo

Each bench/<name>.py runs in its own process (so peak RSS and imports are its own) and hands its figures back
through bench/_figures.py. Exit status: 1 when a benchmark crashed, or (full sizes only) when a bar was missed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
# the arguments that make each benchmark a smoke test
QUICK_ARGS = {
    "ingest_osu": ["--files", "120"],
    "ingest_replays": ["--replays", "40"],
    "import_dump": ["--rows", "20000", "--beatmaps", "2000"],
    "build_features": ["--maps", "300", "--objects-per-map", "200"],
    "export_lake": ["--maps", "300", "--objects-per-map", "200", "--scores", "20000"],
    "demo": ["--quick"],
    "sample_world": ["--quick"],
    "hostile_inputs": ["--quick"],
}


def discover(only: list[str]) -> list[Path]:
    scripts = sorted(p for p in BENCH.glob("*.py") if not p.name.startswith("_"))
    if only:
        unknown = set(only) - {p.stem for p in scripts}
        if unknown:
            sys.exit(f"unknown benchmark(s): {', '.join(sorted(unknown))}; have {', '.join(p.stem for p in scripts)}")
        scripts = [p for p in scripts if p.stem in only]
    return scripts


def run(script: Path, quick: bool) -> tuple[list[dict[str, Any]], str | None, float]:
    """The figures of one benchmark, an error text when it failed, and its wall time."""
    with tempfile.TemporaryDirectory(prefix="kiai-bench-") as tmp:
        out = Path(tmp) / "figures.json"
        command = [sys.executable, str(script), *(QUICK_ARGS.get(script.stem, []) if quick else [])]
        env = {**os.environ, "KIAI_BENCH_FIGURES": str(out), "PYTHONPATH": str(ROOT)}
        print(f"== {script.stem}: {' '.join(command[1:])}", flush=True)
        started = time.monotonic()
        proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        seconds = time.monotonic() - started
        for line in proc.stdout.splitlines():
            print(f"   {line}", flush=True)
        if proc.returncode != 0:
            tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
            return [], f"exit {proc.returncode}: {tail}", seconds
        if not out.is_file():
            return [], "reported no figures (no emit() call)", seconds
        return json.loads(out.read_text()), None, seconds


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return ""
    if abs(value) >= 1e6:
        text = f"{value / 1e6:,.2f} M"
    elif abs(value) >= 1000:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}".strip()


def table(rows: list[tuple[str, dict[str, Any]]], errors: dict[str, str], quick: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title="kiai benchmarks" + (" (--quick: smoke sizes, bars not enforced)" if quick else ""))
    for column in ("bench", "figure", "value", "peer / ceiling", "peer value", "ratio", "bar", "result"):
        t.add_column(column, justify="right" if column in ("value", "peer value", "ratio") else "left")
    for bench, f in rows:
        ratio = "" if f.get("ratio") is None else f"{f['ratio']:.2f}x"
        result = "[green]pass[/]" if f["passed"] else ("[yellow]miss[/]" if quick else "[red]FAIL[/]")
        value, peer_value = _number(f["value"], f["unit"]), _number(f.get("peer_value"), f["unit"])
        t.add_row(bench, f["figure"], value, f.get("peer", ""), peer_value, ratio, f["bar"], result)
    for bench, error in errors.items():
        t.add_row(bench, "[red]crashed[/]", "", "", "", "", "", f"[red]{error}[/]")
    Console(width=200).print(t)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check every benchmark runs")
    parser.add_argument("--only", action="append", default=[], metavar="NAME", help="run only this benchmark")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args()
    rows: list[tuple[str, dict[str, Any]]] = []
    errors: dict[str, str] = {}
    for script in discover(args.only):
        figures, error, seconds = run(script, args.quick)
        print(f"   ({seconds:.0f} s)", flush=True)
        rows += [(script.stem, f) for f in figures]
        if error:
            errors[script.stem] = error
    table(rows, errors, args.quick)
    if args.json:
        args.json.write_text(json.dumps([{"bench": b, **f} for b, f in rows], indent=1))
    missed = [f for _, f in rows if not f["passed"]]
    return 1 if errors or (missed and not args.quick) else 0


if __name__ == "__main__":
    sys.exit(main())
