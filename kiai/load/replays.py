"""Land `.osr` replays: raw bytes in `raw.replays`, the header in `parsed.replays`, frames in
`parsed.replay_frames`, unusable files in `parsed.replay_errors` (kiai/schema/replays.sql).

A replay is keyed by the md5 of its bytes: the same bytes twice add nothing (bytes fetched later by a
score id fill the ids the first landing lacked). Each batch lands in one transaction, so an
interrupted run keeps every finished batch and re-running finishes the job. No file stops a run.

Parsing runs in worker processes (as for `.osu` files, kiai.load.osu_files): this process reads and
hashes files, draws each new replay's `replay_id`, and lands finished batches in order; the workers
parse one replay at a time and write its frames to an Arrow file beside the warehouse, which this
process reads a record batch at a time. Memory stays bounded by a batch's bytes and about four million
frames (or one replay's, when it has more), whatever the files decompress to: twelve replays of 7.8 M
frames each (10 kB files) land with a 0.6 GB peak. The workers are not niced:
parsing, not landing, is the critical path (about 2.5 CPU-seconds of parsing per one of landing).

Published replay dumps (o!rdr's layout, kiai.load.replay_sources) land their replays, their `.osu`
files (through the `.osu` ingest) and their index, as `raw.replay_dump_index`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from kiai import schema
from kiai.config import Limits
from kiai.errors import KiaiError
from kiai.load.pipeline import (
    cut_batches,
    default_workers,
    error_rows,
    insert,
    known_refusals,
    run_batches,
    start_worker,
)
from kiai.load.replay_sources import ReplayDump, ReplaySource, expand, read_sources
from kiai.osu.replay import FIRST_LAZER_VERSION, MODES, REPLAY_PARSER_VERSION, Replay, parse_many
from kiai.quoting import identifier
from kiai.warehouse import column_names, transaction

BATCH_FILES = 256
BATCH_BYTES = 32 * 2**20
FRAMES_PER_CHUNK = 1 << 22  # frames per record batch a worker writes (DuckDB lands 1 M-frame ones with +15 % CPU)
NO_BYTES_MD5 = hashlib.md5(b"").hexdigest()  # the md5 of a refused input's error row: none of it was kept
DUMP_INDEX_TABLE = "raw.replay_dump_index"
_SPOOLED = itertools.count()

LIFE_POINT = pa.struct([("time_ms", pa.int64()), ("life", pa.float64())])
REPLAY_SCHEMA = pa.schema(
    [
        ("replay_id", pa.int32()), ("md5", pa.string()), ("score_id", pa.int64()), ("legacy_score_id", pa.int64()),
        ("beatmap_md5", pa.string()), ("mode", pa.int8()), ("ruleset", pa.string()), ("game_version", pa.int32()),
        ("player", pa.string()), ("replay_md5", pa.string()),
        ("n300", pa.int32()), ("n100", pa.int32()), ("n50", pa.int32()),
        ("ngeki", pa.int32()), ("nkatu", pa.int32()), ("nmiss", pa.int32()),
        ("score", pa.int64()), ("max_combo", pa.int32()), ("perfect", pa.bool_()),
        ("mods", pa.int64()), ("mod_acronyms", pa.list_(pa.string())), ("played_at", pa.timestamp("us")),
        ("life_bar", pa.list_(LIFE_POINT)), ("rng_seed", pa.int32()), ("n_frames", pa.int32()),
        ("score_info", pa.string()), ("parser_version", pa.int32()),
    ]
)  # fmt: skip
FRAME_SCHEMA = pa.schema(
    [
        ("replay_id", pa.int32()), ("frame_index", pa.int32()), ("time_ms", pa.int64()),
        ("x", pa.float32()), ("y", pa.float32()), ("keys", pa.int32()),
    ]
)  # fmt: skip


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the replay landing tables that do not exist yet (idempotent)."""
    schema.create_replay_tables(con)


@dataclass
class ReplayIngestSummary:
    files_seen: int = 0
    files_total: int | None = None  # when known before the run (no zip archives among the inputs)
    replays_added: int = 0
    replays_unchanged: int = 0
    parse_errors: int = 0
    frames: int = 0
    bytes_read: int = 0
    seconds: float = 0.0
    error_examples: list[str] = field(default_factory=list)
    dumps: list[str] = field(default_factory=list)  # lines about the published dumps landed with the replays

    def line(self) -> str:
        seconds = max(self.seconds, 1e-9)
        return (
            f"{self.files_seen:,} replays: {self.replays_added:,} added, {self.replays_unchanged:,} unchanged, "
            f"{self.parse_errors:,} could not be parsed; {self.frames:,} frames in {self.seconds:.1f} s "
            f"({self.replays_added / seconds:,.0f} replays/s, {self.frames / seconds:,.0f} frames/s)"
        )


