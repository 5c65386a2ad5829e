"""Import a data.ppy.sh dump: interpret CREATE TABLE and INSERT literals only, load in bulk, swap atomically.

One run is one transaction: each table is dropped and re-created from the dump inside it, and the
import log is written inside it, so an error, a refused statement or Ctrl-C leaves every table as it
was before the run. A file that does not end as mysqldump ends it (`UNLOCK TABLES;` after a table's
INSERTs, `-- Dump completed` last) was cut short, and is refused unless the caller allows it.
Statements are rewritten to CSV (see `values.py`) in this thread while a worker thread lets DuckDB
parse the previous batch, so both cores stay busy.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import queue
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from kiai.catalog import DUMP_SCHEMA
from kiai.errors import KiaiError
from kiai.files import database_file, make_scratch, remove_scratch
from kiai.load.ppy_dump import metadata
from kiai.load.ppy_dump.schema import DATE_TYPES, Column, SchemaError, TableSchema, parse_create_table, plain_identifier
from kiai.load.ppy_dump.streams import Meter, dump_files
from kiai.load.ppy_dump.values import ValuesError, rows_csv
from kiai.quoting import literal
from kiai.schema import ddl
from kiai.warehouse import first_row, memory_limit, setting, table_exists, utc_now

SCHEMA = DUMP_SCHEMA
READ_CHUNK = 8 << 20
BATCH_BYTES = 32 << 20
MAX_STATEMENT = 64 << 20
# DuckDB's share while importing. Loaded blocks are on disk already (optimistic writes), so a small pool costs no
# speed and keeps peak RSS flat in the dump size: 447 MiB at 2 M scores, 457 at 8 M (512MB: 573 and 814).
MEMORY_LIMIT = "128MB"

OWN_TABLES = ("import_log",)  # kiai's tables in the ppy schema: never a dump's target
SCHEMA_FILE = Path(__file__).with_name("dump_schema.sql")  # data.ppy.sh's CREATE TABLEs, from the fixtures
STAND_INS = ("scores", "osu_beatmaps")  # the dump tables the shipped models read (sql/staging/scores.sql)

_LOCK = re.compile(rb"LOCK TABLES `?([^`\s]+)`? WRITE;", re.I)
_UNLOCK = re.compile(rb"UNLOCK TABLES;", re.I)
TRAILER = b"-- Dump completed"
BOM = b"\xef\xbb\xbf"
_INSERT = re.compile(rb"INSERT INTO `?([^`\s(]+)`?\s*(?:\(([^)]*)\)\s*)?VALUES ?", re.I)
_SKIP = (
    re.compile(rb"SET [^;]*;", re.I),
    re.compile(rb"(?:UN)?LOCK TABLES[^;]*;", re.I),  # other forms than mysqldump's (those are followed)
    re.compile(rb"DROP TABLE IF EXISTS `?[A-Za-z0-9_$]+`?;", re.I),
)
_DATE = re.compile(r"(\d{4})_(\d{2})_(\d{2})")
_BLANK = (b"", b" ", b"\t", b"\n", b"\r", b"\x0b", b"\x0c")  # what bytes.strip() removes, and nothing


class DumpError(KiaiError):
    """A dump that kiai refuses to import; nothing was changed."""


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the import log and the dump metadata tables that do not exist yet (kiai/schema/ppy_dump.sql)."""
    con.execute(ddl("ppy_dump"))


def ensure_stand_ins(con: duckdb.DuckDBPyConnection) -> None:
    """Create ppy.scores and ppy.osu_beatmaps empty, with data.ppy.sh's columns, until a dump brings them:
    the staging models that read them then build (empty) on a warehouse without a dump."""
    missing = [name for name in STAND_INS if not table_exists(con, SCHEMA, name)]
    if not missing:
        return
    text = SCHEMA_FILE.read_text(encoding="utf-8")
    for name in missing:
        match = re.search(rf"-- table: {name}\n(CREATE TABLE .*?;)\n", text, re.S)
        if match is None:
            raise KiaiError(f"{SCHEMA_FILE} has no CREATE TABLE for {name}")
        schema = parse_create_table(match.group(1))
        con.execute(f"CREATE TABLE {_qualified(schema.name)} ({', '.join(c.ddl for c in schema.columns)})")
        metadata.record(con, schema, utc_now())


