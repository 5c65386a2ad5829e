"""`kiai export lake DIR`: the warehouse as a Parquet lake that Spark, DuckDB, Polars or Trino read alike.

Layout: `DIR/<schema>/<table>/*.parquet` (Hive-style `key=value/` folders inside the partitioned tables) and
`DIR/manifest.json` (tables, rows, columns with their lake types, partitioning, files, fingerprints, the kiai
and schema versions). Exported: every table of `raw` (BLOB columns only with `with_bytes`), `parsed` and
`ppy`, and the current version of every built model under its stable name.

Types are the ones every engine reads the same way (`lake_type`): unsigned integers become the signed type
that holds them (UBIGINT: BIGINT while its values fit, else DECIMAL(20,0)), HUGEINT DECIMAL(38,0) (text beyond
38 digits), ENUM, JSON
and UUID text, timestamps UTC microseconds (TIMESTAMPTZ; kiai's naive timestamps are UTC).

Each table is written by DuckDB's streaming `COPY` (one per partition) into a temp folder in DIR and renamed
into place, and only
then recorded in the manifest (itself replaced atomically): a killed export leaves at most a temp folder,
swept by the next run, and a table the manifest does not vouch for is written again. A table whose
fingerprint (its data watermark, columns, partitioning and options) and files are unchanged is skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import duckdb

import kiai
from kiai.catalog import SOURCE_SCHEMAS
from kiai.errors import KiaiError
from kiai.files import refuse_database_target
from kiai.quoting import identifier, literal
from kiai.transform import store
from kiai.transform.materialization import MATERIALIZATIONS
from kiai.transform.plan import table_watermark
from kiai.transform.render import digest
from kiai.warehouse import memory_limit

try:
    import fcntl
except ImportError:  # Windows: no lock against a second export into the same folder
    fcntl = None  # type: ignore[assignment]

LAKE_FORMAT = 1  # bump when the layout or a type rule changes: every table is written again
MANIFEST = "manifest.json"
MEMORY_FLOOR = 64 << 20  # DuckDB's memory while exporting a table (_Memory): this, and per column and thread
MEMORY_PER_COLUMN = 1 << 20  # two pinned 256 kB blocks (the column's, its validity's) and what is buffered
T = TypeVar("T")
FILE_SIZE = "256MB"  # Parquet files are rolled over at about this size: units of work for a cluster
ROW_GROUP_BYTES = "32MB"  # at most this much of a row group buffered per thread (a wide table: fewer rows a group)
TEMP_PREFIX, OLD_PREFIX = ".tmp-", ".old-"
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
BIGINT_MAX = 2**63 - 1
# DuckDB's Parquet writer already writes an ENUM as a String column, the same as a VARCHAR: without the cast it
# writes from the ENUM's dictionary (10 M hit objects, two ENUM columns: 2.5 -> 1.6 s of CPU)
WRITTEN_AS_TEXT = {"enum"}
DECIMAL_MAX = 10**38 - 1


class LakeError(KiaiError):
    """The lake folder cannot be written or read."""


@dataclass(frozen=True)
class Partitioning:
    """Hive-style partitions: by a column's values, or by ranges of an integer key (`<key>_range=<lower bound>`,
    a column of its own, so that readers see the folders' key too)."""

    column: str
    key_range: int | None = None  # None: one folder per value of `column`

    @property
    def folder_column(self) -> str:
        return f"{self.column}_range" if self.key_range else self.column

    def expression(self) -> str:
        """The folder column: the range's lower bound (DuckDB's `//` truncates toward zero), or the value."""
        quoted = identifier(self.column)
        return f"({quoted} // {self.key_range}) * {self.key_range}" if self.key_range else quoted

    def folder(self, value: int | None) -> str:
        """The Hive folder of one partition (a NULL key in Hive's default partition, as Spark and DuckDB name it)."""
        return f"{self.folder_column}={HIVE_NULL if value is None else value}"

    def condition(self, value: int | None) -> str:
        """The rows of one partition, as bounds on the column itself (so that DuckDB skips the row groups whose
        zone maps lie outside them)."""
        quoted = identifier(self.column)
        if value is None:
            return f"{quoted} IS NULL"
        if not self.key_range:
            return f"{quoted} = {value}"
        width = self.key_range - 1  # truncation: the range 0 holds -(w-1) .. w-1, a negative one v-(w-1) .. v
        low, high = (value, value + width) if value > 0 else (value - width, value) if value < 0 else (-width, width)
        return f"{quoted} BETWEEN {low} AND {high}"

    def describe(self) -> dict[str, Any]:
        return {"folder_column": self.folder_column, "column": self.column, "key_range": self.key_range}


