"""Ad-hoc SQL over the warehouse: run statements, write results in several formats."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import json
import sys
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import duckdb

from kiai.errors import KiaiError

FORMATS = ("table", "csv", "json", "jsonl", "markdown")
# Bare names users copy from guides (`scores`, `osu_beatmaps`) resolve through this path.
SEARCH_PATH = "main,ppy,parsed,raw,features,staging,kiai"
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
        while chunk := self.cursor.fetchmany(FETCH_CHUNK):
            yield from chunk


ROW_STATEMENTS = {"SELECT", "EXPLAIN", "PRAGMA", "CALL", "RELATION"}


def _one_line(exc: duckdb.Error) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    message = lines[0] if lines else type(exc).__name__
    if "read-only" in message.lower():
        message += " (kiai sql opens the warehouse read-only; pass --write to change it)"
    return message


def set_search_path(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"SET search_path = '{SEARCH_PATH}'")


def run(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None) -> Iterator[Result]:
    """Run the statements in `sql` one by one, yielding each that produces rows.

    Consume (or discard) each result before asking for the next: running the next statement
    closes the previous cursor.
    """
    params = params or {}
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryError(_one_line(exc)) from None
    if not statements:
        raise QueryError("no SQL statement given")
    for statement in statements:
        missing = set(statement.named_parameters) - set(params)
        if missing:
            raise QueryError(f"missing parameter(s): {', '.join(sorted(missing))} (pass -p NAME VALUE)")
        wanted = {name: params[name] for name in statement.named_parameters}
        try:
            cursor = con.execute(statement.query, wanted or None)
        except duckdb.Error as exc:
            raise QueryError(_one_line(exc)) from None
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
        out.write(json.dumps(dict(zip(result.columns, row, strict=True)), default=_json_default, ensure_ascii=False))
        out.write("\n")
        count += 1
    return count


def write_json(result: Result, out: IO[str]) -> int:
    out.write("[")
    count = 0
    for row in result.rows():
        out.write(",\n" if count else "\n")
        out.write(json.dumps(dict(zip(result.columns, row, strict=True)), default=_json_default, ensure_ascii=False))
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


def write_result(result: Result, fmt: str, output: Path | None) -> int:
    """Write one result to `output` (Parquet when it ends in .parquet) or stdout; return rows written."""
    if output is not None and output.suffix.lower() == ".parquet":
        return _write_parquet(result, output)
    writer = WRITERS[fmt]
    if output is None:
        return writer(result, sys.stdout)
    try:
        with output.open("w", encoding="utf-8", newline="") as handle:
            return writer(result, handle)
    except OSError as exc:
        raise QueryError(f"cannot write {output}: {exc.strerror}") from None


def _write_parquet(result: Result, output: Path) -> int:
    """Re-run the statement inside DuckDB's COPY, which writes Parquet without passing through Python."""
    con = result.cursor
    try:
        con.execute(f"COPY ({result.statement}) TO '{_quote(str(output))}' (FORMAT parquet)", result.params or None)
        (count,) = con.execute(f"SELECT count(*) FROM read_parquet('{_quote(str(output))}')").fetchall()[0]
    except duckdb.Error as exc:
        raise QueryError(_one_line(exc)) from None
    return int(count)


def _quote(text: str) -> str:
    return text.replace("'", "''")


def render_rows(rows: Sequence[tuple[Any, ...]]) -> list[list[str]]:
    """Cells for a terminal table: NULL shown as such, bytes as hex."""
    return [["NULL" if v is None else _text(v) for v in row] for row in rows]
