"""Benchmark: import a generated mysqldump of `scores` + `osu_beatmaps` and compare with DuckDB's read_csv.

    .venv/bin/python bench/import_dump.py                  # 2 M score rows (about 730 MB of SQL)
    .venv/bin/python bench/import_dump.py --rows 200000    # a quick run
    .venv/bin/python bench/import_dump.py --tar            # also the .tar.bz2 path, per bz2 decompressor
    .venv/bin/python bench/import_dump.py --memory         # also 4x the rows (8 M): peak RSS stays flat

Data goes to bench/.work/ (kept between runs; generation is skipped when the files exist). The dump
uses the fixture dump's real header, CREATE TABLE and trailer text; rows are synthetic but shaped like
data.ppy.sh's (a `data` JSON column with escaped quotes, NULLs, timestamps, floats). A second dump holds
the same rows, except that one in 2,000 has hard text (a quote, a backslash, a newline, a tab, raw UTF-8 or a
`\\uXXXX` JSON escape) in its mod settings and beatmap names: its rate must stay within 0.9x. The import runs
as the real CLI in a subprocess, so its peak RSS is measured alone. The ceiling is DuckDB's own
read_csv of the same rows written as CSV, into a table with the same column types.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
from _figures import emit, figure  # bench/_figures.py: figures for `python -m bench`
from _process import measure  # bench/_process.py: a child's seconds, CPU seconds and true peak RSS

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "ppy_dump" / "2026_11_01_performance_osu_top_1000"
MARIADB = {"seconds": 45.0, "rows": 2_000_000, "mb": 729.0}  # MariaDB 10.11 tuned for bulk load, this machine
LINE_BYTES = 1_000_000  # mysqldump starts a new INSERT near net_buffer_length (1 MB)
MODS = ["HD", "DT", "HR", "NC", "FL", "EZ", "NF", "SD", "PF", "CL"]
RANKS = ["XH", "X", "SH", "S", "A", "B", "C", "D"]
HARD_EVERY = 2_000  # one row in HARD_EVERY holds hard text in the second dump
STATS = ["ok", "meh", "miss", "great", "small_bonus", "large_bonus", "large_tick_hit", "slider_tail_hit"]


def _parts(table: str) -> tuple[str, str]:
    """The fixture file's text before its INSERT line and after it."""
    text = (FIXTURE / f"{table}.sql").read_text("utf-8")
    start = text.index(f"INSERT INTO `{table}` VALUES")
    end = text.index("\n", start) + 1
    return text[:start], text[end:]


def _ts(rng: random.Random) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(rng.randrange(1_500_000_000, 1_790_000_000)))


class Raw(str):
    """A value written as it is (a number or NULL); any other `str` is a string value, quoted and escaped."""


NULL = Raw("NULL")
# What mysqldump escapes in a string (mysql_real_escape_string), and a tab as \t: mysqldump leaves it raw, but
# other writers escape it, and MySQL reads both.
_SQL_ESCAPES = str.maketrans(
    {"\\": "\\\\", "'": "\\'", '"': '\\"', "\n": "\\n", "\r": "\\r", "\0": "\\0", "\x1a": "\\Z", "\t": "\\t"}
)
# Text players write into names, titles and mod settings: a quote, a backslash, a newline, a tab, raw UTF-8.
HARD_TEXT = ["Don't stop", "back\\slash", "two\nlines", "tab\there", "東方 ★ café", 'say "hi"']


def _sql(value: str) -> str:
    return value if isinstance(value, Raw) else "'" + value.translate(_SQL_ESCAPES) + "'"


def _csv(value: str) -> str:
    if isinstance(value, Raw):
        return "" if value == "NULL" else value
    return '"' + value.replace('"', '""') + '"'


