"""Land `.osu` files: raw bytes in `raw.osu_files`, parsed sections in `parsed.*`.

Idempotent and resumable: a file is keyed by the md5 of its bytes, so re-ingesting the same bytes
adds nothing; a new version of a beatmap (same beatmap_id, other md5) replaces the old one's rows.
`reparse_stale` parses again, from the bytes kept in raw.osu_files, every file that an older parser
(PARSER_VERSION) landed or failed on, and replaces its parsed rows; the bytes are never touched.
Each batch lands in one transaction, so an interrupted run keeps every finished batch and
re-running finishes the job. No file stops a run: one that cannot be read or parsed, or is over the
limits (kiai.config.Limits), is a row of parsed.parse_errors and the other files land.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import itertools
import os
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from kiai import schema
from kiai.config import Limits
from kiai.load.osu_sources import OsuSource, expand, read_sources
from kiai.load.pipeline import (
    cut_batches,
    default_workers,
    error_rows,
    insert,
    known_refusals,
    landing_threads,
    read_ahead,
    run_batches,
    start_worker,
)
from kiai.osu import CURVE_TYPES, KINDS, PARSER_VERSION, ParsedBatch, parse_batch
from kiai.warehouse import transaction

BATCH_FILES = 500
PARSE_FILES = 100  # a worker parses its batch this many files at a time: NumPy's temporaries stay in the CPU's cache
BATCH_BYTES = 48 * 1024 * 1024
BATCH_LINES = 1_000_000  # a worker needs ~300 B per line of a batch: this caps it near 300 MB whatever files hold
WORKER_NICENESS = 10
NO_BYTES_MD5 = hashlib.md5(b"").hexdigest()  # the md5 of a refused input's parse_errors row: none of it was kept
_SPOOLED = itertools.count()
PARSED_TABLES = schema.PARSED_TABLES
KEYS = ("file_id", "md5", "parser_version")  # the parsed.beatmap_files columns that are not the parser's metadata


@dataclass
class IngestSummary:
    files_seen: int = 0
    files_added: int = 0
    files_unchanged: int = 0
    files_replaced: int = 0
    files_reparsed: int = 0
    parse_errors: int = 0
    hit_objects: int = 0
    bytes_read: int = 0
    seconds: float = 0.0
    error_examples: list[str] = field(default_factory=list)

    def line(self) -> str:
        rate = self.hit_objects / self.seconds if self.seconds else 0.0
        return (
            f"{self.files_seen:,} files: {self.files_added:,} added, {self.files_unchanged:,} unchanged, "
            f"{self.files_replaced:,} replaced an older version, "
            + (f"{self.files_reparsed:,} parsed again by the new parser, " if self.files_reparsed else "")
            + f"{self.parse_errors:,} could not be parsed; "
            f"{self.hit_objects:,} hit objects in {self.seconds:.1f} s ({rate:,.0f} hit objects/s)"
        )


ProgressCallback = Callable[[IngestSummary], None]


def ingest_paths(
    con: duckdb.DuckDBPyConnection,
    paths: list[str | Path],
    on_progress: ProgressCallback | None = None,
    limits: Limits | None = None,
) -> IngestSummary:
    """Ingest files, folders, globs, `.osz` archives and tarballs."""
    limits = limits or Limits()
    sources = read_sources(expand(paths), limits.osu_file_bytes)
    return ingest_sources(con, sources, on_progress, limits=limits, read_ahead_sources=True)


def ingest_sources(
    con: duckdb.DuckDBPyConnection,
    sources: Iterable[OsuSource],
    on_progress: ProgressCallback | None = None,
    workers: int | None = None,
    reparse: bool = False,
    limits: Limits | None = None,
    in_transaction: bool = False,
    read_ahead_sources: bool = False,
) -> IngestSummary:
    """Ingest `.osu` bytes batch by batch.

    This process reads and hashes the files and lands finished batches in order, each in its own
    transaction (or all in the caller's, `in_transaction`, as a migration does); `workers` processes
    (default: one per core) parse them and build their Arrow tables meanwhile, at a lower priority
    than DuckDB's inserts. Batches are bounded in files, bytes
    and lines, and DuckDB gets a memory limit, so peak memory does not grow with the corpus nor with
    what a file holds. The workers exit with this process (also on kill -9), and their spool lives
    beside the warehouse, where the next run sweeps it if this one could not. With `read_ahead_sources`
    a thread reads and hashes the next batches while this one lands (the sources must not use `con`).
    """
    max_objects = (limits or Limits()).objects_per_file
    schema.create_osu_tables(con)
    summary = IngestSummary()
    started = time.perf_counter()
    submitted: set[str] = set()

    def prepare(batch: list[OsuSource], pool: ProcessPoolExecutor | None, spool: Path | None) -> _Pending:
        return _prepare_batch(con, batch, submitted, pool, spool, reparse, max_objects)

    def land(pending: _Pending) -> None:
        _land_batch(con, pending, summary, reparse, in_transaction)
        summary.seconds = time.perf_counter() - started
        if on_progress:
            on_progress(summary)

    batches = cut_batches(sources, BATCH_FILES, BATCH_BYTES, BATCH_LINES)
    if read_ahead_sources:
        batches = read_ahead(batches, touch=_hash_batch)
    workers = default_workers() if workers is None else workers
    try:
        run_batches(
            con,
            batches,
            prepare,
            land,
            workers,
            "ingest",
            _quiet_worker,
            in_transaction=in_transaction,
            duckdb_threads=landing_threads(workers),
        )
    finally:
        summary.seconds = time.perf_counter() - started
        batches.close()  # stops the reading thread now, also when a batch failed or Ctrl-C
    return summary


def _hash_batch(cut: tuple[list[OsuSource], bool]) -> None:
    for source in cut[0]:
        if source.refused is None:
            source.md5  # noqa: B018 - computed here, in the reading thread, and kept


def stale_md5s(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Files kept in raw.osu_files that this parser has neither parsed nor failed on (an older one did)."""
    schema.create_osu_tables(con)  # a new warehouse has none
    rows = con.execute(
        """
        SELECT md5 FROM raw.osu_files
        WHERE md5 NOT IN (SELECT md5 FROM parsed.beatmap_files WHERE parser_version >= $v)
            AND md5 NOT IN (SELECT md5 FROM parsed.parse_errors WHERE parser_version >= $v)
        ORDER BY md5
        """,
        {"v": PARSER_VERSION},
    ).fetchall()
    return [md5 for (md5,) in rows]


def reparse_stale(
    con: duckdb.DuckDBPyConnection,
    on_progress: ProgressCallback | None = None,
    workers: int | None = None,
    md5s: list[str] | None = None,
    in_transaction: bool = False,
) -> IngestSummary:
    """Parse again, from the bytes kept in raw.osu_files, every file an older parser landed or failed on
    (or the `md5s` given, as `stale_md5s` listed them).

    Each file's parsed rows (or its error) replace the old ones, under the same file_id; its bytes stay
    as they are, whatever the new parser makes of them. Versions are not compared: a file stays the one
    that holds its beatmap id.
    """
    md5s = stale_md5s(con) if md5s is None else md5s

    def sources() -> Iterator[OsuSource]:
        for first in range(0, len(md5s), BATCH_FILES):  # a batch's bytes at a time
            rows = con.execute(
                "SELECT path, content FROM raw.osu_files WHERE md5 IN (SELECT unnest($md5s)) ORDER BY md5",
                {"md5s": md5s[first : first + BATCH_FILES]},
            ).fetchall()
            yield from (OsuSource(path, bytes(content)) for path, content in rows)

    return ingest_sources(con, sources(), on_progress, workers, reparse=True, in_transaction=in_transaction)


def _quiet_worker(parent: int) -> None:
    """A worker (kiai.load.pipeline.start_worker) that yields the CPU to the main process: here hashing and
    inserting, not parsing, is the critical path."""
    start_worker(parent, WORKER_NICENESS)


@dataclass
class _Landing:
    """A parsed batch, ready to land: which new files land, their errors, and their rows as Arrow tables."""

    good: list[int]  # indexes into the batch's new files
    beatmap_ids: list[int | None]  # of the good files
    errors: list[tuple[int, str]]  # (index, message)
    replaced: int  # files superseded by a later version of the same beatmap in this batch
    hit_objects: int
    tables: dict[str, pa.Table | str]  # parsed.* table -> rows of the good files (or an Arrow IPC file of them)

    def table(self, name: str) -> pa.Table:
        rows = self.tables[name]
        return rows if isinstance(rows, pa.Table) else pa.ipc.open_file(pa.memory_map(rows)).read_all()

    def discard(self) -> None:
        for rows in self.tables.values():
            if isinstance(rows, str):
                with contextlib.suppress(OSError):  # the folder is removed at the end anyway
                    Path(rows).unlink()


@dataclass
class _Pending:
    """A batch on its way: its new files (md5, source) and their parse, done or in a worker; and the
    refused inputs (path, reason) not recorded before."""

    files_seen: int
    bytes_read: int
    new: list[tuple[str, OsuSource]]
    parsed: Future[_Landing] | _Landing | None
    refused: list[tuple[str, str]]

    def ready(self) -> bool:
        return not isinstance(self.parsed, Future) or self.parsed.done()

    def result(self) -> _Landing:
        if self.parsed is None:
            return _Landing([], [], [], 0, 0, {})
        return self.parsed.result() if isinstance(self.parsed, Future) else self.parsed


def _prepare_batch(
    con: duckdb.DuckDBPyConnection,
    batch: list[OsuSource],
    submitted: set[str],
    pool: ProcessPoolExecutor | None,
    spool: Path | None = None,
    reparse: bool = False,
    max_objects: int | None = None,
) -> _Pending:
    """Hash the batch, drop files already in the warehouse (or earlier in this run), start parsing the rest.

    To reparse, every file of the batch is parsed (they come from raw.osu_files). A refused input
    already recorded with the same path and reason is not recorded again.
    """
    by_md5: dict[str, OsuSource] = {}
    refused = {(source.path, source.refused) for source in batch if source.refused is not None}
    for source in batch:
        if source.refused is None:
            md5 = source.md5
            if md5 not in submitted:
                by_md5.setdefault(md5, source)
    known = _known_md5s(con, list(by_md5)) if by_md5 and not reparse else set()
    new = [(md5, source) for md5, source in by_md5.items() if md5 not in known]
    submitted.update(by_md5)
    parsed: Future[_Landing] | _Landing | None = None
    if new:
        args = (
            [s.data for _, s in new],
            [md5 for md5, _ in new],
            _file_ids(con, [md5 for md5, _ in new]),
            [s.id_from_name for _, s in new],
            str(spool) if spool else None,
            reparse,
            max_objects,
        )
        parsed = pool.submit(parse_for_landing, *args) if pool is not None else parse_for_landing(*args)
    fresh_refusals = sorted(refused - known_refusals(con, schema.PARSE_ERRORS, refused)) if refused else []
    return _Pending(len(batch), sum(len(s.data) for s in batch), new, parsed, fresh_refusals)


def parse_for_landing(
    datas: list[bytes],
    md5s: list[str],
    file_ids: list[int],
    ids_from_names: list[int | None],
    spool: str | None = None,
    reparse: bool = False,
    max_objects: int | None = None,
) -> _Landing:
    """Parse a batch of new files and build the rows they land (runs in a worker process).

    Of two versions of one beatmap in a batch the later one lands, except when reparsing: then each
    file is already the one that holds its id. With a `spool` folder the tables are written there as
    Arrow IPC files, which the main process maps without copying: cheaper than pickling them through a pipe.
    Parsing `PARSE_FILES` at a time is ~20% faster than the whole batch at once (measured in bench/ingest_osu.py).
    """
    chunks = [
        parse_batch(datas[first : first + PARSE_FILES], max_objects) for first in range(0, len(datas), PARSE_FILES)
    ]
    files = [result for chunk in chunks for result in chunk.files]
    good: list[int] = []
    errors: list[tuple[int, str]] = []
    latest_for_id: dict[int, int] = {}
    replaced = 0
    for index, result in enumerate(files):
        if result.error is not None:
            errors.append((index, result.error))
            continue
        beatmap_id = result.metadata.get("beatmap_id") or ids_from_names[index]
        result.metadata["beatmap_id"] = beatmap_id
        if beatmap_id is not None and not reparse:
            if beatmap_id in latest_for_id:  # two versions in one batch: the later one wins
                replaced += 1
                good.remove(latest_for_id[beatmap_id])
            latest_for_id[beatmap_id] = index
        good.append(index)
    tables, landed = _chunked_tables(md5s, file_ids, good, chunks)
    beatmap_ids = [files[i].metadata["beatmap_id"] for i in good]
    landing = _Landing(good, beatmap_ids, errors, replaced, landed, dict(tables))
    if spool is not None:
        for name, rows in tables.items():
            path = os.path.join(spool, f"{os.getpid()}-{next(_SPOOLED)}-{name}.arrow")
            with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, rows.schema) as writer:
                writer.write_table(rows)
            landing.tables[name] = path
    return landing


