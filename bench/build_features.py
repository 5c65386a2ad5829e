"""Benchmark: a full build of the tier-2 feature models and a no-op rebuild.

Synthesises a corpus straight into parsed.* with SQL (default 20,000 osu!standard maps, 500 hit
objects each = 10 M hit objects, 6 timing points each with kiai toggles, and at every object the
timing context and the step from the object before it that the parser records), then times:
  * a full build of every model (the tier-2 kiai_sections and file_features do the work; the API-side
    models, beatmap_features and the dataset run on empty landing tables) -> hit objects/s (bar: >= 5 M/s)
  * the floor of any tier-2 feature in the same run: one lag() window per file over parsed.hit_objects
    (in time order, ties in file order) and one aggregate, stored like a model; file_features may take
    at most 2x that
  * a no-op rebuild in process, and through the CLI as a user runs it (bar: < 1 s)
It also checks that file_features equals the packed model it replaced (tests/support/legacy), EXCEPT both ways.

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
from kiai.transform.runner import prepare

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support.steps import with_steps  # noqa: E402 - the step columns as SQL computes them

SQL_DIR = ROOT / "sql"
FULL_BAR = 5_000_000  # hit objects/s
NOOP_BAR = 1.0  # s
FLOOR_BAR = 2.0  # file_features at most this many times the floor
# the least any tier-2 feature needs: one lag() per file in time order (ties in file order, as any deterministic
# feature needs them), one aggregate, stored as a table as models are
FLOOR_SQL = """
SELECT file_id, avg(step) AS mean_step
FROM (
    SELECT file_id, time_ms - lag(time_ms) OVER (PARTITION BY file_id ORDER BY time_ms, object_index) AS step
    FROM parsed.hit_objects
)
GROUP BY file_id
"""


def synthesise(con, maps: int, per_map: int) -> int:
    """Maps alternate streams (1/4), jumps (1/2) and mixed rhythm at 120-239 BPM; 1 in 50 is taiko. Timing points
    at 1000 + k * 20 s: uninherited at k = 0 and 3 (one BPM per map), inherited (SV 1) between, kiai on at odd k;
    each object carries the beat length, velocity and kiai state active at it and the step into it from the
    object before it, as the parser records them."""
    con.execute(
        """
        INSERT INTO parsed.beatmap_files
            (file_id, md5, beatmap_id, beatmapset_id, format_version, mode, parser_version)
        SELECT i + 1, md5(i::VARCHAR), i, i // 5, 14, CASE WHEN i % 50 = 0 THEN 1 ELSE 0 END, $parser
        FROM range($maps) r(i)
        """,
        {"maps": maps, "parser": PARSER_VERSION},
    )
    con.execute(
        """
        INSERT INTO parsed.timing_points
            (file_id, point_index, time_ms, beat_length, meter, uninherited, effects, kiai, timing_applies,
             effects_apply)
        SELECT f.file_id, p, 1000 + p * 20000,
               CASE WHEN p % 3 = 0 THEN 60000 / (120 + f.beatmap_id % 120) ELSE -100 END,
               4, p % 3 = 0, p % 2, p % 2 = 1, p % 3 = 0, true
        FROM parsed.beatmap_files f, range(6) r(p)
        """
    )
    objects = f"""
        SELECT file_id, j::INTEGER AS object_index, time_ms, x, y, kind, j % 8 = 0 AS new_combo, 0 AS combo_skip,
               time_ms AS end_time_ms, beat_length, 1.0 AS slider_velocity,
               least((time_ms - 1000) // 20000, 5) % 2 = 1 AS kiai
        FROM (
            SELECT f.file_id, j, 60000 / (120 + f.beatmap_id % 120) AS beat_length,
                   (1000 + j * beat_length / (4 - 2 * (f.beatmap_id % 2)))::INTEGER AS time_ms,
                   (256 + 200 * sin(j * (1 + f.beatmap_id % 3)))::INTEGER AS x,
                   (192 + 150 * cos(j * 0.7))::INTEGER AS y,
                   CASE WHEN j % 10 = 9 THEN 'slider' ELSE 'circle' END AS kind
            FROM parsed.beatmap_files f, range({int(per_map)}) r(j)
        )
    """
    con.execute(f"INSERT INTO parsed.hit_objects BY NAME {with_steps(objects)}")  # the steps by a window: untimed
    con.execute(f"SELECT setval('parsed.file_ids', {maps})")
    con.execute("CHECKPOINT")
    return con.execute("SELECT count(*) FROM parsed.hit_objects").fetchone()[0]


ROUNDS = 3


def stored_seconds(con, sql: str) -> float:
    """Seconds to run a SELECT and store its rows as a table, as a model build does."""
    started = time.perf_counter()
    con.execute(f"CREATE TABLE features.bench_timed AS {sql}")
    seconds = time.perf_counter() - started
    con.execute("DROP TABLE features.bench_timed")
    return seconds


def against_the_floor(con) -> tuple[float, float]:
    """The best of ROUNDS interleaved runs of file_features' SQL and of the floor (one lag() window per file and
    one aggregate), each stored as a table: on a shared machine the best run is the least disturbed."""
    _, graphs = prepare(con, SQL_DIR)
    model = graphs.resolved["file_features"].rendered.sql
    runs = [(stored_seconds(con, FLOOR_SQL), stored_seconds(con, model)) for _ in range(ROUNDS)]
    return min(floor for floor, _ in runs), min(plain for _, plain in runs)


def packed_model_differs(con) -> int:
    """Rows where file_features and the packed model it replaced differ (EXCEPT both ways)."""
    from tests.support.legacy import differing_md5s, packed_file_features_sql

    con.execute(f"CREATE OR REPLACE TEMP TABLE packed AS {packed_file_features_sql(con)}")
    return len(differing_md5s(con, "features.file_features", "packed"))


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
    floor, file_features = against_the_floor(con)
    print(
        f"best of {ROUNDS} interleaved runs: floor (one lag() window per file + one aggregate, stored) {floor:.2f} s; "
        f"file_features' SQL {file_features:.2f} s = {file_features / floor:.2f}x the floor (bar <= {FLOOR_BAR:g}x)"
    )
    differing = packed_model_differs(con)
    print(f"file_features vs the packed model it replaced (EXCEPT both ways): {differing} rows differ")

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
            figure(
                "file_features SQL, best of 3",
                file_features,
                "s",
                peer="one lag() window + one aggregate",
                peer_value=floor,
                at_most=FLOOR_BAR,
            ),
            figure("rows unlike the packed model", differing, "rows", peer="bar", peer_value=0, on="value", at_most=0),
            figure("no-op rebuild, in process", noop.seconds, "s", peer="bar", peer_value=NOOP_BAR, at_most=1),
            figure("no-op rebuild, kiai build-features", wall, "s", peer="bar", peer_value=NOOP_BAR, at_most=1),
        ]
    )
    folder.cleanup()


if __name__ == "__main__":
    main()