def dump_date(name: str) -> dt.date | None:
    match = _DATE.search(name)
    if not match:
        return None
    try:
        return dt.date(*(int(g) for g in match.groups()))
    except ValueError:
        return None


@dataclass
class TableResult:
    name: str
    file: str
    rows: int = 0
    unchanged: bool = False  # the file has the sha256 of this table's last import: reloaded identically, not logged
    incomplete: str | None = None  # why the file looks cut short (kept only with allow_incomplete)


@dataclass
class Stats:
    """Running totals for the progress bar."""

    bytes_read: int = 0
    rows: int = 0
    tables: list[TableResult] = field(default_factory=list)


@dataclass
class _Batch:
    schema: TableSchema
    columns: tuple[Column, ...]  # those the INSERTs name (all, without a column list), in their order
    where: str  # file name, for messages
    lines: list[tuple[int, bytes]] = field(default_factory=list)  # (dump line, its CSV)
    size: int = 0


class _Hasher:
    """sha256 on its own thread (hashlib releases the GIL), so hashing overlaps the rewriting."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=4)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (chunk := self.chunks.get()) is not None:
            self.digest.update(chunk)

    def update(self, chunk: bytes) -> None:
        self.chunks.put(chunk)

    def hexdigest(self) -> str:
        self.chunks.put(None)
        self.thread.join()
        return self.digest.hexdigest()


def _statements(stream, name: str, stats: Stats, digest: _Hasher) -> Iterator[tuple[int, bytes]]:
    """(line number, statement) for each statement (which ends with `;` at the end of a line), and for
    mysqldump's `-- Dump completed` line. A UTF-8 byte order mark before the first line is skipped."""
    pending: list[bytes] = []
    pending_size = 0
    start = 0
    number = 0
    rest = b""
    while True:
        chunk = stream.read(READ_CHUNK)
        if chunk:
            digest.update(chunk)  # the sha256 is of the file as it is
            stats.bytes_read += len(chunk)
            if not number and not rest:
                chunk = chunk.removeprefix(BOM)
            lines = _lines(chunk)
            lines[0] = rest + lines[0]
            rest = lines.pop()  # the line the next chunk goes on with
            if not lines:
                if len(rest) > MAX_STATEMENT:
                    raise DumpError(f"{name}:{number + 1}: a line longer than {MAX_STATEMENT >> 20} MB")
                continue
        else:
            lines = [rest] if rest else []
            rest = b""
        for line in lines:
            number += 1
            # mysqldump's lines are up to ~1 MB: the checks avoid copying them (strip) unless they must
            if line.endswith(b"\r"):
                line = line.rstrip(b"\r")
            if not pending:
                if line[:1] in _BLANK or line.startswith(b"--"):
                    stripped = line.strip()
                    if not stripped or stripped.startswith(b"--"):
                        if stripped.startswith(TRAILER):
                            yield number, stripped
                        continue
                start = number
            pending.append(line)
            pending_size += len(line)
            if pending_size > MAX_STATEMENT:
                raise DumpError(f"{name}:{start}: a statement longer than {MAX_STATEMENT >> 20} MB")
            if line.endswith(b";") or line.rstrip().endswith(b";"):
                if len(pending) == 1 and line[:1] not in _BLANK and line.endswith(b";"):
                    yield start, line  # nothing to strip
                else:
                    yield start, pending[0].strip() if len(pending) == 1 else b"\n".join(pending).strip()
                pending, pending_size = [], 0
        if not chunk:
            break
    if pending:
        raise DumpError(f"{name}:{start}: the last statement is cut off (truncated file?)")


