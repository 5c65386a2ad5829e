"""Benchmark: `kiai export lake` against DuckDB's own `COPY … TO parquet` of the same tables, in the same run.

Synthesises parsed.* as bench/build_features.py does (default 20,000 maps x 500 hit objects = 10 M hit objects)
and a ppy.scores of `--scores` rows with the dump's types (UBIGINT ids, TIMESTAMPs, ruleset_id), then, each
export in a process of its own (so that its peak RSS is its own) and rounds interleaved:
  * the peer: a plain `COPY <table> TO '<file>.parquet' (FORMAT parquet)` of every one of those tables, best
    of 3 runs
  * kiai's export of the same tables, best of 3 (lake types, zstd, partitions, fingerprints, manifest): rows/s and MB/s
    of Parquet written (bar: >= 0.5x the peer's rows/s); MB/s is of each one's own files (zstd writes fewer bytes)
  * a re-export of the unchanged lake (every table skipped by fingerprint)
  * memory flat in table size: kiai's export of a corpus a quarter the size, its peak RSS against the full one's

    .venv/bin/python bench/export_lake.py [--maps 20000] [--objects-per-map 500] [--scores 2000000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _figures import emit, figure  # bench/_figures.py: figures for `python -m bench`
from _process import measure  # bench/_process.py: a child's seconds, CPU seconds and true peak RSS
from build_features import synthesise  # the same synthetic parsed.* corpus

from kiai import warehouse
from kiai.load import ensure_tables
from kiai.transform.lake import export_lake, lake_tables

RATIO_BAR = 0.5
RSS_BAR = 1.25  # the full corpus' peak RSS at most this times the quarter's: flat in table size
ROUNDS = 3


def synthesise_scores(con, rows: int) -> None:
    con.execute(
        """
        CREATE OR REPLACE TABLE ppy.scores AS  -- ensure_tables made it empty (as before a dump)
        SELECT (7300000000 + i)::UBIGINT AS id, (96000000 + i % 5000)::BIGINT AS user_id,
               (i % 4)::UTINYINT AS ruleset_id, (i % 20000 + 1)::UINTEGER AS beatmap_id,
               i % 3 = 0 AS has_replay, 0.9 + (i % 100) / 1000 AS accuracy, (i * 7919 % 1000000)::BIGINT AS total_score,
               TIMESTAMP '2026-01-01' + INTERVAL (i) SECOND AS ended_at, (i % 700)::DOUBLE AS pp
        FROM range($rows) r(i)
        """,
        {"rows": rows},
    )
    con.execute("CHECKPOINT")


def synthesise_world(path: Path, maps: int, per_map: int, scores: int) -> tuple[list[str], int, int]:
    """A warehouse at `path` with the synthetic corpus: its lake tables, their rows, and hit objects."""
    con = warehouse.connect(path)
    try:
        ensure_tables(con)
        objects = synthesise(con, maps, per_map)
        synthesise_scores(con, scores)
        relations = [t.relation for t in lake_tables(con)]
        rows = sum(con.execute(f"SELECT count(*) FROM {r}").fetchall()[0][0] for r in relations)
    finally:
        con.close()
    return relations, rows, objects


def peer_copy(con, folder: Path, relations: list[str]) -> int:
    """DuckDB's own COPY of each table to one Parquet file, default options: the bytes written."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    for relation in relations:
        con.execute(f"COPY {relation} TO '{folder / relation}.parquet' (FORMAT parquet)")
    return sum(p.stat().st_size for p in folder.iterdir())


def run_export(which: str, db: Path, out: Path) -> dict:
    """One export (`kiai` or `peer`) in a fresh process: its seconds, bytes written, tables skipped, peak RSS."""
    run = measure([sys.executable, __file__, "--child", which, str(db), str(out)])
    return {**json.loads(run.stdout.splitlines()[-1]), "rss_mb": run.peak_rss_mib}