ProgressCallback = Callable[[ReplayIngestSummary], None]


def ingest_paths(
    con: duckdb.DuckDBPyConnection,
    inputs: list[str | Path],
    on_progress: ProgressCallback | None = None,
    limits: Limits | None = None,
    workers: int | None = None,
) -> ReplayIngestSummary:
    """Ingest replay files, folders, globs, zip archives and published replay dumps (their `.osu` files
    and index too)."""
    limits = limits or Limits()
    found = expand(inputs)
    dump_lines = [land_dump_extras(con, dump, limits) for dump in found.dumps]
    total = None if any(p.suffix.lower() == ".zip" for p in found.paths) else len(found.paths)
    sources = read_sources(found.paths, limits.replay_file_bytes)
    summary = ingest_sources(con, sources, on_progress, workers, total)
    for dump in found.dumps:
        link_dump_index(con, dump)
    summary.dumps = dump_lines
    return summary


def ingest_sources(
    con: duckdb.DuckDBPyConnection,
    sources: Iterable[ReplaySource],
    on_progress: ProgressCallback | None = None,
    workers: int | None = None,
    total: int | None = None,
) -> ReplayIngestSummary:
    """Ingest `.osr` bytes batch by batch; `workers` processes parse (default: one per core, started only
    when more than one batch comes; 0 parses in this process). `total`: how many sources come, if known."""
    ensure_tables(con)
    summary = ReplayIngestSummary(files_total=total)
    started = time.perf_counter()
    submitted: set[str] = set()

    def prepare(batch: list[ReplaySource], pool: ProcessPoolExecutor | None, spool: Path | None) -> _Pending:
        return _prepare_batch(con, batch, submitted, pool, spool)

    def land(pending: _Pending) -> None:
        _land_batch(con, pending, summary)
        summary.seconds = time.perf_counter() - started
        if on_progress:
            on_progress(summary)

    try:
        # frames go to a file as they are parsed, also in this process, so memory stays flat
        run_batches(
            con,
            cut_batches(sources, BATCH_FILES, BATCH_BYTES),
            prepare,
            land,
            default_workers() if workers is None else workers,
            "replays",
            start_worker,  # not niced: parsing (LZMA and the frame text), not landing, is the critical path
            always_spool=True,
        )
    finally:
        summary.seconds = time.perf_counter() - started
    return summary


@dataclass
class _Landing:
    """A parsed batch: which new files land (indexes), their ids, their errors, and their rows."""

    good: list[int]
    ids: list[tuple[int | None, int | None]]  # (score_id, legacy_score_id) of each good file
    errors: list[tuple[int, str]]
    frames: int
    replays: pa.Table | None
    frame_rows: pa.Table | str | None  # the frames, or the Arrow file a worker wrote them to

    def frame_rows_toinsert(self) -> pa.Table | pa.RecordBatchReader | None:
        """The frames; from a worker's file, a record batch at a time (a mapped file would stay resident as
        DuckDB scans it, as large as the batch's frames)."""
        rows = self.frame_rows
        if not isinstance(rows, str):
            return rows
        source = pa.ipc.open_file(pa.OSFile(rows))
        batches = (source.get_batch(i) for i in range(source.num_record_batches))
        return pa.RecordBatchReader.from_batches(FRAME_SCHEMA, batches)

    def discard(self) -> None:
        if isinstance(self.frame_rows, str):
            Path(self.frame_rows).unlink(missing_ok=True)


@dataclass
class _Pending:
    """A batch on its way: its new files (md5, source), their parse (done or in a worker), the refused
    inputs not recorded before, and ids to fill in for replays already landed."""

    files_seen: int
    bytes_read: int
    new: list[tuple[str, ReplaySource]]
    parsed: Future[_Landing] | _Landing | None
    refused: list[tuple[str, str]]
    fill_ids: list[tuple[str, int | None, int | None]]

    def ready(self) -> bool:
        return not isinstance(self.parsed, Future) or self.parsed.done()

    def result(self) -> _Landing:
        if self.parsed is None:
            return _Landing([], [], [], 0, None, None)
        return self.parsed.result() if isinstance(self.parsed, Future) else self.parsed


