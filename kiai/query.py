"""Ad-hoc SQL over the warehouse: run statements, write results in several formats."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import json
import math
import sys
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import duckdb

from kiai.catalog import SEARCH_PATH
from kiai.errors import KiaiError
from kiai.files import atomic_path, refuse_database_target
from kiai.quoting import literal

FORMATS = ("table", "csv", "json", "jsonl", "markdown", "parquet")
# --output's suffix names its format; --format may only repeat it.
SUFFIX_FORMATS = {
    ".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".md": "markdown",
    ".markdown": "markdown", ".parquet": "parquet",
}  # fmt: skip
FETCH_CHUNK = 10_000


class QueryError(KiaiError):
    """A statement that DuckDB rejected, explained in one line."""


@dataclass
class Result:
    """One statement's result: its column names and a cursor to stream rows from.

    A result is only readable until the next statement runs on the same connection.
    """

    statement: str
    columns: list[str]
    cursor: duckdb.DuckDBPyConnection
    params: dict[str, Any] = field(default_factory=dict)

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """The rows, streamed; a statement that fails while producing them (error(), a bad cast) is a QueryError."""
        while True:
            try:
                chunk = self.cursor.fetchmany(FETCH_CHUNK)
            except duckdb.Error as exc:
                raise QueryError(explain(exc)) from None
            if not chunk:
                return
            yield from chunk


ROW_STATEMENTS = {"SELECT", "EXPLAIN", "PRAGMA", "CALL", "RELATION"}
# Statements that change which databases a connection sees: refused on a read-only connection.
CATALOG_STATEMENTS = {"ATTACH", "DETACH"}
READ_ONLY_HINT = "kiai sql opens the warehouse read-only; pass --write to change it"


def explain(exc: duckdb.Error) -> str:
    """DuckDB's error as one line with its hints ("Did you mean", candidate bindings), then the statement's
    line with the caret under the position, when DuckDB gives them."""
    lines = [line for line in str(exc).splitlines() if line.strip()]
    position = next((i for i, line in enumerate(lines) if line.startswith("LINE ")), len(lines))
    message = " ".join(lines[:position]) or type(exc).__name__
    if "read-only" in message.lower():
        message += f" ({READ_ONLY_HINT})"
    return "\n".join([message, *lines[position : position + 2]])


def set_search_path(con: duckdb.DuckDBPyConnection) -> None:
    """Bare names resolve through SEARCH_PATH's schemas (those this database has)."""
    present = {
        name
        for (name,) in con.execute(
            "SELECT schema_name FROM duckdb_schemas() WHERE database_name = current_database()"
        ).fetchall()
    }
    con.execute(f"SET search_path = {literal(','.join(s for s in SEARCH_PATH if s in present))}")


