"""Benchmark: `kiai ingest replays` end to end, and kiai's .osr parser alone, vs osrparse's parse-only loop on
the same replays (frames/s).

    python bench/ingest_replays.py [--replays 2000]

Builds a corpus from the real fixture replays: each copy gets its own header (player, replay MD5, online
score id, date) around the fixture's own LZMA frame stream (as osu! wrote it), so every file is distinct.
Then, in the same run:

- `kiai ingest replays` of the corpus in a subprocess on a fresh warehouse (read, hash, parse in worker
  processes, land in DuckDB: the bar, >= 5x osrparse's parse-only rate), and of half of it, for its peak
  RSS at two corpus sizes (memory must not grow with the corpus);
- kiai's parser alone (`kiai.osu.replay.parse_many` in batches, one core) and osrparse (`Replay.from_path`),
  batch by batch in turn, and LZMA decoding alone of the same frame streams: the floor both parsers pay.

The end-to-end run is timed twice, before and after osrparse's, so a shared machine whose load drifts
weighs on both sides alike; the figure is their mean.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import lzma
import os
import shutil
import sys
import time
from datetime import timedelta
from pathlib import Path

from _figures import emit, figure  # bench/_figures.py: figures for `python -m bench`
from _process import measure  # bench/_process.py: a child's seconds, CPU seconds and true peak RSS

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "osr"
WORK = ROOT / "bench" / ".work" / "ingest_replays"
BAR = 5.0  # end to end (and so the parser alone) at >= 5x osrparse's parse-only rate
MEMORY_BAR = 1.5  # peak RSS at the full corpus over that at half of it
BATCH = 64  # replays per parse_many call, as a worker would get them


def build_corpus(folder: Path, n_replays: int) -> list[Path]:
    from kiai.osu.replay import frame_stream, parse_replay
    from kiai.osu.replay_writer import write_replay

    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    sources = []
    for path in sorted(FIXTURES.glob("*.osr")):
        data = path.read_bytes()
        sources.append((parse_replay(data), frame_stream(data)))
    paths = []
    for i in range(n_replays):
        replay, stream = sources[i % len(sources)]
        score_id = 1_500_000_000 + i  # (the 2014 replay stores its id as int32)
        copy = dataclasses.replace(
            replay,
            player=f"bench-{i}",
            replay_md5=hashlib.md5(f"bench {i}".encode()).hexdigest(),
            online_score_id=score_id,
            played_at=replay.played_at + timedelta(seconds=i),
        )
        path = folder / f"{score_id}.osr"
        path.write_bytes(write_replay(copy, frame_stream=stream))
        paths.append(path)
    return paths


def run_ingest(folder: Path, db: Path) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds and peak RSS (bytes, of the ingest or its largest worker) of one
    `kiai ingest replays` in a child process on a fresh warehouse."""
    db.unlink(missing_ok=True)
    run = measure([sys.executable, "-m", "kiai", "--db", str(db), "ingest", "replays", str(folder)])
    return run.seconds, run.cpu_seconds, int(run.peak_rss_mib * 2**20)


def count_frames(db: Path) -> int:
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("SELECT count(*) FROM parsed.replay_frames").fetchall()[0][0]


def run_kiai(paths: list[Path]) -> tuple[float, int]:
    from kiai.osu.replay import parse_many

    started = time.perf_counter()
    batch = parse_many([path.read_bytes() for path in paths])
    assert not any(batch.errors), batch.errors
    return time.perf_counter() - started, sum(replay.n_frames for replay in batch.replays if replay is not None)


def run_osrparse(paths: list[Path]) -> tuple[float, int]:
    import osrparse

    started = time.perf_counter()
    frames = sum(len(osrparse.Replay.from_path(path).replay_data) for path in paths)
    return time.perf_counter() - started, frames


def run_lzma(paths: list[Path]) -> tuple[float, int]:
    """Reading the files and decoding their frame streams, nothing else: what every parser pays."""
    from kiai.osu.replay import frame_stream

    started = time.perf_counter()
    for path in paths:
        lzma.decompress(frame_stream(path.read_bytes()), format=lzma.FORMAT_ALONE)
    return time.perf_counter() - started, 0