def _prepare_batch(
    con: duckdb.DuckDBPyConnection,
    batch: list[ReplaySource],
    submitted: set[str],
    pool: ProcessPoolExecutor | None,
    spool: Path | None,
) -> _Pending:
    """Hash the batch, drop replays already landed (or earlier in this run), start parsing the rest."""
    by_md5: dict[str, ReplaySource] = {}
    for source in batch:
        if source.refused is None:
            md5 = hashlib.md5(source.data).hexdigest()
            if md5 not in submitted:
                by_md5.setdefault(md5, source)
    known = _known_md5s(con, list(by_md5)) if by_md5 else set()
    new = [(md5, source) for md5, source in by_md5.items() if md5 not in known]
    fill = [
        (md5, s.score_id, s.legacy_score_id)
        for md5, s in by_md5.items()
        if md5 in known and (s.score_id is not None or s.legacy_score_id is not None)
    ]
    submitted.update(by_md5)
    parsed: Future[_Landing] | _Landing | None = None
    if new:
        replay_ids = [
            i for (i,) in con.execute("SELECT nextval('parsed.replay_ids') FROM range(?)", [len(new)]).fetchall()
        ]
        args = (
            [s.data for _, s in new],
            [md5 for md5, _ in new],
            replay_ids,
            [(s.score_id, s.legacy_score_id) for _, s in new],
            str(spool) if spool else None,
        )
        parsed = pool.submit(parse_for_landing, *args) if pool is not None else parse_for_landing(*args)
    refused = {(source.path, source.refused) for source in batch if source.refused is not None}
    fresh = sorted(refused - known_refusals(con, "parsed.replay_errors", refused)) if refused else []
    return _Pending(len(batch), sum(len(s.data) for s in batch), new, parsed, fresh, fill)


def resolved_ids(replay: Replay, score_id: int | None, legacy_score_id: int | None) -> tuple[int | None, int | None]:
    """(score_id, legacy_score_id): the ids a replay was fetched by, else what its header says (a lazer
    replay carries its score id, in the header or its score info; a stable one its legacy id)."""
    header = replay.online_score_id
    if replay.game_version >= FIRST_LAZER_VERSION:
        info = (replay.score_info or {}).get("online_id")
        if header is None and isinstance(info, int) and not isinstance(info, bool) and info > 0:
            header = info
        return (score_id if score_id is not None else header), legacy_score_id
    return score_id, (legacy_score_id if legacy_score_id is not None else header)


def parse_for_landing(
    datas: list[bytes],
    md5s: list[str],
    replay_ids: list[int],
    hints: list[tuple[int | None, int | None]],
    spool: str | None = None,
) -> _Landing:
    """Parse a batch of new replays one at a time and build their rows (runs in a worker process). With a
    `spool` folder the frames go to an Arrow file there, written as they are parsed."""
    good: list[int] = []
    ids: list[tuple[int | None, int | None]] = []
    errors: list[tuple[int, str]] = []
    header_rows: list[dict[str, Any]] = []
    frames = _FrameWriter(spool)
    try:
        for index, data in enumerate(datas):
            batch = parse_many([data])
            replay = batch.replays[0]
            if replay is None:
                errors.append((index, batch.errors[0] or "unreadable replay"))
                continue
            score_id, legacy_score_id = resolved_ids(replay, *hints[index])
            good.append(index)
            ids.append((score_id, legacy_score_id))
            header_rows.append(_header_row(replay, replay_ids[index], md5s[index], score_id, legacy_score_id))
            frames.add(replay_ids[index], replay)
        replays = pa.Table.from_pylist(header_rows, REPLAY_SCHEMA) if header_rows else None
        return _Landing(good, ids, errors, frames.count, replays, frames.close())
    except BaseException:
        frames.abandon()
        raise


def _header_row(replay: Replay, replay_id: int, md5: str, score_id: int | None, legacy: int | None) -> dict[str, Any]:
    return {
        "replay_id": replay_id,
        "md5": md5,
        "score_id": score_id,
        "legacy_score_id": legacy,
        "beatmap_md5": replay.beatmap_md5,
        "mode": replay.mode,
        "ruleset": MODES[replay.mode],
        "game_version": replay.game_version,
        "player": replay.player,
        "replay_md5": replay.replay_md5,
        **{name: getattr(replay, name) for name in ("n300", "n100", "n50", "ngeki", "nkatu", "nmiss")},
        "score": replay.score,
        "max_combo": replay.max_combo,
        "perfect": replay.perfect,
        "mods": replay.mods,
        "mod_acronyms": replay.mod_acronyms,
        "played_at": replay.played_at.replace(tzinfo=None),
        "life_bar": [{"time_ms": t, "life": life} for t, life in replay.life_bar],
        "rng_seed": replay.rng_seed,
        "n_frames": replay.n_frames,
        "score_info": None if replay.score_info is None else json.dumps(replay.score_info, ensure_ascii=False),
        "parser_version": REPLAY_PARSER_VERSION,
    }