def run(
    con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None, read_only: bool = False
) -> Iterator[Result]:
    """Run the statements in `sql` one by one, yielding each that produces rows.

    Consume (or discard) each result before asking for the next: running the next statement
    closes the previous cursor. With `read_only`, ATTACH and DETACH are refused before anything runs (the
    connection is read-only as a whole anyway; this says so in one line).
    """
    params = params or {}
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryError(explain(exc)) from None
    if not statements:
        raise QueryError("no SQL statement given")
    refused = [s.type.name for s in statements if s.type.name in CATALOG_STATEMENTS]
    if read_only and refused:
        raise QueryError(f"{refused[0]} is refused without --write: kiai sql opens the warehouse read-only")
    for statement in statements:
        missing = set(statement.named_parameters) - set(params)
        if missing:
            raise QueryError(f"missing parameter(s): {', '.join(sorted(missing))} (pass -p NAME VALUE)")
        wanted = {name: params[name] for name in statement.named_parameters}
        try:
            cursor = con.execute(statement.query, wanted or None)
        except duckdb.Error as exc:
            raise QueryError(explain(exc)) from None
        if statement.type.name in ROW_STATEMENTS and cursor.description is not None:
            columns = [column[0] for column in cursor.description]
            yield Result(statement.query.strip().rstrip(";"), columns, cursor, wanted)


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, uuid.UUID | dt.timedelta):
        return str(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def _finite(value: Any) -> Any:
    """NaN and ±Infinity as None (JSON null): strict JSON has no such numbers; inside lists and structs too."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


def _json_row(columns: list[str], row: tuple[Any, ...]) -> str:
    record = {name: _finite(value) for name, value in zip(columns, row, strict=True)}
    return json.dumps(record, default=_json_default, ensure_ascii=False, allow_nan=False)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, list | dict):
        return json.dumps(value, default=_json_default, ensure_ascii=False)
    return str(value)


def write_delimited(result: Result, out: IO[str]) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(result.columns)
    count = 0
    for row in result.rows():
        writer.writerow([_text(v) for v in row])
        count += 1
    return count


def write_jsonl(result: Result, out: IO[str]) -> int:
    count = 0
    for row in result.rows():
        out.write(_json_row(result.columns, row))
        out.write("\n")
        count += 1
    return count


def write_json(result: Result, out: IO[str]) -> int:
    out.write("[")
    count = 0
    for row in result.rows():
        out.write(",\n" if count else "\n")
        out.write(_json_row(result.columns, row))
        count += 1
    out.write("\n]\n")
    return count


def write_markdown(result: Result, out: IO[str]) -> int:
    def cell(value: Any) -> str:
        return "NULL" if value is None else _text(value).replace("|", "\\|").replace("\n", " ")

    out.write("| " + " | ".join(result.columns) + " |\n")
    out.write("|" + "|".join("---" for _ in result.columns) + "|\n")
    count = 0
    for row in result.rows():
        out.write("| " + " | ".join(cell(v) for v in row) + " |\n")
        count += 1
    return count


WRITERS = {"csv": write_delimited, "json": write_json, "jsonl": write_jsonl, "markdown": write_markdown}


def output_format(fmt: str | None, output: Path | None) -> str:
    """The format to write: --format, else the one --output's suffix names, else a table on the terminal.

    A --format that contradicts the suffix is refused, and so is a file whose suffix names no format, and one
    that is a DuckDB database file or its WAL (checked before the query runs, and again when writing).
    """
    if fmt is not None and fmt not in FORMATS:
        raise QueryError(f"unknown --format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if output is None:
        if fmt == "parquet":
            raise QueryError("--format parquet writes a file: pass --output FILE.parquet")
        return fmt or "table"
    refuse_database_target(output)
    implied = SUFFIX_FORMATS.get(output.suffix.lower())
    if fmt is None:
        if implied is None:
            suffixes = ", ".join(SUFFIX_FORMATS)
            raise QueryError(f"cannot tell the format of {output} from its suffix ({suffixes}); pass --format")
        return implied
    if fmt == "table":
        raise QueryError("--format table is for the terminal; give --output a .csv, .json, .jsonl, .md or .parquet")
    if implied is not None and implied != fmt:
        raise QueryError(f"--format {fmt} contradicts --output {output.name} ({implied}); drop one of them")
    return fmt


def write_result(result: Result, fmt: str, output: Path | None) -> int:
    """Write one result to `output` or stdout; return rows written.

    A file is written to a temp file renamed onto `output` at the end, so a failed or interrupted query
    leaves an existing file as it was; a DuckDB database file (the warehouse, its WAL) is never replaced.
    """
    if fmt == "parquet":
        if output is None:
            raise QueryError("--format parquet writes a file: pass --output FILE.parquet")
        return _write_parquet(result, output)
    writer = WRITERS[fmt]
    if output is None:
        return writer(result, sys.stdout)
    try:
        with atomic_path(output) as temp, temp.open("w", encoding="utf-8", newline="") as handle:
            return writer(result, handle)
    except OSError as exc:
        raise QueryError(f"cannot write {output}: {exc.strerror}") from None


def _write_parquet(result: Result, output: Path) -> int:
    """Re-run the statement inside DuckDB's COPY, which writes Parquet without passing through Python."""
    con = result.cursor
    try:
        with atomic_path(output, suffix=".parquet") as temp:
            con.execute(f"COPY ({result.statement}) TO {literal(str(temp))} (FORMAT parquet)", result.params or None)
            (count,) = con.execute(f"SELECT count(*) FROM read_parquet({literal(str(temp))})").fetchall()[0]
    except duckdb.Error as exc:
        raise QueryError(explain(exc)) from None
    except OSError as exc:
        raise QueryError(f"cannot write {output}: {exc.strerror}") from None
    return int(count)


def render_rows(rows: Sequence[tuple[Any, ...]]) -> list[list[str]]:
    """Cells for a terminal table: NULL shown as such, bytes as hex."""
    return [["NULL" if v is None else _text(v) for v in row] for row in rows]
