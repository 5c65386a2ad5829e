"""Benchmark: `kiai ingest osu-files` end to end vs rosu-pp-py's parse-only loop on the same files.

    python bench/ingest_osu.py [--files 5000]

Builds a corpus from the real fixtures (each copy made distinct by a trailing comment, named
`{id}.osu`), runs the real CLI in a subprocess on a fresh warehouse (parse + land in DuckDB),
then parses the same files with rosu-pp-py, and prints hit objects/s for both, their ratio, and
kiai's peak RSS at two corpus sizes (memory must not grow with the corpus).

Two more figures say where the time goes: kiai's parser alone on one core (the like-for-like peer of
rosu-pp-py's loop), and DuckDB alone storing the rows the ingest landed (the floor of any ingest that
lands every row in DuckDB), per table, and what two groups of parsed.hit_objects' columns add to it:
the timing context (beat_length, slider_velocity, kiai) and the step from the object before
(time_order, interval_ms, distance_sq, previous_kiai), both computed by the parser. CPU seconds of
both say what the bar asks of the machine: on N cores, kiai's ingest may spend at most N / 0.5 times
rosu-pp-py's CPU in all.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import sys
import time
from pathlib import Path

from _figures import emit, figure  # bench/_figures.py: figures for `python -m bench`
from _process import measure  # bench/_process.py: a child's seconds, CPU seconds and true peak RSS

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "osu"
WORK = ROOT / "bench" / ".work" / "ingest_osu"
BAR = 0.5  # end to end at >= 0.5x rosu-pp-py's parse-only rate


def build_corpus(folder: Path, n_files: int) -> list[Path]:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    sources = [p.read_bytes() for p in sorted(FIXTURES.glob("*.osu"))]
    paths = []
    for i in range(n_files):
        path = folder / f"{1_000_000 + i}.osu"
        data = re.sub(rb"(?m)^BeatmapID:.*$", f"BeatmapID:{1_000_000 + i}".encode(), sources[i % len(sources)])
        path.write_bytes(data + (b"" if data.endswith(b"\n") else b"\n") + f"// bench copy {i}\n".encode())
        paths.append(path)
    return paths


def run_kiai(folder: Path, db: Path) -> tuple[float, int, float]:
    """Seconds, peak RSS (bytes, of the ingest or its largest worker) and CPU seconds (its process and its workers)
    of one `kiai ingest osu-files` run in a child process."""
    db.unlink(missing_ok=True)
    run = measure([sys.executable, "-m", "kiai", "--db", str(db), "ingest", "osu-files", str(folder)])
    return run.seconds, int(run.peak_rss_mib * 2**20), run.cpu_seconds


def count_objects(db: Path) -> int:
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("SELECT count(*) FROM parsed.hit_objects").fetchone()[0]


def run_kiai_parse(paths: list[Path]) -> float:
    """Seconds kiai's parser alone takes on one core (as many files at a time as the ingest's workers; no hashing,
    no landing): the like-for-like peer of rosu-pp-py's parse-only loop."""
    from kiai.load.osu_files import PARSE_FILES
    from kiai.load.pipeline import reuse_freed_memory
    from kiai.osu import parse_batch

    reuse_freed_memory()  # as in the ingest's workers
    started = time.perf_counter()
    for first in range(0, len(paths), PARSE_FILES):
        parse_batch([path.read_bytes() for path in paths[first : first + PARSE_FILES]])
    return time.perf_counter() - started


COLUMN_GROUPS = {  # parsed.hit_objects columns the parser computes, and what storing them costs
    "timing context": ["beat_length", "slider_velocity", "kiai"],
    "steps": ["time_order", "interval_ms", "distance_sq", "previous_kiai"],
}


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of this process: DuckDB's too
    return usage.ru_utime + usage.ru_stime


def _store(floor: Path, tables: dict[str, object]) -> dict[str, float]:
    """Seconds to store each Arrow table in a fresh DuckDB file (default threads), and to close it (checkpoint);
    and under "cpu" the CPU seconds of all that."""
    import duckdb

    floor.unlink(missing_ok=True)
    seconds = {}
    cpu = _own_cpu()
    with duckdb.connect(str(floor)) as con:
        con.execute("CREATE TYPE hit_object_kind AS ENUM ('circle', 'slider', 'spinner', 'hold')")
        for table, rows in tables.items():
            started = time.perf_counter()
            con.register("rows", rows)
            con.execute(f"CREATE TABLE {table.replace('.', '_')} AS SELECT * FROM rows")
            con.unregister("rows")
            seconds[table] = time.perf_counter() - started
        started = time.perf_counter()
    seconds["close"] = time.perf_counter() - started
    seconds["cpu"] = _own_cpu() - cpu
    floor.unlink()
    return seconds


def storage_floor(db: Path) -> tuple[dict[str, float], float, dict[str, float]]:
    """Seconds DuckDB alone takes to store the rows an ingest landed, per table (copied into a fresh file), the
    CPU seconds of that (DuckDB's threads store in parallel), and what parsed.hit_objects takes (with its close)
    without each group of COLUMN_GROUPS.

    No parsing, no reading of files: the least an ingest that lands every row in DuckDB can cost.
    """
    import duckdb

    from kiai.load.osu_files import PARSED_TABLES

    with duckdb.connect(str(db), read_only=True) as con:
        copies = {
            table: con.sql(f"SELECT * FROM {table}").to_arrow_table() for table in ("raw.osu_files", *PARSED_TABLES)
        }
    floor = db.with_name("floor.duckdb")
    per_table = _store(floor, copies)
    cpu = per_table.pop("cpu")
    without = {}
    for group, columns in COLUMN_GROUPS.items():
        seconds = _store(floor, {"parsed.hit_objects": copies["parsed.hit_objects"].drop_columns(columns)})
        without[group] = seconds["parsed.hit_objects"] + seconds["close"]
    return per_table, cpu, without