def run_interleaved(paths: list[Path]) -> dict[str, tuple[float, int]]:
    """Seconds and frames of each contender, batch by batch in turn, so that a machine whose load changes
    during the run weighs on all of them alike."""
    totals = {"kiai": [0.0, 0], "osrparse": [0.0, 0], "lzma": [0.0, 0]}
    for first in range(0, len(paths), BATCH):
        batch = paths[first : first + BATCH]
        for name, run in (("kiai", run_kiai), ("osrparse", run_osrparse), ("lzma", run_lzma)):
            seconds, frames = run(batch)
            totals[name][0] += seconds
            totals[name][1] += frames
    return {name: (seconds, frames) for name, (seconds, frames) in totals.items()}


def main() -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replays", type=int, default=2000)
    args = parser.parse_args()
    half = build_corpus(WORK / "half", args.replays // 2)
    paths = build_corpus(WORK / "corpus", args.replays)
    db = WORK / "bench.duckdb"
    megabytes = sum(path.stat().st_size for path in paths) / 2**20
    run_lzma(paths)  # warm the page cache for every contender
    _, _, half_rss = run_ingest(WORK / "half", db)
    first_seconds, first_cpu, first_rss = run_ingest(WORK / "corpus", db)
    landed = count_frames(db)
    times = run_interleaved(paths)
    second_seconds, second_cpu, second_rss = run_ingest(WORK / "corpus", db)
    ingest_seconds, ingest_cpu = (first_seconds + second_seconds) / 2, (first_cpu + second_cpu) / 2
    ingest_rss = max(first_rss, second_rss)
    (kiai_seconds, frames), (osrparse_seconds, osrparse_frames) = times["kiai"], times["osrparse"]
    lzma_seconds = times["lzma"][0]
    kiai_rate, osrparse_rate = frames / kiai_seconds, osrparse_frames / osrparse_seconds
    lzma_rate, ingest_rate = frames / lzma_seconds, landed / ingest_seconds
    print(f"corpus: {len(paths):,} replays, {megabytes:,.1f} MiB, {frames:,} frames (osrparse: {osrparse_frames:,})")
    print(
        f"kiai ingest replays (parse + land, end to end): {ingest_seconds:6.2f} s  {ingest_rate:12,.0f} frames/s "
        f"({first_seconds:.2f} s and {second_seconds:.2f} s; {ingest_cpu:.1f} CPU-s on {os.cpu_count()} cores; "
        f"{landed:,} frames landed)"
    )
    print(f"kiai parse only (one core):                     {kiai_seconds:6.2f} s  {kiai_rate:12,.0f} frames/s")
    print(f"osrparse parse only:                            {osrparse_seconds:6.2f} s  {osrparse_rate:12,.0f} frames/s")
    print(f"ratio end to end / osrparse: {ingest_rate / osrparse_rate:.2f}  (bar >= {BAR})")
    print(f"ratio parse only / osrparse: {kiai_rate / osrparse_rate:.2f}")
    print(
        f"LZMA decoding alone (both parsers pay it): {lzma_seconds:.2f} s, {lzma_rate:,.0f} frames/s: "
        f"no parser can beat osrparse by more than {lzma_rate / osrparse_rate:.1f}x on one core"
    )
    print(
        f"kiai ingest peak RSS: {half_rss / 2**20:,.0f} MiB at {len(half):,} replays, "
        f"{ingest_rss / 2**20:,.0f} MiB at {len(paths):,}"
    )
    emit(
        [
            figure(
                "ingest .osr end to end", ingest_rate, "frames/s", peer="osrparse parse only",
                peer_value=osrparse_rate, at_least=BAR,
            ),
            figure(
                "kiai .osr parse only, one core", kiai_rate, "frames/s", peer="osrparse parse only",
                peer_value=osrparse_rate, at_least=BAR,
            ),
            figure(
                "LZMA decoding alone (the ceiling)", lzma_rate, "frames/s", peer="osrparse parse only",
                peer_value=osrparse_rate,
            ),
            figure(
                "ingest .osr peak RSS", ingest_rss / 2**20, "MiB", peer=f"same at {len(half):,} replays",
                peer_value=half_rss / 2**20, at_most=MEMORY_BAR,
            ),
        ]
    )  # fmt: skip
    return {
        "ingest_rate": ingest_rate,
        "kiai_rate": kiai_rate,
        "osrparse_rate": osrparse_rate,
        "ratio": ingest_rate / osrparse_rate,
        "peak_rss_mib": ingest_rss / 2**20,
    }


if __name__ == "__main__":
    main()
