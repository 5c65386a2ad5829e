"""The warehouse: one DuckDB file. Connect, bootstrap schemas, friendly errors."""

from __future__ import annotations

import datetime as dt
import re
import tempfile
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import duckdb

from kiai.catalog import SCHEMA_NAMES
from kiai.errors import KiaiError
from kiai.quoting import literal

CATALOG = "warehouse"
ANCHOR = "kiai_read_only_anchor"
LOCK_POLL_SECONDS = 0.25
_open: weakref.WeakSet[duckdb.DuckDBPyConnection] = weakref.WeakSet()  # for interrupt_queries()


class WarehouseError(KiaiError):
    """The warehouse file cannot be opened or used."""


class WarehouseBusy(WarehouseError):
    """Another process holds the warehouse's lock (`pid`: that process, when DuckDB names it)."""

    def __init__(self, message: str, pid: int | None) -> None:
        super().__init__(message)
        self.pid = pid


def _explain(path: Path, exc: duckdb.Error, read_only: bool) -> WarehouseError:
    text = str(exc)
    if "Could not set lock" in text or "Conflicting lock" in text:
        found = re.search(r"PID (\d+)", text)
        pid = int(found.group(1)) if found else None
        holder = f" (process {pid})" if pid else ""
        if read_only:  # readers share the lock: the holder is writing
            return WarehouseBusy(
                f"warehouse {path} is in use by another process{holder} that is writing to it; "
                "wait for it to finish, or pass --wait SECONDS to wait for it",
                pid,
            )
        return WarehouseBusy(
            f"warehouse {path} is in use by another process{holder}; close it, or pass --wait SECONDS "
            "(or set KIAI_WAIT) to wait for it",
            pid,
        )
    if "does not exist" in text or "No such file" in text:
        return WarehouseError(f"no warehouse at {path}; run `kiai init` or an ingest command first")
    if "not a valid DuckDB database" in text or "is not a DuckDB" in text or "Invalid" in text:
        return WarehouseError(f"{path} is not a DuckDB warehouse file ({text.splitlines()[0]})")
    return WarehouseError(f"cannot open warehouse {path}: {text.splitlines()[0]}")