class _FrameWriter:
    """Frames of one replay after another, in record batches of about FRAMES_PER_CHUNK frames: to an
    Arrow file in `spool` (what an ingest does), or kept as a table (without one)."""

    def __init__(self, spool: str | None) -> None:
        self.path = os.path.join(spool, f"{os.getpid()}-{next(_SPOOLED)}-frames.arrow") if spool else None
        self.sink: Any = None
        self.writer: Any = None
        self.batches: list[pa.RecordBatch] = []
        self.parts: list[dict[str, np.ndarray]] = []
        self.buffered = self.count = 0

    def add(self, replay_id: int, replay: Replay) -> None:
        n = replay.n_frames
        self.parts.append(
            {
                "replay_id": np.full(n, replay_id, dtype=np.int32),
                "frame_index": np.arange(n, dtype=np.int32),
                "time_ms": replay.time_ms,
                "x": replay.x,
                "y": replay.y,
                "keys": replay.keys,
            }
        )
        self.buffered += n
        self.count += n
        if self.buffered >= FRAMES_PER_CHUNK:
            self._flush()

    def _flush(self) -> None:
        if not self.parts:
            return
        if len(self.parts) == 1:  # a long replay: its own columns, no copy
            columns = self.parts[0]
        else:
            columns = {name: np.concatenate([part[name] for part in self.parts]) for name in FRAME_SCHEMA.names}
        batch = pa.RecordBatch.from_arrays([columns[name] for name in FRAME_SCHEMA.names], schema=FRAME_SCHEMA)
        self.parts, self.buffered = [], 0
        if self.path is None:
            self.batches.append(batch)
            return
        if self.writer is None:
            self.sink = pa.OSFile(self.path, "wb")
            self.writer = pa.ipc.new_file(self.sink, FRAME_SCHEMA)
        for start in range(0, batch.num_rows, FRAMES_PER_CHUNK):  # the reader's batches stay small too
            self.writer.write_batch(batch.slice(start, FRAMES_PER_CHUNK))

    def close(self) -> pa.Table | str | None:
        self._flush()
        if self.writer is not None:
            self.writer.close()
            self.sink.close()
            return self.path
        return pa.Table.from_batches(self.batches, FRAME_SCHEMA) if self.batches else None

    def abandon(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.sink.close()
        if self.path is not None:
            Path(self.path).unlink(missing_ok=True)


def _known_md5s(con: duckdb.DuckDBPyConnection, md5s: list[str]) -> set[str]:
    """Of `md5s`: the replays landed, or that this parser (or a newer one) could not read."""
    rows = con.execute(
        """
        SELECT md5 FROM raw.replays WHERE md5 IN (SELECT unnest($md5s))
        UNION SELECT md5 FROM parsed.replay_errors WHERE md5 IN (SELECT unnest($md5s)) AND parser_version >= $v
        """,
        {"md5s": md5s, "v": REPLAY_PARSER_VERSION},
    ).fetchall()
    return {md5 for (md5,) in rows}


def _land_batch(con: duckdb.DuckDBPyConnection, pending: _Pending, summary: ReplayIngestSummary) -> None:
    summary.files_seen += pending.files_seen
    summary.bytes_read += pending.bytes_read
    summary.replays_unchanged += pending.files_seen - len(pending.new) - len(pending.refused)
    if not pending.new and not pending.refused and not pending.fill_ids:
        return
    landing = pending.result()
    try:
        with transaction(con):
            _land(con, landing, pending, summary)
    finally:
        landing.discard()


def _land(con: duckdb.DuckDBPyConnection, landing: _Landing, pending: _Pending, summary: ReplayIngestSummary) -> None:
    new = pending.new
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    errors = [(new[i][0], new[i][1].path, message) for i, message in landing.errors]
    errors += [(NO_BYTES_MD5, path, reason) for path, reason in pending.refused]
    if landing.good:
        good_md5s = [new[i][0] for i in landing.good]
        paths = [new[i][1].path for i in landing.good]
        # an older parser's error on these bytes, or on what was at their path before
        con.execute(
            "DELETE FROM parsed.replay_errors WHERE md5 IN (SELECT unnest($md5s)) OR path IN (SELECT unnest($paths))",
            {"md5s": good_md5s, "paths": paths},
        )
        datas = [new[i][1].data for i in landing.good]
        raw = pa.table(
            {
                "md5": good_md5s,
                "score_id": pa.array([ids[0] for ids in landing.ids], pa.int64()),
                "legacy_score_id": pa.array([ids[1] for ids in landing.ids], pa.int64()),
                "path": paths,
                "size_bytes": pa.array([len(d) for d in datas], pa.int64()),
                "content": pa.array(datas, pa.large_binary()),
                "ingested_at": pa.array([now] * len(datas), pa.timestamp("us")),
            }
        )
        insert(con, "raw.replays", raw)
        if landing.replays is not None:
            insert(con, "parsed.replays", landing.replays)
        frames = landing.frame_rows_toinsert()
        if frames is not None:
            insert(con, "parsed.replay_frames", frames)
    if errors:
        insert(con, "parsed.replay_errors", error_rows(errors, REPLAY_PARSER_VERSION, now))
    for md5, score_id, legacy_score_id in pending.fill_ids:
        for table in ("raw.replays", "parsed.replays"):
            con.execute(
                f"UPDATE {table} SET score_id = coalesce(score_id, $s), "
                "legacy_score_id = coalesce(legacy_score_id, $l) WHERE md5 = $md5",
                {"s": score_id, "l": legacy_score_id, "md5": md5},
            )
    summary.replays_added += len(landing.good)
    summary.frames += landing.frames
    summary.parse_errors += len(errors)
    summary.error_examples.extend(f"{path}: {message}" for _, path, message in errors[:5])


def land_dump_extras(con: duckdb.DuckDBPyConnection, dump: ReplayDump, limits: Limits) -> str:
    """A published dump's `.osu` files (through the `.osu` ingest) and its index (`raw.replay_dump_index`,
    the rows of this dump replaced); a line saying what landed."""
    from kiai.load.osu_files import ingest_paths as ingest_osu

    beatmaps = ""
    if dump.beatmaps.is_dir():
        osu = ingest_osu(con, [dump.beatmaps], limits=limits)
        beatmaps = f", beatmaps: {osu.files_added:,} added, {osu.files_unchanged:,} unchanged"
        if osu.parse_errors:
            beatmaps += f", {osu.parse_errors:,} could not be parsed (parsed.parse_errors)"
    rows = land_dump_index(con, dump)
    return f"replay dump {dump.root}: {rows:,} index rows in {DUMP_INDEX_TABLE}{beatmaps}"


def land_dump_index(con: duckdb.DuckDBPyConnection, dump: ReplayDump) -> int:
    """index.csv as rows of `raw.replay_dump_index` (its own columns, as DuckDB reads them, after `dump`,
    the folder, and before `osr_md5`, the md5 of the replay file it names once that has landed).
    Re-landing a dump replaces its rows; columns a later dump adds are added."""
    root = str(dump.root)
    try:
        index = con.sql(
            "SELECT * FROM read_csv($path, header = true)", params={"path": str(dump.index)}
        ).to_arrow_table()
    except duckdb.Error as exc:
        raise KiaiError(f"{dump.index}: not a readable CSV index ({str(exc).splitlines()[0]})") from None
    index = index.add_column(0, "dump", pa.array([root] * index.num_rows, pa.string()))
    with transaction(con):
        con.register("_kiai_index", index)
        try:
            con.execute(
                f"CREATE TABLE IF NOT EXISTS {DUMP_INDEX_TABLE} AS "
                "SELECT *, CAST(NULL AS VARCHAR) AS osr_md5 FROM _kiai_index LIMIT 0"
            )
            have = column_names(con, "raw", "replay_dump_index")
            for name, kind, *_ in con.execute("DESCRIBE _kiai_index").fetchall():
                if name not in have:
                    con.execute(f"ALTER TABLE {DUMP_INDEX_TABLE} ADD COLUMN {identifier(name)} {kind}")
            con.execute(f"DELETE FROM {DUMP_INDEX_TABLE} WHERE dump = ?", [root])
            con.execute(f"INSERT INTO {DUMP_INDEX_TABLE} BY NAME SELECT * FROM _kiai_index")
        finally:
            con.unregister("_kiai_index")
    return index.num_rows


def link_dump_index(con: duckdb.DuckDBPyConnection, dump: ReplayDump) -> None:
    """Fill `osr_md5` of a dump's index rows from the replays landed from its osr/ folder."""
    if "replayHash" not in column_names(con, "raw", "replay_dump_index"):
        return
    prefix = f"{dump.root / 'osr'}{os.sep}"
    con.execute(
        f"""
        UPDATE {DUMP_INDEX_TABLE} AS i SET osr_md5 = r.md5
        FROM raw.replays AS r
        WHERE i.dump = $dump AND r.path = $prefix || CAST(i."replayHash" AS VARCHAR) || '.osr'
        """,
        {"dump": str(dump.root), "prefix": prefix},
    )
