"""`SELECT … INTO OUTFILE`, written byte for byte as MySQL 8 writes it.

MySQL's rules (sql/query_result.cc, `Query_result_export`): fields are joined by FIELDS TERMINATED BY
(a tab), lines end with LINES TERMINATED BY (a newline) after LINES STARTING BY; with ENCLOSED BY,
every value (OPTIONALLY: every string, date and time) is enclosed. Inside a string value, the escape
character (a backslash) goes before the escape character itself, the enclosing character (or, not
enclosed, the first character of the field terminator), the first character of the line terminator,
and NUL (written `\\0`). NULL is `\\N`, or `NULL` without an escape character. Numbers are never
escaped or (OPTIONALLY) enclosed; flags are 0 and 1; floating-point numbers print as MySQL prints them.
Like MySQL, an existing file is never replaced (unless `force`).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import os
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiai.errors import KiaiError
from kiai.files import is_duckdb_file, temp_path

ESCAPE_CHARS = "ntrb0ZN"  # an escape before these means something else to LOAD DATA
NUMERIC_CHARS = ".0123456789e+-"


class OutfileError(KiaiError):
    """An INTO OUTFILE that kiai will not write."""


@dataclass(frozen=True)
class OutfileFormat:
    """The FIELDS and LINES options of an INTO OUTFILE (MySQL's defaults)."""

    terminated: str = "\t"
    enclosed: str = ""
    optionally: bool = False
    escaped: str = "\\"
    starting: str = ""
    lines_terminated: str = "\n"

    def check(self) -> None:
        """Refuse what MySQL only warns about and cannot read back, and what kiai does not write."""
        if len(self.enclosed) > 1 or len(self.escaped) > 1:
            raise OutfileError("ENCLOSED BY and ESCAPED BY take one character (MySQL refuses more)")
        if not all(text.isascii() for text in (self.terminated, self.enclosed, self.escaped, self.starting)):
            raise OutfileError("INTO OUTFILE separators other than ASCII are not supported")
        if not self.terminated and not self.enclosed:
            raise OutfileError("INTO OUTFILE of fixed-width fields (no terminator, no enclosing) is not supported")
        separator = self.enclosed or self.terminated[:1]
        if separator in ESCAPE_CHARS + NUMERIC_CHARS or (self.optionally and self.terminated[:1] in NUMERIC_CHARS):
            raise OutfileError(
                f"INTO OUTFILE with {separator!r} as a separator is ambiguous (MySQL warns); not supported"
            )


@dataclass
class Outfile:
    """Where and how a SELECT writes its rows."""

    path: Path
    format: OutfileFormat = field(default_factory=OutfileFormat)
    header: list[str] | None = None  # the `(SELECT 'a', 'b') UNION ALL (SELECT …)` idiom: its first row


@dataclass(frozen=True)
class Written:
    """A finished INTO OUTFILE."""

    path: Path
    rows: int

    @property
    def message(self) -> str:
        """What the mysql client prints."""
        return f"Query OK, {self.rows:,} row{'' if self.rows == 1 else 's'} affected"


def double_text(value: float) -> str:
    """A DOUBLE as MySQL prints it: the shortest digits, plain from 1e-15 to 1e15, else like 6e16 or 2.5e-17."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(value)
    number = decimal.Decimal(repr(value)).normalize()
    if 1e-15 <= abs(value) < 1e15:
        return format(number, "f")
    sign, digits, exponent = number.as_tuple()
    mantissa = str(digits[0]) + ("." + "".join(map(str, digits[1:])) if len(digits) > 1 else "")
    return f"{'-' if sign else ''}{mantissa}e{int(exponent) + len(digits) - 1}"


def _text(value: Any) -> tuple[bytes, bool]:
    """A value's text as MySQL's val_str gives it, and whether MySQL sees a string (dates and times are)."""
    if isinstance(value, bool):
        return (b"1" if value else b"0"), False
    if isinstance(value, int):
        return str(value).encode(), False
    if isinstance(value, float):
        return double_text(value).encode(), False
    if isinstance(value, decimal.Decimal):
        return format(value, "f").encode(), False
    if isinstance(value, str):
        return value.encode("utf-8"), True
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value), True
    if isinstance(value, dt.datetime):
        text = value.replace(tzinfo=None).isoformat(
            sep=" ", timespec="microseconds" if value.microsecond else "seconds"
        )
        return text.encode(), True
    if isinstance(value, dt.date | dt.time):
        return value.isoformat().encode(), True
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, default=str).encode("utf-8"), True
    if isinstance(value, uuid.UUID | dt.timedelta):
        return str(value).encode(), True
    return str(value).encode("utf-8"), True


class _Writer:
    def __init__(self, form: OutfileFormat) -> None:
        encode = str.encode
        self.terminated, self.enclosed = encode(form.terminated), encode(form.enclosed)
        self.escaped, self.starting = encode(form.escaped), encode(form.starting)
        self.line_end = encode(form.lines_terminated or form.terminated)
        self.optionally = form.optionally
        self.null = self.escaped + b"N" if self.escaped else b"NULL"
        line_first = self.line_end[:1]
        # What the escape character goes before: itself, the enclosing character (or, when a value is
        # not enclosed, the first character of the field terminator), the line terminator's first, NUL.
        self.special = {
            enclosed: re.compile(b"[" + re.escape(self.escaped + separator + line_first + b"\0") + b"]")
            for enclosed, separator in ((True, self.enclosed), (False, self.terminated[:1]))
        }

    def _escape(self, match: re.Match[bytes]) -> bytes:
        byte = match.group()
        return self.escaped + (b"0" if byte == b"\0" else byte)

    def field(self, value: Any, all_strings: bool) -> bytes:
        if value is None:
            return self.null
        text, string = _text(value)
        string = string or all_strings
        enclosed = bool(self.enclosed) and (not self.optionally or string)
        if string and self.escaped:
            text = self.special[enclosed].sub(self._escape, text)
        return self.enclosed + text + self.enclosed if enclosed else text

    def line(self, row: Iterable[Any], all_strings: bool) -> bytes:
        return self.starting + self.terminated.join(self.field(v, all_strings) for v in row) + self.line_end


def refuse_existing(outfile: Outfile, force: bool) -> None:
    """MySQL never replaces a file (`File '…' already exists`); nor does kiai, unless forced. The warehouse,
    its WAL and any DuckDB database file are never replaced."""
    path = outfile.path
    if is_duckdb_file(path):
        raise OutfileError(f"INTO OUTFILE '{path}' would overwrite a DuckDB database file; choose another path")
    if path.exists() and not force:
        raise OutfileError(f"File '{path}' already exists (MySQL never overwrites one; --force replaces it)")


def write(outfile: Outfile, rows: Iterable[tuple[Any, ...]], force: bool) -> Written:
    """Write the rows (after the header, if any) to a temporary file beside the target, then put it in place:
    a failed query leaves no file, and the file appears whole."""
    form = outfile.format
    form.check()
    writer = _Writer(form)
    path = outfile.path
    all_strings = outfile.header is not None  # a UNION with a row of strings: every column is a string in MySQL
    tmp = temp_path(path)
    count = 0
    try:
        with tmp.open("wb") as handle:
            if outfile.header is not None:
                handle.write(writer.line(outfile.header, True))
                count += 1
            for row in rows:
                handle.write(writer.line(row, all_strings))
                count += 1
        tmp.chmod(0o644)
        if force:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails if the file appeared meanwhile
    except FileExistsError:
        raise OutfileError(f"File '{path}' already exists (MySQL never overwrites one; --force replaces it)") from None
    except OSError as exc:
        raise OutfileError(f"cannot write '{path}': {exc.strerror}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return Written(path, count)