def _known_md5s(con: duckdb.DuckDBPyConnection, md5s: list[str]) -> set[str]:
    """Of `md5s`: the files kept in the warehouse (whichever parser read them) or that this parser failed on."""
    rows = con.execute(
        """
        SELECT md5 FROM raw.osu_files WHERE md5 IN (SELECT unnest($md5s))
        UNION SELECT md5 FROM parsed.parse_errors WHERE md5 IN (SELECT unnest($md5s)) AND parser_version >= $v
        """,
        {"md5s": md5s, "v": PARSER_VERSION},
    ).fetchall()
    return {row[0] for row in rows}


def _file_ids(con: duckdb.DuckDBPyConnection, md5s: list[str]) -> list[int]:
    """The file id of each file: the one it has (a file parsed again keeps it), else a new one.

    New ids are drawn when a batch is handed out, so a file that then fails or is replaced in its batch
    leaves a gap: ids are unique and stable, not dense.
    """
    have = dict(
        con.execute(
            f"SELECT md5, file_id FROM {schema.FILES} WHERE md5 IN (SELECT unnest($md5s))", {"md5s": md5s}
        ).fetchall()
    )
    missing = sum(md5 not in have for md5 in md5s)
    fresh = iter(
        [id_ for (id_,) in con.execute(f"SELECT nextval('{schema.FILE_IDS}') FROM range(?)", [missing]).fetchall()]
    )
    return [have[md5] if md5 in have else next(fresh) for md5 in md5s]


