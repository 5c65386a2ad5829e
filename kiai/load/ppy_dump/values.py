"""`INSERT … VALUES` rows of a dump, rewritten as CSV that DuckDB parses in bulk.

The CSV dialect: `,` between values, `'` quotes (doubled inside), unquoted `NULL` for SQL NULL,
one row per line (quoted values may hold newlines), BLOB values as hex text.

`fast_csv` rewrites a whole statement with a handful of bytes operations; it declines (returns
None) whenever a statement needs more care, and `exact_csv` then walks it value by value and
explains precisely what is wrong with it.
"""

from __future__ import annotations

import re

import numpy as np

_NUM = rb"-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_STRING = re.compile(rb"'[^']*+'")
_EXACT_VALUE = re.compile(
    rb"\s*(?:(NULL)\b|(_binary\s*)?'((?:[^'\\]++|\\.)*+)'|(" + _NUM + rb")(?![\w.])|0x([0-9A-Fa-f]*)\b)", re.S
)
_ESCAPE = re.compile(rb"\\(.)", re.S)
# How MySQL reads a backslash escape; any other escaped byte stands for itself.
_ESCAPES = {
    b"0": b"\x00",
    b"b": b"\b",
    b"n": b"\n",
    b"r": b"\r",
    b"t": b"\t",
    b"Z": b"\x1a",
    b"%": b"\\%",
    b"_": b"\\_",
}
_QUICK_ESCAPES = ((b"\\n", b"\n"), (b"\\r", b"\r"), (b"\\Z", b"\x1a"))


class ValuesError(ValueError):
    """A VALUES list that is not a list of literal tuples of the right width."""


_OUTSIDE_STRINGS = b"0123456789.eE+-NUL,()'"
BACKSLASH, DOUBLE_QUOTE = 92, 34


def _only_escaped_quotes(values: bytes) -> bool:
    """Every backslash is the start of a \\" escape (NumPy: faster than counting the pairs)."""
    data = np.frombuffer(values, dtype=np.uint8)
    backslashes = np.flatnonzero(data == BACKSLASH)
    return bool(backslashes[-1] + 1 < len(data) and (data[backslashes + 1] == DOUBLE_QUOTE).all())


def fast_csv(values: bytes, width: int) -> tuple[bytes, int] | None:
    """CSV for `(…),(…)` text written the way mysqldump writes it, and its row count; else None.

    Every check here is a bytes operation over the whole statement. What they leave to DuckDB:
    the number of values in each row and the type of each unquoted value (strict CSV, typed columns).
    """
    # `_binary` and any other word outside strings fails the character check below.
    text = values.translate(None, b"\\")
    backslashes = len(values) - len(text)
    if not backslashes or _only_escaped_quotes(values):
        # The common case (JSON text): no escape but \", so every ' opens or closes a string.
        quotes = True
    else:
        if b"\x00" in values or b"\x1a" in values:
            return None  # the placeholders below would be ambiguous
        text = values
        if backslashes:
            text = text.replace(b"\\\\", b"\x00").replace(b"\\'", b"\x1a")  # now the same holds
        quotes = False
    parts = text.split(b"'")
    if len(parts) % 2 == 0:
        return None  # an unterminated string
    skeleton = b"''".join(parts[::2])  # the text outside strings, each string shown as ''
    rows = skeleton.count(b"),(") + 1
    if (
        skeleton[:1] != b"("
        or skeleton[-1:] != b")"
        or skeleton.count(b"(") != rows
        or skeleton.count(b")") != rows
        or skeleton.translate(None, _OUTSIDE_STRINGS)
        or skeleton.count(b",''") + skeleton.count(b"(''") != len(parts) // 2  # every string starts a value
    ):
        return None
    if not quotes:
        text = text.replace(b"\x1a", b"''")
        if b"\\" in text:
            text = text.replace(b'\\"', b'"')
            for escaped, byte in _QUICK_ESCAPES:
                if escaped in text:
                    text = text.replace(escaped, byte)
            if b"\\" in text:
                return None  # rarer escapes (\\0, \\t, \\%, …): the exact path knows them all
        text = text.replace(b"\x00", b"\\")
    lines = text.split(b"),(")
    if len(lines) != rows:
        return None  # a string holds "),("
    lines[0] = lines[0][1:]  # the first row's ( and the last row's ): the skeleton starts and ends so
    lines[-1] = lines[-1][:-1]
    lines.append(b"")
    return b"\n".join(lines), rows


def _unescape(raw: bytes) -> bytes:
    if b"\\" not in raw:
        return raw
    return _ESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(1)), raw)


def _quote(text: bytes) -> bytes:
    return b"'" + text.replace(b"'", b"''") + b"'"


def _snippet(values: bytes, pos: int) -> str:
    return values[pos : pos + 40].decode("utf-8", "replace").strip() or "end of statement"


def exact_csv(values: bytes, blob_columns: tuple[bool, ...]) -> tuple[bytes, int]:
    """CSV for a VALUES list, checked value by value; ValuesError says what is wrong and where."""
    width = len(blob_columns)
    out: list[bytes] = []
    pos, end, rows = 0, len(values), 0
    while True:
        match = re.compile(rb"\s*\(").match(values, pos)
        if not match:
            raise ValuesError(f"expected a row '(' at {_snippet(values, pos)!r}")
        pos = match.end()
        rows += 1
        fields: list[bytes] = []
        while True:
            match = _EXACT_VALUE.match(values, pos)
            if not match:
                raise ValuesError(f"row {rows}: only literal values are allowed, found {_snippet(values, pos)!r}")
            pos = match.end()
            fields.append(_field(match, len(fields), blob_columns, rows))
            sep = re.compile(rb"\s*([,)])").match(values, pos)
            if not sep:
                raise ValuesError(f"row {rows}: expected ',' or ')' at {_snippet(values, pos)!r}")
            pos = sep.end()
            if sep.group(1) == b")":
                break
        if len(fields) != width:
            raise ValuesError(f"row {rows} has {len(fields)} values; the CREATE TABLE has {width} columns")
        out.append(b",".join(fields))
        match = re.compile(rb"\s*(,?)\s*").match(values, pos)
        pos = match.end()
        if pos >= end and not match.group(1):
            break
        if not match.group(1):
            raise ValuesError(f"after row {rows}: expected ',' at {_snippet(values, pos)!r}")
    return b"\n".join(out) + b"\n", rows


def _field(match: re.Match[bytes], index: int, blob_columns: tuple[bool, ...], row: int) -> bytes:
    null, binary, string, number, hexa = match.groups()
    if null:
        return b"NULL"
    blob = index < len(blob_columns) and blob_columns[index]
    if number is not None:
        return number
    raw = bytes.fromhex(hexa.decode()) if hexa is not None else _unescape(string)
    if blob:
        return b"'" + raw.hex().encode() + b"'"
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        kind = "binary" if binary or hexa is not None else "text"
        raise ValuesError(f"row {row}, column {index + 1}: {kind} value is not valid UTF-8 text") from None
    return _quote(raw)