# Where partitions pay: the per-object tables by ranges of their integer key (a range is a few million rows,
# the unit a cluster reads or skips), scores by ruleset (every study filters on it).
PARTITIONS = {
    "parsed.hit_objects": Partitioning("file_id", key_range=10_000),
    "parsed.replay_frames": Partitioning("replay_id", key_range=1_000),
    "ppy.scores": Partitioning("ruleset_id"),
}


@dataclass
class Column:
    name: str
    source_type: str  # as the warehouse declares it
    lake_type: str  # as it is written
    expression: str  # the SELECT expression that gives it

    def describe(self) -> dict[str, str]:
        return {"name": self.name, "type": self.lake_type, "source_type": self.source_type}


@dataclass
class Table:
    relation: str  # schema.table in the warehouse (a model's stable name)
    kind: str  # table | model
    columns: list[Column] = field(default_factory=list)
    partitioning: Partitioning | None = None
    dropped: list[str] = field(default_factory=list)  # BLOB columns of raw left out without with_bytes
    model: store.Version | None = None

    @property
    def folder(self) -> str:
        return self.relation.replace(".", "/")


@dataclass
class TableResult:
    relation: str
    status: str  # written | unchanged | removed
    rows: int = 0
    bytes: int = 0
    seconds: float = 0.0