def _lines(chunk: bytes) -> list[bytes]:
    """`chunk.split(b"\\n")` by find(), which runs memchr: for mysqldump's ~1 MB lines bytes.split takes ~3x as
    long (780 MB of statements: 0.93 -> 0.33 CPU-s with the chunk no longer copied onto the line before it)."""
    lines: list[bytes] = []
    start = 0
    while (end := chunk.find(b"\n", start)) >= 0:
        lines.append(chunk[start:end])
        start = end + 1
    lines.append(chunk[start:])
    return lines


def _skippable(statement: bytes) -> bool:
    if statement.startswith(b"/*"):
        # a conditional comment such as /*!40101 SET … */; with nothing after it
        return statement.endswith(b"*/;") and statement.find(b"*/") == len(statement) - 3
    return any(p.fullmatch(statement) for p in _SKIP)


def _describe(statement: bytes) -> str:
    text = statement.decode("utf-8", "replace").split("\n")[0]
    return text[:60] + ("…" if len(text) > 60 else "")


class _Loader:
    """Runs DuckDB work in order on a worker thread; the caller only queues jobs."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.jobs: queue.Queue[Callable[[], None] | None] = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (job := self.jobs.get()) is not None:
            if self.error is None:
                try:
                    job()
                except BaseException as exc:
                    self.error = exc

    def submit(self, job: Callable[[], None]) -> None:
        self._check()
        self.jobs.put(job)

    def finish(self) -> None:
        self.jobs.put(None)
        self.thread.join()
        self._check()

    def abort(self) -> None:
        self.error = self.error or KeyboardInterrupt()
        self.con.interrupt()
        while True:  # unblock and stop the worker
            try:
                self.jobs.put_nowait(None)
                break
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    self.jobs.get_nowait()
        self.thread.join()

    def _check(self) -> None:
        if self.error is not None:
            raise self.error


def _read_csv(path: str, columns: tuple[Column, ...]) -> str:
    types = ", ".join(f"'{c.name}': '{c.csv_type}'" for c in columns)
    return (
        f"read_csv({literal(path)}, header=false, delim=',', quote='''', escape='''', nullstr='NULL',"
        f" allow_quoted_nulls=false, auto_detect=false, strict_mode=true, new_line='\\n', columns={{{types}}})"
    )


def _select(columns: tuple[Column, ...]) -> str:
    def expr(c: Column) -> str:
        name = f'"{c.name}"'
        if c.type == "BLOB":
            return f"unhex({name})"
        if c.type == "JSON":
            return f"{name}::JSON"
        if c.type in DATE_TYPES:  # MySQL's zero date ('0000-00-00 00:00:00') is no date: NULL
            return f"CASE WHEN starts_with({name}, '0000-00-00') THEN NULL ELSE CAST({name} AS {c.type}) END"
        if c.type == "DOUBLE":  # DuckDB reads 1e999 or 'inf' as infinity; MySQL refuses them
            refused = f"column `{c.name}`: a value out of range for MySQL (such as 1e999 or 'inf'); MySQL refuses it"
            return f"CASE WHEN isfinite({name}) OR {name} IS NULL THEN {name} ELSE error({literal(refused)}) END"
        return name

    return ", ".join(expr(c) for c in columns)


def _insert_sql(batch: _Batch, path: str) -> str:
    table = _qualified(batch.schema.name)
    names = ", ".join(f'"{c.name}"' for c in batch.columns)
    return f"INSERT INTO {table} ({names}) SELECT {_select(batch.columns)} FROM {_read_csv(path, batch.columns)}"


def _named_columns(schema: TableSchema, text: bytes) -> tuple[Column, ...]:
    """The columns of an `INSERT INTO t (a, b) VALUES` list, checked against the CREATE TABLE."""
    by_name = {c.name.lower(): c for c in schema.columns}
    columns: list[Column] = []
    for part in text.decode("utf-8", "replace").split(","):
        name = part.strip()
        name = name[1:-1] if len(name) > 1 and name[0] == name[-1] == "`" else name
        if not plain_identifier(name):
            raise ValueError(f"column {name!r} in the INSERT column list is not a plain identifier")
        if name.lower() not in by_name:
            raise ValueError(f"INSERT names column `{name}` that the CREATE TABLE of `{schema.name}` does not have")
        columns.append(by_name[name.lower()])
    if len({c.name for c in columns}) != len(columns):
        raise ValueError("the INSERT column list names a column twice")
    return tuple(columns)


def _qualified(table: str) -> str:
    return f'{SCHEMA}."{table}"'


class _Import:
    def __init__(
        self, con: duckdb.DuckDBPyConnection, keep: Callable[[str], bool], workdir: Path, allow_incomplete: bool
    ) -> None:
        self.con = con
        self.keep = keep
        self.allow_incomplete = allow_incomplete
        self.workdir = workdir
        self.loader = _Loader(con)
        self.stats = Stats()
        self.batch: _Batch | None = None
        self.files = 0

    def flush(self) -> None:
        batch, self.batch = self.batch, None
        if batch is None or not batch.lines:
            return
        self.files += 1
        path = self.workdir / f"batch{self.files}.csv"
        sql = _insert_sql(batch, str(path))

        def job() -> None:
            try:
                # written here, not by the rewriting thread: writes release the GIL (the job holds the batch's
                # lines until it is done either way, for _locate)
                with path.open("wb") as handle:
                    handle.writelines(csv for _, csv in batch.lines)
                self.con.execute(sql)
            except duckdb.Error as exc:
                raise DumpError(_locate(batch, exc)) from None
            finally:
                path.unlink(missing_ok=True)

        self.loader.submit(job)

    def add(self, schema: TableSchema, columns: tuple[Column, ...], where: str, line: int, csv: bytes) -> None:
        if self.batch is not None and (self.batch.schema.name != schema.name or self.batch.columns != columns):
            self.flush()
        if self.batch is None:
            self.batch = _Batch(schema, columns, where)
        self.batch.lines.append((line, csv))
        self.batch.size += len(csv)
        if self.batch.size >= BATCH_BYTES:
            self.flush()

    def create(self, schema: TableSchema) -> None:
        self.flush()
        columns = ", ".join(c.ddl for c in schema.columns)
        table = _qualified(schema.name)

        def job() -> None:
            self.con.execute(f"DROP TABLE IF EXISTS {table}; CREATE TABLE {table} ({columns})")
            metadata.record(self.con, schema, utc_now())

        self.loader.submit(job)

    def read_file(self, source: Path, name: str, stream, started: dt.datetime) -> list[TableResult]:
        digest = _Hasher()
        before = self.stats.bytes_read
        tables: dict[str, TableSchema | None] = {}  # None: skipped by --tables/--exclude
        results: dict[str, TableResult] = {}
        locked: tuple[int, str] | None = None  # (line, table) of a LOCK TABLES whose UNLOCK is still to come
        completed = False  # the last line seen is mysqldump's `-- Dump completed`
        try:
            for line, statement in _statements(stream, name, self.stats, digest):
                completed = statement.startswith(TRAILER)
                head = statement[:32].upper()
                if completed:
                    continue
                if head.startswith(b"INSERT"):
                    self._insert(name, line, statement, tables, results)
                elif head.startswith(b"CREATE TABLE"):
                    self._create(name, line, statement, tables, results)
                    self._unlocked(name, locked, results)
                    locked = None
                elif lock := _LOCK.fullmatch(statement):
                    locked = (line, lock.group(1).decode("utf-8", "replace"))
                elif _UNLOCK.fullmatch(statement):
                    locked = None
                elif not _skippable(statement):
                    raise DumpError(f"{name}:{line}: statement not allowed in a dump: {_describe(statement)}")
            self._unlocked(name, locked, results)
            if not completed:
                self._cut_short(
                    results, None, f"{name}: the file does not end with mysqldump's `-- Dump completed` line"
                )
            self.flush()
        finally:
            sha = digest.hexdigest()  # also stops the hashing thread on errors
        size = self.stats.bytes_read - before
        for result in results.values():
            self._log(source, name, result, size, sha, started)
        return list(results.values())

    def _create(
        self,
        name: str,
        line: int,
        statement: bytes,
        tables: dict[str, TableSchema | None],
        results: dict[str, TableResult],
    ) -> None:
        try:
            schema = parse_create_table(statement.decode("utf-8"))
        except (SchemaError, UnicodeDecodeError) as exc:
            raise DumpError(f"{name}:{line}: {exc}") from None
        key = schema.name.lower()
        if not self.keep(schema.name):
            tables[key] = None
            return
        if key in OWN_TABLES:
            raise DumpError(
                f"{name}:{line}: a dump table named `{schema.name}` would replace kiai's own {SCHEMA}.{key}; "
                f"nothing was imported (--exclude {schema.name} skips it)"
            )
        tables[key] = schema
        results[key] = TableResult(schema.name, name)
        self.create(schema)

    def _unlocked(self, name: str, locked: tuple[int, str] | None, results: dict[str, TableResult]) -> None:
        """A table's INSERTs end (another table or the end of the file): without UNLOCK TABLES, it was cut short."""
        if locked:
            line, table = locked
            self._cut_short(results, table, f"{name}:{line}: table `{table}` has no UNLOCK TABLES after its INSERTs")

    def _cut_short(self, results: dict[str, TableResult], table: str | None, reason: str) -> None:
        """A file or table that does not end as mysqldump ends it: refused, or kept and marked."""
        if not self.allow_incomplete:
            raise DumpError(f"{reason} (cut short?); nothing was imported (--allow-incomplete keeps what it has)")
        for key, result in results.items():
            if (table is None or key == table.lower()) and result.incomplete is None:
                result.incomplete = reason.split(": ", 1)[1]

    def _insert(
        self,
        name: str,
        line: int,
        statement: bytes,
        tables: dict[str, TableSchema | None],
        results: dict[str, TableResult],
    ) -> None:
        match = _INSERT.match(statement)
        if not match:
            raise DumpError(
                f"{name}:{line}: only INSERT INTO `table` [(columns)] VALUES (…) is allowed: {_describe(statement)}"
            )
        table = match.group(1).decode("utf-8", "replace")
        key = table.lower()
        if key not in tables:
            raise DumpError(f"{name}:{line}: INSERT into `{table}` without a CREATE TABLE before it in this file")
        schema = tables[key]
        if schema is None:
            return
        columns = schema.columns
        if match.group(2) is not None:
            try:
                columns = _named_columns(schema, match.group(2))
            except ValueError as exc:
                raise DumpError(f"{name}:{line}: {exc}") from None
        values = statement[match.end() : -1]  # drop the final ; (statements end with it, stripped)
        if values[-1:] in _BLANK:
            values = values.rstrip()
        try:
            csv, rows = rows_csv(values, tuple(c.type == "BLOB" for c in columns))
        except ValuesError as exc:
            raise DumpError(f"{name}:{line}: {exc}") from None
        results[key].rows += rows
        self.stats.rows += rows
        self.add(schema, columns, name, line, csv)

    def _log(self, source: Path, name: str, result: TableResult, size: int, sha: str, started: dt.datetime) -> None:
        """Log the table's import, unless its file is the one its last import came from (same sha256)."""
        row = (str(source), name, dump_date(source.name) or dump_date(name), result.name, result.rows, size, sha)

        def job() -> None:
            last = first_row(
                self.con.execute(
                    f"SELECT sha256, rows FROM {SCHEMA}.import_log WHERE lower(table_name) = lower(?) "
                    "ORDER BY finished_at DESC LIMIT 1",
                    [result.name],
                )
            )
            if last is not None and last == (sha, result.rows):
                result.unchanged = True  # reloaded with the very same rows: nothing to record
                return
            self.con.execute(
                f"INSERT INTO {SCHEMA}.import_log (source, file, dump_date, table_name, rows, bytes, sha256, "
                "started_at, finished_at, complete) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [*row, started, utc_now(), result.incomplete is None],
            )

        self.loader.submit(job)


