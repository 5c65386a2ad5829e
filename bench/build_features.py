"""Benchmark: a full build of the tier-2 feature models and a no-op rebuild.

Synthesises a corpus straight into parsed.* with SQL (default 20,000 osu!standard maps, 500 hit
objects each = 10 M hit objects, 6 timing points each with kiai toggles), then times:
  * a full build of every model (the tier-2 kiai_sections and file_features do the work; the API-side
    models, beatmap_features and the dataset run on empty landing tables) -> hit objects/s (bar: >= 5 M/s)
  * a no-op rebuild in process, and through the CLI as a user runs it (bar: < 1 s)

    .venv/bin/python bench/build_features.py [--maps 20000] [--objects-per-map 500] [--db PATH]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _figures import emit, figure  # bench/_figures.py: figures for `python -m bench`

from kiai import warehouse
from kiai.load import ensure_tables
from kiai.osu import PARSER_VERSION
from kiai.transform import build

SQL_DIR = Path(__file__).resolve().parents[1] / "sql"
FULL_BAR = 5_000_000  # hit objects/s
NOOP_BAR = 1.0  # s


def synthesise(con, maps: int, per_map: int) -> int:
    """Maps alternate streams (1/4), jumps (1/2) and mixed rhythm at 120-239 BPM; 1 in 50 is taiko."""
    con.execute(
        """
        INSERT INTO parsed.beatmap_files (md5, beatmap_id, beatmapset_id, format_version, mode, parser_version)
        SELECT md5(i::VARCHAR), i, i // 5, 14, CASE WHEN i % 50 = 0 THEN 1 ELSE 0 END, $parser FROM range($maps) r(i)
        """,
        {"maps": maps, "parser": PARSER_VERSION},
    )
    con.execute(
        """
        INSERT INTO parsed.timing_points
            (md5, point_index, time_ms, beat_length, meter, uninherited, effects, kiai)
        SELECT f.md5, p, 1000 + p * 20000, CASE WHEN p % 3 = 0 THEN 60000 / (120 + f.beatmap_id % 120) ELSE -100 END,
               4, p % 3 = 0, p % 2, p % 2 = 1
        FROM parsed.beatmap_files f, range(6) r(p)
        """
    )
    con.execute(
        """
        INSERT INTO parsed.hit_objects
            (md5, object_index, time_ms, x, y, kind, new_combo, combo_skip, end_time_ms)
        SELECT f.md5, j,
               (1000 + j * (60000 / (120 + f.beatmap_id % 120)) / (4 - 2 * (f.beatmap_id % 2)))::INTEGER,
               (256 + 200 * sin(j * (1 + f.beatmap_id % 3)))::INTEGER,
               (192 + 150 * cos(j * 0.7))::INTEGER,
               CASE WHEN j % 10 = 9 THEN 'slider' ELSE 'circle' END, j % 8 = 0, 0,
               (1000 + j * (60000 / (120 + f.beatmap_id % 120)) / (4 - 2 * (f.beatmap_id % 2)))::INTEGER
        FROM parsed.beatmap_files f, range($per_map) r(j)
        """,
        {"per_map": per_map},
    )
    con.execute("CHECKPOINT")
    return con.execute("SELECT count(*) FROM parsed.hit_objects").fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--maps", type=int, default=20_000)
    parser.add_argument("--objects-per-map", type=int, default=500)
    parser.add_argument("--db", type=Path, help="warehouse file (default: a temporary one)")
    args = parser.parse_args()
    folder = tempfile.TemporaryDirectory(prefix="kiai-bench-")
    db = args.db or Path(folder.name) / "bench.duckdb"
    if db.exists():
        sys.exit(f"{db} exists: the benchmark needs a fresh warehouse")
    con = warehouse.connect(db)
    ensure_tables(con)
    started = time.perf_counter()
    objects = synthesise(con, args.maps, args.objects_per_map)
    print(f"corpus: {args.maps:,} maps, {objects:,} hit objects (synthesised in {time.perf_counter() - started:.1f} s)")

    report = build(con, SQL_DIR)
    assert report.ok, [(r.model, r.message) for r in report.failed]
    rate = objects / report.seconds
    print(
        f"full build: {report.seconds:.2f} s, {rate / 1e6:.2f} M hit objects/s (bar {FULL_BAR / 1e6:.0f} M/s: "
        f"{rate / FULL_BAR:.2f}x)"
    )
    for result in report.results:
        print(f"  {result.model}: {result.rows:,} rows in {result.seconds:.2f} s")

    noop = build(con, SQL_DIR)
    assert not noop.todo
    under = NOOP_BAR / noop.seconds
    print(f"no-op rebuild (in process): {noop.seconds:.3f} s (bar {NOOP_BAR:.0f} s: {under:.1f}x under)")
    con.close()
    command = [sys.executable, "-m", "kiai", "--db", str(db), "build-features"]
    started = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "KIAI_SQL_DIR": str(SQL_DIR)})
    wall = time.perf_counter() - started
    print(f"no-op rebuild (kiai build-features, whole process): {wall:.3f} s -> {out.stdout.strip()}")
    emit(
        [
            figure("full feature build", rate, "objects/s", peer="bar", peer_value=FULL_BAR, at_least=1),
            figure("no-op rebuild, in process", noop.seconds, "s", peer="bar", peer_value=NOOP_BAR, at_most=1),
            figure("no-op rebuild, kiai build-features", wall, "s", peer="bar", peer_value=NOOP_BAR, at_most=1),
        ]
    )
    folder.cleanup()


if __name__ == "__main__":
    main()