def child(which: str, db: Path, out: Path) -> None:
    con = warehouse.connect(db, read_only=True)
    started = time.perf_counter()
    if which == "peer":
        written, skipped, tables = peer_copy(con, out, [t.relation for t in lake_tables(con)]), 0, []
    else:
        report = export_lake(con, out)
        written = sum(t.bytes for t in report.written)
        skipped = len(report.tables) - len(report.written)
        tables = [(t.relation, t.rows, t.bytes, t.seconds) for t in report.written]
    seconds = time.perf_counter() - started
    con.close()
    print(json.dumps({"seconds": seconds, "bytes": written, "skipped": skipped, "tables": tables}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--maps", type=int, default=20_000)
    parser.add_argument("--objects-per-map", type=int, default=500)
    parser.add_argument("--scores", type=int, default=2_000_000)
    parser.add_argument("--child", nargs=3, metavar=("WHICH", "DB", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), Path(args.child[2]))
        return
    with tempfile.TemporaryDirectory(prefix="kiai-bench-") as tmp:
        full, quarter, lake = Path(tmp) / "full.duckdb", Path(tmp) / "quarter.duckdb", Path(tmp) / "lake"
        started = time.perf_counter()
        relations, rows, objects = synthesise_world(full, args.maps, args.objects_per_map, args.scores)
        _, quarter_rows, _ = synthesise_world(quarter, args.maps // 4, args.objects_per_map, args.scores // 4)
        print(
            f"corpus: {objects:,} hit objects, {args.scores:,} scores; {len(relations)} tables, {rows:,} rows "
            f"(and a quarter: {quarter_rows:,} rows; synthesised in {time.perf_counter() - started:.1f} s)"
        )
        peer = kiai = None
        for _ in range(ROUNDS):  # interleaved, best of each: a shared machine's load weighs on both alike
            this_peer = run_export("peer", full, Path(tmp) / "peer")
            shutil.rmtree(lake, ignore_errors=True)
            this = run_export("kiai", full, lake)
            peer = this_peer if peer is None or this_peer["seconds"] < peer["seconds"] else peer
            kiai = this if kiai is None or this["seconds"] < kiai["seconds"] else kiai
        again = run_export("kiai", full, lake)
        assert again["bytes"] == 0 and again["skipped"] == len(relations), again
        small = run_export("kiai", quarter, Path(tmp) / "quarter_lake")
    assert peer is not None and kiai is not None
    seconds, peer_seconds = kiai["seconds"], peer["seconds"]
    rate, peer_rate = rows / seconds, rows / peer_seconds
    print(
        f"DuckDB COPY ... TO parquet: {peer_seconds:.2f} s, {peer_rate / 1e6:.2f} M rows/s, "
        f"{peer['bytes'] / peer_seconds / 1e6:.0f} MB/s ({peer['bytes'] / 1e6:.0f} MB, snappy)"
    )
    print(
        f"kiai export lake: {seconds:.2f} s, {rate / 1e6:.2f} M rows/s, {kiai['bytes'] / seconds / 1e6:.0f} MB/s "
        f"({kiai['bytes'] / 1e6:.0f} MB, zstd) = {rate / peer_rate:.2f}x the peer's rows/s (bar >= {RATIO_BAR:g}x)"
    )
    for relation, table_rows, size, table_seconds in kiai["tables"]:
        print(f"  {relation}: {table_rows:,} rows, {size / 1e6:.1f} MB in {table_seconds:.2f} s")
    print(f"re-export of the unchanged lake: {again['seconds']:.2f} s (every table skipped)")
    print(
        f"peak RSS of the export: {small['rss_mb']:.0f} MB for {quarter_rows:,} rows, {kiai['rss_mb']:.0f} MB for "
        f"{rows:,} rows (the peer's COPY: {peer['rss_mb']:.0f} MB)"
    )
    emit(
        [
            figure(
                "kiai export lake",
                rate,
                "rows/s",
                peer="DuckDB COPY TO parquet",
                peer_value=peer_rate,
                at_least=RATIO_BAR,
            ),
            figure(
                "kiai export lake, MB/s",
                kiai["bytes"] / seconds / 1e6,
                "MB/s",
                peer="DuckDB COPY TO parquet",
                peer_value=peer["bytes"] / peer_seconds / 1e6,
            ),
            figure("re-export, unchanged", again["seconds"], "s", peer="the export", peer_value=seconds),
            figure(
                "export peak RSS, 4x the rows",
                kiai["rss_mb"],
                "MB",
                peer="a quarter of the rows",
                peer_value=small["rss_mb"],
                at_most=RSS_BAR,
            ),
        ]
    )


if __name__ == "__main__":
    main()
