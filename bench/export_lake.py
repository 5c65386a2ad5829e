"""Benchmark: `kiai export lake` against DuckDB's own `COPY … TO parquet` of the same tables, in the same run.

Synthesises parsed.* as bench/build_features.py does (default 20,000 maps x 500 hit objects = 10 M hit objects)
and a ppy.scores of `--scores` rows with the dump's types (UBIGINT ids, TIMESTAMPs, ruleset_id), then:
  * the peer: a plain `COPY <table> TO '<file>.parquet' (FORMAT parquet)` of every one of those tables, best
    of 3 runs interleaved with kiai's
  * kiai's export of the same tables, best of 3 (lake types, zstd, partitions, fingerprints, manifest): rows/s and MB/s
    of Parquet written, wall time end to end (bar: >= 0.5x the peer's rows/s)
  * a re-export of the unchanged lake (every table skipped by fingerprint), and the peak RSS of the process

    .venv/bin/python bench/export_lake.py [--maps 20000] [--objects-per-map 500] [--scores 2000000]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

from _figures import emit, figure  # bench/_figures.py: figures for `python -m bench`
from build_features import synthesise  # the same synthetic parsed.* corpus

from kiai import warehouse
from kiai.load import ensure_tables
from kiai.transform.lake import export_lake, lake_tables

RATIO_BAR = 0.5
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


def peer_copy(con, folder: Path, relations: list[str]) -> tuple[float, int]:
    """DuckDB's own COPY of each table to one Parquet file, default options: seconds and bytes written."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    started = time.perf_counter()
    for relation in relations:
        con.execute(f"COPY {relation} TO '{folder / relation}.parquet' (FORMAT parquet)")
    seconds = time.perf_counter() - started
    return seconds, sum(p.stat().st_size for p in folder.iterdir())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--maps", type=int, default=20_000)
    parser.add_argument("--objects-per-map", type=int, default=500)
    parser.add_argument("--scores", type=int, default=2_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kiai-bench-") as tmp:
        con = warehouse.connect(Path(tmp) / "bench.duckdb")
        ensure_tables(con)
        started = time.perf_counter()
        objects = synthesise(con, args.maps, args.objects_per_map)
        synthesise_scores(con, args.scores)
        relations = [t.relation for t in lake_tables(con)]
        rows = sum(con.execute(f"SELECT count(*) FROM {r}").fetchall()[0][0] for r in relations)
        print(
            f"corpus: {objects:,} hit objects, {args.scores:,} scores; {len(relations)} tables, {rows:,} rows "
            f"(synthesised in {time.perf_counter() - started:.1f} s)"
        )
        peer_seconds = seconds = float("inf")
        for _ in range(ROUNDS):  # interleaved, best of each: a shared machine's load weighs on both alike
            peer_time, peer_bytes = peer_copy(con, Path(tmp) / "peer", relations)
            peer_seconds = min(peer_seconds, peer_time)
            shutil.rmtree(Path(tmp) / "lake", ignore_errors=True)
            started = time.perf_counter()
            report = export_lake(con, Path(tmp) / "lake")
            seconds = min(seconds, time.perf_counter() - started)
        lake_bytes = sum(t.bytes for t in report.tables)
        started = time.perf_counter()
        again = export_lake(con, Path(tmp) / "lake")
        noop = time.perf_counter() - started
        assert not again.written, [t.relation for t in again.written]
        con.close()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rate, peer_rate = rows / seconds, rows / peer_seconds
    print(
        f"DuckDB COPY ... TO parquet: {peer_seconds:.2f} s, {peer_rate / 1e6:.2f} M rows/s, "
        f"{peer_bytes / peer_seconds / 1e6:.0f} MB/s ({peer_bytes / 1e6:.0f} MB, snappy)"
    )
    print(
        f"kiai export lake: {seconds:.2f} s, {rate / 1e6:.2f} M rows/s, {lake_bytes / seconds / 1e6:.0f} MB/s "
        f"({lake_bytes / 1e6:.0f} MB, zstd) = {rate / peer_rate:.2f}x the peer's rows/s (bar >= {RATIO_BAR:g}x)"
    )
    for table in report.tables:
        print(f"  {table.relation}: {table.rows:,} rows, {table.bytes / 1e6:.1f} MB in {table.seconds:.2f} s")
    print(f"re-export of the unchanged lake: {noop:.2f} s (every table skipped); peak RSS {rss:.0f} MB")
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
                lake_bytes / seconds / 1e6,
                "MB/s",
                peer="DuckDB COPY TO parquet",
                peer_value=peer_bytes / peer_seconds / 1e6,
            ),
            figure("re-export, unchanged", noop, "s", peer="the export", peer_value=seconds),
            figure("peak RSS", rss, "MB"),
        ]
    )


if __name__ == "__main__":
    main()