def _hard(i: int, every: int) -> str | None:
    """The hard text of row i in a dump with one hard row in `every` (None: a plain row)."""
    if not every or i % every != every // 2:
        return None
    return HARD_TEXT[(i // every) % len(HARD_TEXT)]


def _score(i: int, rng: random.Random, beatmaps: int, hard: str | None) -> list[str]:
    mods = [{"acronym": m} for m in rng.sample(MODS, rng.randrange(0, 4))]
    if "DT" in [m["acronym"] for m in mods] and rng.random() < 0.3:
        mods[[m["acronym"] for m in mods].index("DT")]["settings"] = {"speed_change": 1.25}
    if hard is not None:
        mods.append({"acronym": "DA", "settings": {"note": hard}})
    stats = {k: rng.randrange(1, 1500) for k in rng.sample(STATS, rng.randrange(2, 7))}
    maxs = {k: v + rng.randrange(0, 50) for k, v in stats.items() if k != "miss"}
    data = json.dumps({"mods": mods, "statistics": stats, "maximum_statistics": maxs}, ensure_ascii=False)
    if hard is not None and hard.isascii():
        data = data.replace('"DA"', '"D\\u0041"')  # a \\uXXXX escape, as API-written JSON has
    legacy = rng.random() < 0.4
    ended = _ts(rng)
    return [
        Raw(1_000_000_000 + i * 3),
        Raw(rng.randrange(2, 30_000_000)),
        Raw(0),
        Raw(rng.randrange(1, beatmaps + 1)),
        Raw(rng.randrange(2)),
        Raw(1),
        Raw(1),
        rng.choice(RANKS),
        Raw(1),
        Raw(f"{rng.uniform(0.6, 1):.6g}"),
        Raw(rng.randrange(1, 3000)),
        Raw(rng.randrange(100_000, 1_300_000)),
        data,
        Raw(f"{rng.uniform(10, 900):.6g}") if rng.random() < 0.95 else NULL,
        Raw(rng.randrange(1, 5_000_000_000)) if legacy else NULL,
        Raw(rng.randrange(0, 90_000_000)) if legacy else Raw(0),
        NULL if legacy else ended,
        ended,
        Raw(rng.randrange(1_600_000_000, 1_790_000_000)),
        NULL if legacy else Raw(rng.randrange(5000, 9000)),
    ]


def _beatmap(i: int, rng: random.Random, hard: str | None) -> list[str]:
    artist = rng.choice(["xi", "Camellia", "nano", "DragonForce", "Mili", "t+pazolite", "Team Grimoire"])
    version = rng.choice(["Insane", "Extra", "Hard", "Expert", "Skystar's Insane", "Another"])
    if hard is not None:
        version = f"{hard}'s {version}"
    return [
        Raw(i),
        Raw(i // 4 + 1),
        Raw(rng.randrange(2, 30_000_000)),
        f"{artist} - Song {i} (mapper) [{version}].osu",
        f"{rng.getrandbits(128):032x}",
        version,
        *(Raw(rng.randrange(30, 600)) for _ in range(2)),
        *(Raw(rng.randrange(0, 2000)) for _ in range(4)),
        *(Raw(f"{rng.uniform(2, 10):.2g}") for _ in range(4)),
        Raw(0),
        Raw(rng.choice([1, 2, 4])),
        _ts(rng),
        Raw(f"{rng.uniform(1, 10):.6g}"),
        Raw(rng.randrange(100, 3000)),
        Raw(rng.randrange(0, 10_000_000)),
        Raw(rng.randrange(0, 1_000_000)),
        NULL,
        Raw(1),
        NULL,
        Raw(f"{rng.uniform(60, 300):.6g}"),
    ]


def _write(table: str, folder: Path, rows) -> int:
    """Write `table`.sql (mysqldump layout) and `table`.csv; return the row count."""
    head, tail = _parts(table)
    count = 0
    with (
        (folder / f"{table}.sql").open("w", encoding="utf-8") as sql,
        (folder / f"{table}.csv").open("w", encoding="utf-8") as csv,
    ):
        sql.write(head)
        line: list[str] = []
        size = 0
        for values in rows:
            tuple_text = "(" + ",".join(_sql(v) for v in values) + ")"
            line.append(tuple_text)
            size += len(tuple_text) + 1
            csv.write(",".join(_csv(v) for v in values) + "\n")
            count += 1
            if size >= LINE_BYTES:
                sql.write(f"INSERT INTO `{table}` VALUES " + ",".join(line) + ";\n")
                line, size = [], 0
        if line:
            sql.write(f"INSERT INTO `{table}` VALUES " + ",".join(line) + ";\n")
        sql.write(tail)
    return count


def generate(folder: Path, rows: int, beatmaps: int, hard_every: int = 0) -> None:
    """The benchmark dump; with `hard_every`, the same rows but one in `hard_every` holds hard text."""
    if (folder / "done").exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7562902)
    started = time.monotonic()
    _write("scores", folder, (_score(i, rng, beatmaps, _hard(i, hard_every)) for i in range(rows)))
    _write("osu_beatmaps", folder, (_beatmap(i, rng, _hard(i, hard_every)) for i in range(1, beatmaps + 1)))
    (folder / "done").touch()
    kind = f", 1 row in {hard_every:,} with hard text" if hard_every else ""
    print(f"generated {rows:,} scores + {beatmaps:,} beatmaps{kind} in {time.monotonic() - started:.0f} s", flush=True)


def run_import(db: Path, target: Path, env: dict[str, str] | None = None) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of `kiai import ppy-dump target` in a fresh warehouse."""
    for suffix in ("", ".wal"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    command = [sys.executable, "-m", "kiai", "--db", str(db), "import", "ppy-dump", str(target)]
    run = measure(command, env={**os.environ, **(env or {})})
    sys.stdout.write(run.stdout)  # the import's own summary, as before
    return run.seconds, run.peak_rss_mib


def read_csv_ceiling(folder: Path, db: Path) -> float:
    """Seconds DuckDB takes to load the same rows from CSV into tables of the same column types."""
    for suffix in ("", ".wal"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    types = duckdb.connect(str(folder.parent / "import.duckdb"), read_only=True)
    specs = {}
    for table in ("scores", "osu_beatmaps"):
        cols = types.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'ppy' "
            "AND table_name = ? ORDER BY ordinal_position",
            [table],
        ).fetchall()
        specs[table] = cols
    types.close()
    con = duckdb.connect(str(db))
    started = time.monotonic()
    for table, cols in specs.items():
        columns = ", ".join(f"'{name}': '{kind}'" for name, kind in cols)
        con.execute(
            f"CREATE TABLE {table} AS SELECT * FROM read_csv('{folder / (table + '.csv')}', header=false, "
            f"auto_detect=false, columns={{{columns}}})"
        )
    seconds = time.monotonic() - started
    con.close()
    return seconds


def decompress_rate(archive: Path, method: str) -> float:
    from kiai.load.ppy_dump.streams import Meter, bz2_stream

    started = time.monotonic()
    total = 0
    with bz2_stream(archive, Meter(), method) as stream:
        while data := stream.read(8 << 20):
            total += len(data)
    return total / 1e6 / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000, help="score rows")
    parser.add_argument("--beatmaps", type=int, default=100_000, help="osu_beatmaps rows")
    parser.add_argument("--tar", action="store_true", help="also import the .tar.bz2 with each decompressor")
    parser.add_argument("--memory", action="store_true", help="also import a dump 4x as large: peak RSS of both")
    parser.add_argument("--repeat", type=int, default=2, help="imports of each dump, in turns (the best counts)")
    args = parser.parse_args()

    work = ROOT / "bench" / ".work" / "import_dump"
    folder = work / f"2026_11_01_bench_{args.rows}"
    hard = work / f"2026_11_01_bench_{args.rows}_hard_{HARD_EVERY}"
    generate(folder, args.rows, args.beatmaps)
    generate(hard, args.rows, args.beatmaps, HARD_EVERY)
    sql_files = [folder / "scores.sql", folder / "osu_beatmaps.sql"]
    sql_mb = sum(f.stat().st_size for f in sql_files) / 1e6
    rows = args.rows + args.beatmaps

    # The two dumps take turns, best of --repeat each: a shared machine whose load changes weighs on both alike.
    runs: dict[Path, list[tuple[float, float]]] = {folder: [], hard: []}
    for _ in range(args.repeat):
        for dump in runs:
            runs[dump].append(run_import(work / "import.duckdb", dump))
    (seconds, rss), (hard_seconds, hard_rss) = ((min(t for t, _ in r), max(m for _, m in r)) for r in runs.values())
    ceiling = read_csv_ceiling(folder, work / "csv.duckdb")

    load = os.getloadavg()[0]  # the machine is shared: a busy neighbour slows both measurements
    rate, hard_rate = rows / seconds, rows / hard_seconds
    mariadb_rate = MARIADB["rows"] / MARIADB["seconds"]
    print(f"dump: {rows:,} rows ({args.rows:,} scores + {args.beatmaps:,} beatmaps), {sql_mb:,.0f} MB of SQL")
    print(f"machine: {os.cpu_count()} cores, load average {load:.1f} at the end of the runs")
    print(f"kiai import ppy-dump : {seconds:6.1f} s  {rate:>10,.0f} rows/s  {sql_mb / seconds:6.1f} MB/s", end="")
    print(f"  peak RSS {rss:,.0f} MiB")
    print(f"  hard rows 1/{HARD_EVERY:,}  : {hard_seconds:6.1f} s  {hard_rate:>10,.0f} rows/s", end="")
    print(f"  peak RSS {hard_rss:,.0f} MiB  (quotes, backslashes, newlines, tabs, UTF-8, \\u escapes)")
    print(f"DuckDB read_csv      : {ceiling:6.1f} s  {rows / ceiling:>10,.0f} rows/s  (same rows as CSV, same types)")
    mariadb_mbps = MARIADB["mb"] / MARIADB["seconds"]
    print(
        f"MariaDB 10.11 (ref)  : {MARIADB['seconds']:6.1f} s  {mariadb_rate:>10,.0f} rows/s  {mariadb_mbps:6.1f} MB/s"
    )
    print(f"ratios: hard rows {hard_rate / rate:.2f}x the clean dump (bar 0.9x)", end="")
    print(f"   {hard_rate / mariadb_rate:.1f}x MariaDB (bar 5x)", end="")
    print(f"   {ceiling / seconds:.0%} of the read_csv ceiling (bar 50%)")
    figures = [
        figure(
            "import ppy-dump", rate, "rows/s", peer="DuckDB read_csv, same rows (ceiling)",
            peer_value=rows / ceiling, at_least=0.5,
        ),
        figure(
            f"import ppy-dump, 1 row in {HARD_EVERY:,} hard", hard_rate, "rows/s", peer="the same dump without them",
            peer_value=rate, at_least=0.9,
        ),
        figure(
            "import ppy-dump vs MariaDB", hard_rate, "rows/s", peer="MariaDB 10.11 LOAD (recorded)",
            peer_value=mariadb_rate, at_least=5,
        ),
    ]  # fmt: skip
    if args.memory:
        big_rows = 4 * args.rows
        big = work / f"2026_11_01_bench_{big_rows}"
        generate(big, big_rows, args.beatmaps)
        big_seconds, big_rss = run_import(work / "import.duckdb", big)
        print(
            f"memory: peak RSS {rss:,.0f} MiB at {args.rows:,} scores, {big_rss:,.0f} MiB at {big_rows:,} scores",
            end="",
        )
        print(f" ({big_rows + args.beatmaps:,} rows in {big_seconds:.1f} s)")
        figures.append(
            figure(
                f"peak RSS at {big_rows:,} scores", big_rss, "MiB", peer=f"at {args.rows:,} scores",
                peer_value=rss, at_most=1.25,
            )
        )  # fmt: skip
    emit(figures)

    if args.tar:
        from kiai.load.ppy_dump.streams import available_decompressors

        sql_only = work / "sql"
        shutil.rmtree(sql_only, ignore_errors=True)
        sql_only.mkdir()
        for f in sql_files:
            os.link(f, sql_only / f.name)
        archive = work / f"{folder.name}.tar.bz2"
        if not archive.exists():
            tmp = archive.with_suffix(".tmp")
            with tmp.open("wb") as out:
                tar = subprocess.Popen(["tar", "-c", "-C", str(work), "sql"], stdout=subprocess.PIPE)
                packer = shutil.which("lbzip2") or "bzip2"
                subprocess.run([packer, "-c"], stdin=tar.stdout, stdout=out, check=True)
                tar.wait()
            tmp.rename(archive)
        print(f"archive: {archive.stat().st_size / 1e6:,.0f} MB .tar.bz2")
        for method in available_decompressors():
            mbps = decompress_rate(archive, method)
            seconds, rss = run_import(work / "import.duckdb", archive, {"KIAI_BZ2": method})
            print(
                f"  {method:14s} decompress {mbps:6.1f} MB/s   import {seconds:6.1f} s  {rows / seconds:>10,.0f} rows/s"
                f"  peak RSS {rss:,.0f} MiB"
            )


if __name__ == "__main__":
    main()