def connect(
    path: Path | str,
    read_only: bool = False,
    wait: float = 0.0,
    on_wait: Callable[[str], None] | None = None,
    migrate: bool = True,
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse. Writing creates the file, its folder and the schemas, and brings a warehouse of an
    older kiai up to date (`migrate`; kiai.schema.migrations); reading refuses one that needs that.

    While another process holds the lock, retry for up to `wait` seconds (telling `on_wait` once who holds
    it); then raise WarehouseBusy naming that process.
    """
    path = Path(path)
    deadline = time.monotonic() + max(wait, 0.0)
    told = False
    while True:
        try:
            return _connect_once(path, read_only, migrate)
        except WarehouseBusy as exc:
            left = deadline - time.monotonic()
            if left <= 0:
                if wait > 0:
                    holder = f"process {exc.pid}" if exc.pid else "another process"
                    raise WarehouseBusy(
                        f"warehouse {path} is still in use by {holder} after waiting {wait:g} s; "
                        "try again when it has finished, or pass a longer --wait",
                        exc.pid,
                    ) from None
                raise
            if not told and on_wait is not None:
                holder = f"process {exc.pid}" if exc.pid else "another process"
                on_wait(f"warehouse {path} is in use by {holder}; waiting up to {wait:g} s for it (--wait)")
                told = True
            time.sleep(min(LOCK_POLL_SECONDS, left))


def _connect_once(path: Path, read_only: bool, migrate: bool) -> duckdb.DuckDBPyConnection:
    if read_only and not path.exists():
        raise WarehouseError(f"no warehouse at {path}; run `kiai init` or an ingest command first")
    if not read_only:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WarehouseError(f"cannot create folder {path.parent}: {exc.strerror}") from None
    # Attached under a fixed catalog name: the default file, kiai.duckdb, would otherwise make the
    # catalog "kiai" clash with the schema "kiai".
    with _instance(read_only) as con:
        options = " (READ_ONLY)" if read_only else ""
        try:
            con.execute(f"ATTACH {literal(str(path))} AS {CATALOG}{options}")
            con.execute(f"USE {CATALOG}")
            if read_only:
                con.execute(f"DETACH {ANCHOR}")
                # spill where a writable connection would (DuckDB's default is beside the first database,
                # the anchor, whose folder is gone once the warehouse is open)
                con.execute(f"SET temp_directory = {literal(str(path) + '.tmp')}")
        except duckdb.Error as exc:
            con.close()
            raise _explain(path, exc, read_only) from None
    if not read_only:
        bootstrap(con)
    _open.add(con)  # before a migration, so that Ctrl-C interrupts it too
    from kiai.schema.migrations import on_connect

    try:
        on_connect(con, path, read_only, migrate)
    except BaseException:
        con.close()
        raise
    return con


def interrupt_queries() -> None:
    """Interrupt whatever this process's warehouse connections are running (the CLI does on Ctrl-C).

    DuckDB's own check for Ctrl-C misses some long queries; an explicit interrupt stops them at once.
    """
    for con in list(_open):
        with suppress(duckdb.Error):  # closed meanwhile
            con.interrupt()


@contextmanager
def _instance(read_only: bool) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB instance with nothing attached yet; read-only ones are read-only as a whole.

    In a read-only instance every database is attached read-only, so no statement (DETACH and ATTACH again
    included) can make the warehouse writable. DuckDB has no in-memory read-only instance: an empty
    throwaway file is its first database, detached once the warehouse is attached and in use.
    """
    if not read_only:
        yield duckdb.connect()
        return
    try:
        with tempfile.TemporaryDirectory(prefix="kiai-ro-") as folder:
            anchor = str(Path(folder) / f"{ANCHOR}.duckdb")
            duckdb.connect(anchor).close()
            yield duckdb.connect(anchor, read_only=True)
    except OSError as exc:
        raise WarehouseError(f"cannot open the warehouse read-only: no usable temp folder ({exc})") from None


def bootstrap(con: duckdb.DuckDBPyConnection) -> None:
    """Create the schemas (idempotent)."""
    for schema in SCHEMA_NAMES:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")


@contextmanager
def memory_limit(con: duckdb.DuckDBPyConnection, limit: str | None = None) -> Iterator[str]:
    """DuckDB's memory limit set to `limit` (if given) for the block, and the connection's own put back after it,
    as near as DuckDB shows it: `current_setting()` rounds a limit (1 GB as 953.6 MiB), so a default is restored
    exactly, by RESET, and a limit the user set to within 0.1 MiB.
    Yields the connection's own limit as `current_setting()` shows it."""
    ((own,),) = con.execute("SELECT current_setting('memory_limit')").fetchall()
    if limit is not None:
        con.execute(f"SET memory_limit = {literal(limit)}")
    try:
        yield own
    finally:
        con.execute("RESET memory_limit")
        ((default,),) = con.execute("SELECT current_setting('memory_limit')").fetchall()
        if default != own:
            con.execute(f"SET memory_limit = {literal(own)}")


@contextmanager
def setting(con: duckdb.DuckDBPyConnection, name: str, value: int | bool) -> Iterator[None]:
    """A DuckDB setting of a whole number or a flag (threads, max_vacuum_tasks, preserve_insertion_order) set for
    the block, the connection's own put back after it, also after an error."""
    ((own,),) = con.execute("SELECT current_setting(?)", [name]).fetchall()
    con.execute(f"SET {name} = {int(value)}")
    try:
        yield
    finally:
        con.execute(f"SET {name} = {int(own)}")


@contextmanager
def appending(con: duckdb.DuckDBPyConnection, checkpoint: bool = True) -> Iterator[None]:
    """Row groups stored as the block's appends wrote them: no vacuum at checkpoints (DuckDB's max_vacuum_tasks)
    for the block, and at its end (`checkpoint`; not inside a transaction) a checkpoint before the connection's
    setting is put back, so that no later one vacuums what the block appended.

    A batched ingest commits each batch in its own transaction, and each leaves its last row group part full;
    a vacuum merges those by rewriting every row group after the first part-full one, i.e. nearly the whole
    table: 0.7 of the 2.8 CPU-s DuckDB spent storing the ingest bench's 5,000 files (2.5 M hit objects), and a
    file 10% larger for the blocks it left free. The cost of leaving them: about one part-full row group per
    batch of ~250 k rows, and space of deleted rows (replaced files) reclaimed by a later vacuum.
    """
    with setting(con, "max_vacuum_tasks", 0):
        yield
        if checkpoint:
            con.execute("CHECKPOINT")


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN … COMMIT, rolled back on any exception (Ctrl-C included)."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def utc_now() -> dt.datetime:
    """Now as the warehouse stores every time: UTC, without a zone (TIMESTAMP columns)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def first_row(result: duckdb.DuckDBPyConnection) -> tuple[Any, ...] | None:
    """The first row of an executed query (None when it has none), reading the result to the end.

    Use it instead of `fetchone()`, for queries of one row or a few: DuckDB 2 refuses `register()` on a
    connection that holds a half-read result, and after `fetchone()` even a one-row result counts as one.
    """
    rows = result.fetchall()
    return rows[0] if rows else None


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    """Whether the current database has a table or view `schema.name`."""
    ((count,),) = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_catalog = current_database() "
        "AND table_schema = ? AND table_name = ?",
        [schema, name],
    ).fetchall()
    return count > 0


def column_names(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> set[str]:
    """The columns of table `schema.name` in the current database (none: there is no such table)."""
    rows = con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = ? AND table_name = ?",
        [schema, name],
    ).fetchall()
    return {column for (column,) in rows}


def table_counts(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str, int | None]]:
    """(schema, name, kind, rows) for every user table and view; views are counted too."""
    rows = con.execute(
        """
        SELECT table_schema, table_name, CASE table_type WHEN 'VIEW' THEN 'view' ELSE 'table' END
        FROM information_schema.tables
        WHERE table_catalog = current_database() AND table_schema NOT IN ('information_schema', 'pg_catalog')
        ORDER BY 1, 2
        """
    ).fetchall()
    result = []
    for schema, name, kind in rows:
        try:
            (count,) = con.execute(f'SELECT count(*) FROM "{schema}"."{name}"').fetchall()[0]
        except duckdb.Error:
            count = None  # a view whose upstream is gone
        result.append((schema, name, kind, count))
    return result