def _land_batch(
    con: duckdb.DuckDBPyConnection, pending: _Pending, summary: IngestSummary, reparse: bool, in_transaction: bool
) -> None:
    summary.files_seen += pending.files_seen
    summary.bytes_read += pending.bytes_read
    summary.files_unchanged += pending.files_seen - len(pending.new) - len(pending.refused)
    if not pending.new and not pending.refused:
        return
    landing = pending.result()
    try:
        if in_transaction:
            _land(con, landing, pending, summary, reparse)
        else:
            with transaction(con):
                _land(con, landing, pending, summary, reparse)
    finally:
        landing.discard()


def _land(
    con: duckdb.DuckDBPyConnection,
    landing: _Landing,
    pending: _Pending,
    summary: IngestSummary,
    reparse: bool,
) -> None:
    new = pending.new
    errors = [(new[i][0], new[i][1].path, message) for i, message in landing.errors]
    errors += [(NO_BYTES_MD5, path, reason) for path, reason in pending.refused]
    good_md5s = [new[i][0] for i in landing.good]
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    if reparse:  # the bytes stay; this parse (or its error) replaces what the older parser left
        _delete_files(con, (*PARSED_TABLES, schema.PARSE_ERRORS), [md5 for md5, _ in new])
    else:
        summary.files_replaced += landing.replaced + _drop_older_versions(
            con, list(zip(good_md5s, landing.beatmap_ids, strict=True))
        )
        if landing.good:
            # an older error on a file this parser reads, or on what was at its path before
            _delete_files(con, (schema.PARSE_ERRORS,), good_md5s)
            con.execute(
                f"DELETE FROM {schema.PARSE_ERRORS} WHERE path IN (SELECT unnest($paths))",
                {"paths": [new[i][1].path for i in landing.good]},
            )
            insert(con, schema.RAW_FILES, _raw_table(new, landing, now))
    for table in landing.tables:
        insert(con, table, landing.table(table))
    if errors:
        insert(con, schema.PARSE_ERRORS, error_rows(errors, PARSER_VERSION, now))
    summary.hit_objects += landing.hit_objects
    if reparse:
        summary.files_reparsed += len(landing.good)
    else:
        summary.files_added += len(landing.good)
    summary.parse_errors += len(errors)
    summary.error_examples.extend(f"{path}: {message}" for _, path, message in errors[:5])