def run_rosu(paths: list[Path]) -> tuple[float, int, float]:
    """Seconds, hit objects and CPU seconds of rosu-pp-py's parse-only loop (one core)."""
    import rosu_pp_py

    started, cpu = time.perf_counter(), time.process_time()
    objects = 0
    for path in paths:
        objects += rosu_pp_py.Beatmap(path=str(path)).n_objects
    return time.perf_counter() - started, objects, time.process_time() - cpu


def main() -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=5000)
    args = parser.parse_args()
    half = build_corpus(WORK / "half", args.files // 2)
    full = build_corpus(WORK / "full", args.files)
    db = WORK / "bench.duckdb"
    rosu_before = run_rosu(full)  # also warms the page cache for both contenders
    half_seconds, half_rss, _ = run_kiai(WORK / "half", db)
    kiai_seconds, kiai_rss, kiai_cpu = run_kiai(WORK / "full", db)
    objects = count_objects(db)
    per_table, floor_cpu, objects_without = storage_floor(db)
    floor_seconds = sum(per_table.values())
    # the peer runs before and after kiai (on a shared machine the load moves): the faster run counts
    rosu_after = run_rosu(full)
    rosu_seconds, rosu_objects, rosu_cpu = min(rosu_before, rosu_after)
    parse_seconds = run_kiai_parse(full)
    kiai_rate, rosu_rate = objects / kiai_seconds, rosu_objects / rosu_seconds
    print(f"corpus: {len(full):,} files, {objects:,} hit objects (rosu-pp-py counts {rosu_objects:,})")
    print(f"kiai ingest (parse + land in DuckDB, end to end): {kiai_seconds:6.2f} s  {kiai_rate:12,.0f} hit objects/s")
    print(
        f"rosu-pp-py parse only:                           {rosu_seconds:6.2f} s  {rosu_rate:12,.0f} hit objects/s"
        f"  (the faster of {rosu_before[0]:.2f} s before kiai's run and {rosu_after[0]:.2f} s after it)"
    )
    print(f"ratio kiai / rosu-pp-py: {kiai_rate / rosu_rate:.2f}  (bar >= {BAR})")
    print(
        f"kiai parse only (one core, no landing):          {parse_seconds:6.2f} s  {objects / parse_seconds:12,.0f} "
        f"hit objects/s = {objects / parse_seconds / rosu_rate:.2f} of rosu-pp-py"
    )
    budget = objects / (BAR * rosu_rate)
    print(
        f"DuckDB alone storing the landed rows (CREATE TABLE AS from Arrow, no parsing, no memory limit): "
        f"{floor_seconds:.2f} s ({floor_cpu:.2f} CPU-s), "
        f"{objects / floor_seconds:,.0f} hit objects/s; the bar leaves {budget:.2f} s for the whole ingest"
    )
    print("  per table: " + ", ".join(f"{table} {seconds:.2f} s" for table, seconds in per_table.items()))
    added = {}
    for group, columns in COLUMN_GROUPS.items():
        added[group] = per_table["parsed.hit_objects"] + per_table["close"] - objects_without[group]
        print(
            f"  parsed.hit_objects without its {group} columns ({', '.join(columns)}): "
            f"{objects_without[group]:.2f} s with its close, so they add {added[group]:+.2f} s"
        )
    cores = os.cpu_count() or 1
    print(
        f"CPU seconds: kiai ingest {kiai_cpu:.2f} (its process and workers), rosu-pp-py {rosu_cpu:.2f}: on {cores} "
        f"cores the bar allows kiai at most {cores / BAR * rosu_cpu:.2f}, if every core were busy all along"
    )
    print(
        f"kiai peak RSS: {half_rss / 2**20:,.0f} MiB at {len(half):,} files ({half_seconds:.2f} s), "
        f"{kiai_rss / 2**20:,.0f} MiB at {len(full):,} files"
    )
    emit(
        [
            figure(
                "ingest .osu end to end", kiai_rate, "objects/s", peer="rosu-pp-py parse only",
                peer_value=rosu_rate, at_least=BAR,
            ),
            figure(
                "kiai parse only, one core", objects / parse_seconds, "objects/s", peer="rosu-pp-py parse only",
                peer_value=rosu_rate,
            ),
            figure(
                "DuckDB storing the landed rows alone", objects / floor_seconds, "objects/s",
                peer="rosu-pp-py parse only", peer_value=rosu_rate,
            ),
            figure(
                "ingest peak RSS", kiai_rss / 2**20, "MiB", peer=f"same at {len(half):,} files",
                peer_value=half_rss / 2**20, at_most=1.5,
            ),
        ]
    )  # fmt: skip
    return {
        "kiai_rate": kiai_rate,
        "rosu_rate": rosu_rate,
        "ratio": kiai_rate / rosu_rate,
        "storage_floor_seconds": floor_seconds,
        "storage_floor_cpu_seconds": floor_cpu,
        "context_columns_seconds": added["timing context"],
        "step_columns_seconds": added["steps"],
        "parse_only_rate": objects / parse_seconds,
        "peak_rss_mib": kiai_rss / 2**20,
        "kiai_cpu_seconds": kiai_cpu,
        "rosu_cpu_seconds": rosu_cpu,
    }


if __name__ == "__main__":
    main()
