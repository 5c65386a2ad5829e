"""The warehouse: one DuckDB file. Connect, bootstrap schemas, friendly errors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from kiai.errors import KiaiError

SCHEMAS = ("raw", "parsed", "ppy", "staging", "features", "kiai")
CATALOG = "warehouse"


class WarehouseError(KiaiError):
    """The warehouse file cannot be opened or used."""


def _explain(path: Path, exc: duckdb.Error) -> str:
    text = str(exc)
    if "Could not set lock" in text or "Conflicting lock" in text:
        pid = re.search(r"PID (\d+)", text)
        holder = f" (process {pid.group(1)})" if pid else ""
        return f"warehouse {path} is in use by another process{holder}; close it or pass another --db"
    if "does not exist" in text or "No such file" in text:
        return f"no warehouse at {path}; run `kiai init` or an ingest command first"
    if "not a valid DuckDB database" in text or "is not a DuckDB" in text or "Invalid" in text:
        return f"{path} is not a DuckDB warehouse file ({text.splitlines()[0]})"
    return f"cannot open warehouse {path}: {text.splitlines()[0]}"


def connect(path: Path | str, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse. Writing creates the file, its folder and the schemas."""
    path = Path(path)
    if read_only and not path.exists():
        raise WarehouseError(f"no warehouse at {path}; run `kiai init` or an ingest command first")
    if not read_only:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WarehouseError(f"cannot create folder {path.parent}: {exc.strerror}") from None
    # Attached under a fixed catalog name: the default file, kiai.duckdb, would otherwise make the
    # catalog "kiai" clash with the schema "kiai".
    con = duckdb.connect()
    options = " (READ_ONLY)" if read_only else ""
    try:
        con.execute(f"ATTACH '{_quote(str(path))}' AS {CATALOG}{options}")
        con.execute(f"USE {CATALOG}")
    except duckdb.Error as exc:
        con.close()
        raise WarehouseError(_explain(path, exc)) from None
    if not read_only:
        bootstrap(con)
    return con


def _quote(text: str) -> str:
    return text.replace("'", "''")


def bootstrap(con: duckdb.DuckDBPyConnection) -> None:
    """Create the schemas (idempotent)."""
    for schema in SCHEMAS:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")


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