def _drop_older_versions(con: duckdb.DuckDBPyConnection, files: list[tuple[str, int | None]]) -> int:
    """Delete the rows of older files of the same beatmap ids; return how many files were replaced."""
    pairs = [(md5, beatmap_id) for md5, beatmap_id in files if beatmap_id is not None]
    if not pairs:
        return 0
    incoming = pa.table({"md5": [p[0] for p in pairs], "beatmap_id": pa.array([p[1] for p in pairs], pa.int64())})
    con.register("_kiai_incoming", incoming)
    try:
        old = [
            row[0]
            for row in con.execute(
                "SELECT f.md5 FROM raw.osu_files f JOIN _kiai_incoming i USING (beatmap_id) WHERE f.md5 <> i.md5"
            ).fetchall()
        ]
    finally:
        con.unregister("_kiai_incoming")
    if old:
        _delete_files(con, (schema.RAW_FILES, *PARSED_TABLES), old)
    return len(old)


def _delete_files(con: duckdb.DuckDBPyConnection, tables: Iterable[str], md5s: list[str]) -> None:
    """Delete the rows of these files from each table (from the per-file tables by their file ids)."""
    tables = list(tables)
    ids: list[int] = []
    if any(table in schema.PER_FILE for table in tables):
        ids = [
            file_id
            for (file_id,) in con.execute(
                f"SELECT file_id FROM {schema.FILES} WHERE md5 IN (SELECT unnest($md5s))", {"md5s": md5s}
            ).fetchall()
        ]
    for table in tables:
        if table not in schema.PER_FILE:
            con.execute(f"DELETE FROM {table} WHERE md5 IN (SELECT unnest($md5s))", {"md5s": md5s})
        elif ids:
            con.execute(f"DELETE FROM {table} WHERE file_id IN (SELECT unnest($ids))", {"ids": ids})