def _locate(batch: _Batch, exc: duckdb.Error) -> str:
    """Find the statement of a batch that DuckDB rejected, probing each one on a scratch database."""
    probe = duckdb.connect()
    columns = ", ".join(c.ddl for c in batch.schema.columns)
    probe.execute(f"CREATE SCHEMA {SCHEMA}; CREATE TABLE {_qualified(batch.schema.name)} ({columns})")
    with tempfile.TemporaryDirectory(prefix="kiai-probe-") as tmp:
        path = Path(tmp) / "line.csv"
        for line, csv in batch.lines:
            path.write_bytes(csv)
            try:
                probe.execute(_insert_sql(batch, str(path)))
            except duckdb.Error as line_exc:
                return f"{batch.where}:{line}: {_duck_message(line_exc)}"
    return f"{batch.where}: {_duck_message(exc)}"


def _duck_message(exc: duckdb.Error) -> str:
    lines = [s.strip() for s in str(exc).splitlines() if s.strip() and not s.startswith("Original Line")]
    keep = [s for s in lines if not s.startswith(("Possible", "*", "LINE", "file=", "delimiter", "quote"))]
    return "; ".join(keep[:3]).removeprefix("Invalid Input Error: ") or type(exc).__name__


def import_dump(
    con: duckdb.DuckDBPyConnection,
    paths: list[Path],
    tables: set[str] | None = None,
    exclude: set[str] | None = None,
    on_progress: Callable[[Meter, Stats], None] | None = None,
    allow_incomplete: bool = False,
) -> list[TableResult]:
    """Import every `.sql` file under `paths` into `ppy.<table>`, all or nothing.

    A file cut short (see the module docstring) is refused, or with `allow_incomplete` imported with
    the rows it has, each such table's result saying why (`incomplete`).
    """
    allow = {t.lower() for t in tables} if tables else None
    deny = {t.lower() for t in exclude or ()}

    def keep(name: str) -> bool:
        return (allow is None or name.lower() in allow) and name.lower() not in deny

    meter = Meter()
    workdir = make_scratch(database_file(con), "dump")  # beside the warehouse; swept after a kill -9
    # No insertion order while importing: a table's row order is no part of what the import promises (its rows
    # are, EXCEPT-equal), and without it DuckDB inserts each batch on all its threads, each flushing its own row
    # groups, instead of one thread keeping the order: per 32 MB batch 0.36 -> 0.28 s with a core free, the same
    # CPU. The rows still land nearly in dump order (of 2 M scores, 21 come right after a higher id).
    with memory_limit(con, MEMORY_LIMIT), setting(con, "preserve_insertion_order", False):
        con.execute("BEGIN TRANSACTION")
        job = _Import(con, keep, workdir, allow_incomplete)
        seen: dict[str, str] = {}
        try:
            ensure_tables(con)
            for dump in dump_files(paths, meter):
                started = utc_now()
                results = job.read_file(
                    dump.source, dump.name, _Progress(dump.stream, meter, job.stats, on_progress), started
                )
                for result in results:
                    if result.name.lower() in seen:
                        raise DumpError(f"table {result.name} is in both {seen[result.name.lower()]} and {dump.name}")
                    seen[result.name.lower()] = dump.name
                job.stats.tables.extend(results)
            job.loader.finish()
            missing = (allow or set()) - {r.name.lower() for r in job.stats.tables}
            if missing:
                raise DumpError(f"the dump has no table named {', '.join(sorted(missing))}; nothing was imported")
        except BaseException:
            job.loader.abort()
            con.execute("ROLLBACK")
            raise
        finally:
            remove_scratch(workdir)
        con.execute("COMMIT")
    return job.stats.tables


class _Progress:
    """Passes reads through and reports progress at most every 0.2 s."""

    def __init__(self, stream, meter: Meter, stats: Stats, callback) -> None:
        self.stream, self.meter, self.stats, self.callback = stream, meter, stats, callback
        self.last = 0.0

    def read(self, n: int) -> bytes:
        data = self.stream.read(n)
        if self.callback is not None and time.monotonic() - self.last > 0.2:
            self.last = time.monotonic()
            self.callback(self.meter, self.stats)
        return data