@dataclass
class LakeReport:
    path: Path
    tables: list[TableResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def written(self) -> list[TableResult]:
        return [t for t in self.tables if t.status == "written"]


@dataclass
class Progress:
    """What the export is doing, for a progress bar: the table, its rows so far, and bytes written so far."""

    relation: str
    rows_done: int
    rows_total: int
    bytes_written: int
    seconds: float


ProgressCallback = Callable[[Progress], None]


def lake_type(kind: duckdb.sqltypes.DuckDBPyType, fits: bool = True) -> str:
    """The type a column of DuckDB type `kind` is written as (see the module docstring); `fits`: its values fit
    BIGINT (UBIGINT) or DECIMAL(38,0) (HUGEINT), else the exact DECIMAL(20,0) or text."""
    name = kind.id
    if name in ("list", "array"):
        return f"{lake_type(kind.child, False)}[]"
    if name == "struct":
        fields = ", ".join(f"{identifier(n)} {lake_type(kind[n], False)}" for n, _ in kind.children)
        return f"STRUCT({fields})"
    if name == "map":
        return f"MAP({lake_type(kind.key, False)}, {lake_type(kind.value, False)})"
    return {
        "utinyint": "SMALLINT",
        "usmallint": "INTEGER",
        "uinteger": "BIGINT",
        "ubigint": "BIGINT" if fits else "DECIMAL(20,0)",
        "hugeint": "DECIMAL(38,0)" if fits else "VARCHAR",
        "uhugeint": "DECIMAL(38,0)" if fits else "VARCHAR",
        "varint": "VARCHAR",
        "bignum": "VARCHAR",
        "enum": "VARCHAR",
        "uuid": "VARCHAR",
        "bit": "VARCHAR",
        "timestamp": "TIMESTAMPTZ",
        "timestamp_s": "TIMESTAMPTZ",
        "timestamp_ms": "TIMESTAMPTZ",
        "timestamp_ns": "TIMESTAMPTZ",
        "timestamp with time zone": "TIMESTAMPTZ",
        "time with time zone": "TIME",
    }.get(name, "VARCHAR" if str(kind) == "JSON" else str(kind))


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[Column]:
    relation_sql = _relation_sql(relation)
    described = con.sql(f"SELECT * FROM {relation_sql} LIMIT 0")
    columns = []
    # UBIGINT becomes BIGINT and HUGEINT DECIMAL(38,0) unless a value is beyond them
    limits = {"ubigint": BIGINT_MAX, "hugeint": DECIMAL_MAX, "uhugeint": DECIMAL_MAX}
    wide = [(n, limits[t.id]) for n, t in zip(described.columns, described.types, strict=True) if t.id in limits]
    fits = {}
    if wide:
        checks = ", ".join(f"max(abs({identifier(n)})) <= {limit}" for n, limit in wide)
        answers = con.execute(f"SELECT {checks} FROM {relation_sql}").fetchall()[0]
        fits = {n: ok is not False for (n, _), ok in zip(wide, answers, strict=True)}
    for name, kind in zip(described.columns, described.types, strict=True):
        target = lake_type(kind, fits.get(name, True))
        quoted = identifier(name)
        if target == str(kind) or kind.id in WRITTEN_AS_TEXT:
            expression = quoted
        elif target == "TIMESTAMPTZ" and kind.id != "timestamp with time zone":
            expression = f"timezone('UTC', {quoted}::TIMESTAMP)"  # the naive timestamp read as UTC
        else:
            expression = f"CAST({quoted} AS {target})"
        columns.append(Column(name, str(kind), target, f"{expression} AS {quoted}"))
    return columns


def _relation_sql(relation: str) -> str:
    return ".".join(identifier(part) for part in relation.split("."))


def lake_tables(con: duckdb.DuckDBPyConnection, with_bytes: bool = False) -> list[Table]:
    """What `export_lake` writes: the landed tables of raw, parsed and ppy (generic: a table a newer loader adds
    is exported too), then the current version of every built model."""
    rows = con.execute(
        f"""SELECT schema_name || '.' || table_name FROM duckdb_tables()
        WHERE database_name = current_database() AND schema_name IN ({", ".join("?" * len(SOURCE_SCHEMAS))})
        ORDER BY schema_name, table_name""",
        list(SOURCE_SCHEMAS),
    ).fetchall()
    tables = [Table(relation, "table") for (relation,) in rows]
    models = sorted(store.current(con).values(), key=lambda v: v.relation)
    tables += [Table(f"{v.relation.split('.')[0]}.{v.model}", "model", model=v) for v in models]
    for table in tables:
        columns = _columns(con, table.relation)
        if table.relation.startswith("raw.") and not with_bytes:
            table.dropped = [c.name for c in columns if c.source_type == "BLOB"]
        table.columns = [c for c in columns if c.name not in table.dropped]
        names = {c.name for c in table.columns}
        partitioning = PARTITIONS.get(table.relation)
        table.partitioning = partitioning if partitioning and partitioning.column in names else None
    return tables


def fingerprint(con: duckdb.DuckDBPyConnection, table: Table, marks: dict[str, str]) -> str:
    """Changes when the rows, the columns, their lake types, the partitioning or the lake format do."""
    if table.model is not None and not MATERIALIZATIONS[table.model.materialized].reads_upstream:
        data = f"model {table.model.fingerprint}"  # a version's table never changes
    else:  # a landed table, or a model that is a view: its rows follow its sources
        data = table_watermark(con, table.relation, marks)
    layout = [c.describe() for c in table.columns], table.partitioning.describe() if table.partitioning else None
    return digest(LAKE_FORMAT, table.relation, data, layout, table.dropped)[:16]


def export_lake(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    with_bytes: bool = False,
    on_progress: ProgressCallback | None = None,
    on_table: Callable[[TableResult], None] | None = None,
) -> LakeReport:
    """Write the lake into `path` (see the module docstring); a table whose fingerprint and files are unchanged
    is skipped, and a table no longer in the warehouse is removed."""
    started = time.perf_counter()
    report = LakeReport(path)
    path = Path(path)
    if path.exists() and not path.is_dir():
        refuse_database_target(path)
        raise LakeError(f"{path} is a file, not a lake folder")
    path.mkdir(parents=True, exist_ok=True)
    with _locked(path), _settings(con) as memory:
        _sweep(path)
        manifest = read_manifest(path)
        entries: dict[str, Any] = manifest.get("tables", {})
        memory.fit(_widest(con))
        tables = memory.run(lambda: lake_tables(con, with_bytes))
        marks: dict[str, str] = {}
        for table in tables:
            memory.fit(len(table.columns) + len(table.dropped))  # the watermark reads dropped BLOBs too
            fp = memory.run(lambda: fingerprint(con, table, marks))  # noqa: B023 (run at once)
            entry = entries.get(table.relation)
            if entry and entry.get("fingerprint") == fp and _files_intact(path, entry):
                result = TableResult(table.relation, "unchanged", entry["rows"], entry["bytes"])
            else:
                entry, result = _write_table(con, path, table, fp, memory, on_progress)
                entries[table.relation] = entry
                _save_manifest(con, path, entries)
            report.tables.append(result)
            if on_table:
                on_table(result)
        for relation in sorted(set(entries) - {t.relation for t in tables}):
            _remove_folder(path, path / relation.replace(".", "/"))
            del entries[relation]
            report.tables.append(TableResult(relation, "removed"))
            if on_table:
                on_table(report.tables[-1])
        _save_manifest(con, path, entries)
    report.seconds = time.perf_counter() - started
    return report


def _write_table(
    con: duckdb.DuckDBPyConnection,
    lake: Path,
    table: Table,
    fp: str,
    memory: _Memory,
    on_progress: ProgressCallback | None,
) -> tuple[dict[str, Any], TableResult]:
    started = time.perf_counter()
    target = lake / table.folder
    temp = lake / f"{TEMP_PREFIX}{table.relation}-{uuid.uuid4().hex[:12]}"
    partitioning = table.partitioning
    parts = memory.run(lambda: _partitions(con, table))
    rows = sum(n for _, n in parts)
    try:
        temp.mkdir()
        with _reporting(con, table.relation, rows, temp, started, on_progress) as meter:
            for value, part_rows in parts:
                meter.start(part_rows)
                folder = temp if partitioning is None else temp / partitioning.folder(value)
                sql = _copy(table, folder, None if partitioning is None else (partitioning, value))
                memory.run(lambda: con.execute(sql), lambda: _empty(folder))  # noqa: B023 (run at once)
            if not parts:  # an empty table: one file without rows, so that readers still find its schema
                con.execute(_copy(table, temp))
        files = _file_list(temp)
        _swap(lake, temp, target)
    except duckdb.Error as exc:
        shutil.rmtree(temp, ignore_errors=True)
        raise LakeError(f"cannot export {table.relation}: {str(exc).splitlines()[0]}") from None
    except OSError as exc:
        shutil.rmtree(temp, ignore_errors=True)
        raise LakeError(f"cannot write {target}: {exc.strerror or exc}") from None
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    size = sum(f["bytes"] for f in files)
    entry = {
        "path": table.folder,
        "kind": table.kind,
        "rows": rows,
        "bytes": size,
        "fingerprint": fp,
        "columns": [c.describe() for c in table.columns],
        "partitioning": partitioning.describe() if partitioning else None,
        "dropped_columns": table.dropped,
        "files": files,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if partitioning:
        entry["partition_column"] = {"name": partitioning.folder_column, "type": _partition_type(table, partitioning)}
    if table.model is not None:
        entry["model"] = {
            "fingerprint": table.model.fingerprint,
            "code_fingerprint": table.model.code_fingerprint,
            "materialized": table.model.materialized,
        }
    return entry, TableResult(table.relation, "written", rows, size, time.perf_counter() - started)


def _partitions(con: duckdb.DuckDBPyConnection, table: Table) -> list[tuple[int | None, int]]:
    """Each partition's folder value and rows, in order (an unpartitioned table: one part, value None); an
    empty table has none."""
    relation_sql = _relation_sql(table.relation)
    if table.partitioning is None:
        ((rows,),) = con.execute(f"SELECT count(*) FROM {relation_sql}").fetchall()
        return [(None, rows)] if rows else []
    found = con.execute(
        f"SELECT {table.partitioning.expression()} AS v, count(*) FROM {relation_sql} GROUP BY v ORDER BY v"
    ).fetchall()
    return [(int(v) if v is not None else None, n) for v, n in found]


def _copy(table: Table, folder: Path, part: tuple[Partitioning, int | None] | None = None) -> str:
    """The COPY of the table into `folder`, or of one partition's rows (`part`: the partitioning and the
    partition's folder value) without a value partition's column, which the folder names (as PARTITION_BY
    writes it).

    One COPY per partition rather than PARTITION_BY: that writer buffers up to half a million rows per thread
    and per partition before it flushes (10 M hit objects in 3 ranges: 755 MB peak RSS against 262 MB one
    range at a time, and twice the time)."""
    columns = [c.expression for c in table.columns]
    where = ""
    if part is not None:
        partitioning, value = part
        if not partitioning.key_range:
            columns = [c.expression for c in table.columns if c.name != partitioning.column]
        where = f" WHERE {partitioning.condition(value)}"
    elif table.partitioning is not None and table.partitioning.key_range:  # an empty table's file: the schema
        columns.append(f"{table.partitioning.expression()} AS {identifier(table.partitioning.folder_column)}")
    options = (
        f"FORMAT parquet, COMPRESSION zstd, FILE_SIZE_BYTES '{FILE_SIZE}', ROW_GROUP_SIZE_BYTES '{ROW_GROUP_BYTES}'"
    )
    select = f"SELECT {', '.join(columns)} FROM {_relation_sql(table.relation)}{where}"
    return f"COPY ({select}) TO {literal(str(folder))} ({options})"


def _partition_type(table: Table, partitioning: Partitioning) -> str:
    source = next(c.lake_type for c in table.columns if c.name == partitioning.column)
    return "BIGINT" if partitioning.key_range else source


def _file_list(folder: Path) -> list[dict[str, Any]]:
    return [
        {"path": p.relative_to(folder).as_posix(), "bytes": p.stat().st_size}
        for p in sorted(folder.rglob("*.parquet"))
        if p.is_file()
    ]


def _swap(lake: Path, temp: Path, target: Path) -> None:
    """Put the new folder in the table's place: the old one is renamed aside first, then removed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        aside = lake / f"{OLD_PREFIX}{target.name}-{uuid.uuid4().hex[:12]}"
        os.replace(target, aside)
        os.replace(temp, target)
        shutil.rmtree(aside, ignore_errors=True)
    else:
        os.replace(temp, target)


def _remove_folder(lake: Path, folder: Path) -> None:
    if folder.is_dir():
        aside = lake / f"{OLD_PREFIX}{folder.name}-{uuid.uuid4().hex[:12]}"
        os.replace(folder, aside)
        shutil.rmtree(aside, ignore_errors=True)
    with suppress(OSError):
        folder.parent.rmdir()  # the schema folder, once empty


def _files_intact(lake: Path, entry: dict[str, Any]) -> bool:
    """The table's folder holds exactly the files the manifest lists, at their sizes."""
    folder = lake / entry["path"]
    return folder.is_dir() and _file_list(folder) == entry["files"]


def _sweep(lake: Path) -> None:
    """Remove what a killed export left: temp folders of tables it was writing, old folders it was replacing."""
    for child in lake.iterdir():
        if child.is_dir() and child.name.startswith((TEMP_PREFIX, OLD_PREFIX)):
            shutil.rmtree(child, ignore_errors=True)


class _Memory:
    """DuckDB's memory limit while exporting a table: one that grows with the table's width, not its rows.

    DuckDB keeps every block it has read cached up to its limit (80% of RAM by default): without a small one,
    peak RSS grows with the table (bench/export_lake.py, 12.1 M rows against a quarter of them: 295 MB against
    184 MB; with it 202 MB against 175 MB), as in kiai's ingest and dump import. A scan pins a block of each
    column and its validity per thread, so the limit grows with the columns; a step that still runs out of it
    (long strings: a vector of 2,048 BLOBs of 20 kB is 40 MB) is run again under the connection's own limit."""

    def __init__(self, con: duckdb.DuckDBPyConnection, own: str) -> None:
        self.con = con
        self.own = own
        ((threads,),) = con.execute("SELECT current_setting('threads')").fetchall()
        self.threads = int(threads)

    def fit(self, columns: int) -> None:
        """A limit for reading and writing `columns` columns."""
        limit = MEMORY_FLOOR + self.threads * columns * MEMORY_PER_COLUMN
        self.con.execute(f"SET memory_limit = '{limit >> 20}MiB'")

    def run(self, step: Callable[[], T], undo: Callable[[], object] | None = None) -> T:
        """`step`; once more under the connection's own limit (after `undo`) when it runs out of memory."""
        try:
            return step()
        except duckdb.OutOfMemoryException:
            if undo is not None:
                undo()
            self.con.execute(f"SET memory_limit = {literal(self.own)}")
            return step()


def _empty(folder: Path) -> None:
    """Remove what a failed COPY wrote into `folder`."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)


@contextmanager
def _settings(con: duckdb.DuckDBPyConnection) -> Iterator[_Memory]:
    """The export's DuckDB settings (the memory limit: `_Memory`), the connection's own restored after it.

    No insertion order: the lake promises no row order, so COPY may write rows as its threads finish them (a
    quarter faster on 10 M hit objects, and no buffering to keep the order)."""
    ((ordered,),) = con.execute("SELECT current_setting('preserve_insertion_order')").fetchall()
    con.execute("SET preserve_insertion_order = false")
    try:
        with memory_limit(con) as own:
            yield _Memory(con, own)
    finally:
        con.execute(f"SET preserve_insertion_order = {'true' if ordered else 'false'}")


def _widest(con: duckdb.DuckDBPyConnection) -> int:
    """The most columns of any table or view of the warehouse."""
    ((widest,),) = con.execute(
        """SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM duckdb_columns()
        WHERE database_name = current_database() GROUP BY schema_name, table_name)"""
    ).fetchall()
    return int(widest)


@contextmanager
def _locked(lake: Path) -> Iterator[None]:
    """One export at a time into a lake folder."""
    if fcntl is None:
        yield
        return
    descriptor = os.open(lake / ".lock", os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise LakeError(f"another kiai export is writing to {lake}; wait for it to finish") from None
        yield
    finally:
        os.close(descriptor)


def read_manifest(lake: Path) -> dict[str, Any]:
    """The lake's manifest ({} for a new folder); one that does not parse is an error naming it."""
    path = Path(lake) / MANIFEST
    if not path.exists():
        return {}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LakeError(f"{path} is not a kiai lake manifest ({exc}); remove it to export the lake anew") from None
    if not isinstance(manifest, dict) or manifest.get("lake_format") != LAKE_FORMAT:
        return {}  # another format: every table is written again
    return manifest


def _save_manifest(con: duckdb.DuckDBPyConnection, lake: Path, entries: dict[str, Any]) -> None:
    from kiai.files import atomic_write
    from kiai.schema.migrations import stored_version

    manifest = {
        "lake_format": LAKE_FORMAT,
        "kiai_version": kiai.__version__,
        "schema_version": stored_version(con),
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "tables": dict(sorted(entries.items())),
    }
    atomic_write(lake / MANIFEST, json.dumps(manifest, indent=1) + "\n")


class _Meter:
    """Rows written by the COPYs of a table so far: those of the finished ones, and the one running."""

    def __init__(self) -> None:
        self.done = 0
        self.current = 0

    def start(self, rows: int) -> None:
        self.done += self.current
        self.current = rows


@contextmanager
def _reporting(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    rows: int,
    folder: Path,
    started: float,
    on_progress: ProgressCallback | None,
) -> Iterator[_Meter]:
    """While a table's COPYs run, report its progress every 0.25 s from DuckDB's query progress and the bytes on
    disk."""
    meter = _Meter()
    if on_progress is None:
        yield meter
        return
    stop = threading.Event()

    def written() -> int:
        return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0

    def poll() -> None:
        while not stop.wait(0.25):
            with suppress(Exception):  # the query may end while we ask
                share = max(con.query_progress(), 0.0) / 100
                done = meter.done + int(meter.current * share)
                on_progress(Progress(relation, done, rows, written(), time.perf_counter() - started))

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield meter
    finally:
        stop.set()
        thread.join()
    on_progress(Progress(relation, rows, rows, written(), time.perf_counter() - started))