def _raw_table(new: list[tuple[str, OsuSource]], landing: _Landing, now: dt.datetime) -> pa.Table:
    good = landing.good
    datas = [new[i][1].data for i in good]
    sizes = np.fromiter((len(d) for d in datas), dtype=np.int64, count=len(datas))
    offsets = np.zeros(len(datas) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    content = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), len(datas), [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(datas))]
    )
    return pa.table(
        {
            "md5": [new[i][0] for i in good],
            "beatmap_id": pa.array(landing.beatmap_ids, pa.int64()),
            "path": [new[i][1].path for i in good],
            "size_bytes": sizes,
            "content": content,
            "ingested_at": pa.array([now] * len(good), pa.timestamp("us")),
        }
    )


def _chunked_tables(
    md5s: list[str], file_ids: list[int], good: list[int], chunks: list[ParsedBatch]
) -> tuple[dict[str, pa.Table], int]:
    """The parsed.* rows of the files at `good` (indexes into the batch) from its chunks of PARSE_FILES files,
    each table one Arrow table of the chunks' record batches (no copy), and how many hit objects they hold."""
    per_chunk: list[dict[str, pa.Table]] = []
    landed = 0
    for number, chunk in enumerate(chunks):
        first = number * PARSE_FILES
        part = slice(first, first + PARSE_FILES)
        good_here = [index - first for index in good if first <= index < first + PARSE_FILES]
        if good_here:
            tables, objects = _parsed_tables(md5s[part], file_ids[part], good_here, chunk)
            per_chunk.append(tables)
            landed += objects
    if not per_chunk:
        return {}, 0
    # a metadata column all NULL in one chunk is of Arrow's null type there: promoted to the others' type
    return {
        name: pa.concat_tables([t[name] for t in per_chunk], promote_options="default") for name in per_chunk[0]
    }, landed


def _parsed_tables(
    md5s: list[str], file_ids: list[int], good: list[int], parsed: ParsedBatch
) -> tuple[dict[str, pa.Table], int]:
    """The parsed.* rows of the files at `good`, and how many hit objects they hold."""
    tables: dict[str, pa.Table] = {}
    metadata = [column for column in schema.columns(schema.FILES) if column not in KEYS]
    files = {column: [parsed.files[i].metadata.get(column) for i in good] for column in metadata}
    files["file_id"] = pa.array([file_ids[i] for i in good], pa.int32())
    files["md5"] = [md5s[i] for i in good]
    files["parser_version"] = [PARSER_VERSION] * len(good)
    tables[schema.FILES] = pa.table(files)

    ids = np.asarray(file_ids, dtype=np.int32)
    is_good = np.zeros(len(md5s), dtype=bool)
    is_good[good] = True
    ho = parsed.hit_objects
    keep = is_good[ho.file_index]
    slider = ho.kind == 1
    offsets = ho.curve_points_offsets
    points = pa.LargeStringArray.from_buffers(
        len(ho),
        pa.py_buffer(offsets),
        pa.py_buffer(ho.curve_points_data),
        pa.py_buffer(np.packbits(slider, bitorder="little")),
    )
    curve_type = np.where(ho.curve_type >= 0, ho.curve_type, 0).astype(np.int8)
    table = pa.table(
        {
            "file_id": ids[ho.file_index],
            "object_index": ho.object_index,
            "time_ms": ho.time_ms.astype(np.int32),
            "x": ho.x,
            "y": ho.y,
            "kind": pa.DictionaryArray.from_arrays(pa.array(ho.kind), pa.array(KINDS)),
            "new_combo": ho.new_combo,
            "combo_skip": ho.combo_skip,
            "hit_sound": ho.hit_sound,
            "end_time_ms": pa.array(ho.end_time_ms.astype(np.int32), mask=~ho.end_time_valid),
            "slides": pa.array(ho.slides, mask=~slider),
            "length": pa.array(ho.length, mask=~slider | np.isnan(ho.length)),
            "curve_type": pa.DictionaryArray.from_arrays(
                pa.array(curve_type, mask=ho.curve_type < 0), pa.array(CURVE_TYPES)
            ),
            "curve_points": points,
            "beat_length": pa.array(ho.beat_length, mask=np.isnan(ho.beat_length)),
            "slider_velocity": ho.slider_velocity,
            "kiai": ho.kiai,
            "time_order": ho.time_order,
            "interval_ms": pa.array(ho.interval_ms, mask=~ho.has_previous),
            "distance_sq": pa.array(ho.distance_sq, mask=np.isnan(ho.distance_sq)),
            "previous_kiai": pa.array(ho.previous_kiai, mask=~ho.has_previous),
        }
    )
    if not keep.all():
        table = table.filter(pa.array(keep))
    tables["parsed.hit_objects"] = table
    landed = int(keep.sum())

    tp = parsed.timing_points
    keep = is_good[tp["file_index"]]
    timing = {name: values[keep] for name, values in tp.items() if name != "file_index"}
    timing["point_index"] = timing["point_index"].astype(np.int32)
    timing["kiai"] = (timing["effects"] & 1) == 1
    tables["parsed.timing_points"] = pa.table({"file_id": ids[tp["file_index"][keep]], **timing})

    br = parsed.breaks
    keep = is_good[br["file_index"]]
    tables["parsed.breaks"] = pa.table(
        {
            "file_id": ids[br["file_index"][keep]],
            "start_ms": br["start_ms"][keep].astype(np.int32),
            "end_ms": br["end_ms"][keep].astype(np.int32),
        }
    )
    return tables, landed
