"""`INSERT … VALUES` rows of a dump, rewritten as CSV that DuckDB parses in bulk.

The CSV dialect: `,` between values, `'` quotes (doubled inside), unquoted `NULL` for SQL NULL,
one row per line (quoted values may hold newlines), BLOB values as hex text.

`fast_csv` rewrites a whole statement with a handful of bytes operations, every MySQL escape
included; it declines (returns None) when a statement needs more care (a string holding `),(`, a
number out of range, `_binary`, anything but a literal). `rows_csv` then cuts the statement
into slices of a few rows and rewrites each slice the fast way, so that only the slices that need
it are walked value by value by `exact_csv`, which also explains precisely what is wrong and where.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

import numpy as np

_NUM = rb"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_ROW_START = re.compile(rb"\s*\(")
_SEPARATOR = re.compile(rb"\s*([,)])")
_AFTER_ROW = re.compile(rb"\s*(,?)\s*")
_EXACT_VALUE = re.compile(
    rb"\s*(?:(NULL)(?![\w.])|(_binary\s*)?'((?:[^'\\]++|\\.|'')*+)'|(" + _NUM + rb")(?![\w.])|0x([0-9A-Fa-f]*)\b)",
    re.S | re.I,
)
_WORD = re.compile(rb"\s*([^\s,)]*)")
_ESCAPE = re.compile(rb"\\(.)|''", re.S)
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
# The same, for text where \\ is already \x00 and \' already '': one pass turns both back
_MARKED_ESCAPE = re.compile(rb"\\(.)|\x00", re.S)
_OUTSIDE_STRINGS = b"0123456789.+-eENUL,()'"
_BIG_EXPONENT = re.compile(rb"[eE][-+]?\d{3}")
_DELIMITERS = bytes.maketrans(b"()", b",,")
_DIGITS = bytes.maketrans(b"123456789.", b"0000000000")
BACKSLASH, DOUBLE_QUOTE = 92, 34
SLICE_ROWS = 64
MAX_CUT_OUT = 64  # rows with rare escapes cut out of a statement; beyond, the statement goes whole


class ValuesError(ValueError):
    """A VALUES list that is not a list of literal tuples of the right width."""

    def __init__(self, message: str, row: int | None = None) -> None:
        super().__init__(message)
        self.message, self.row = message, row

    def __str__(self) -> str:
        return self.message if self.row is None else f"row {self.row}{self.message}"

    def after(self, rows: int) -> ValuesError:
        """The same error in a statement where `rows` rows come before the text it was found in."""
        return self if self.row is None else ValuesError(self.message, self.row + rows)


def rows_csv(values: bytes, blob_columns: tuple[bool, ...]) -> tuple[bytes, int]:
    """CSV for the `(…),(…)` text of one INSERT and its row count; ValuesError says what is wrong and where.

    A few rows with escapes other than \\" (a name with a quote, a newline, a backslash) are cut out
    and rewritten on their own, so that the rest of the statement stays on the cheapest path.
    """
    if any(blob_columns):
        return _sliced_csv(values, blob_columns, _every_few_rows(values))
    spots = _rare_escapes(values)
    if 0 < len(spots) <= MAX_CUT_OUT:
        return _sliced_csv(values, blob_columns, _around(values, spots), spots=spots)
    if (converted := fast_csv(values, plain=not len(spots))) is not None:
        return converted
    return _sliced_csv(values, blob_columns, _every_few_rows(values))


def fast_csv(values: bytes, plain: bool | None = None) -> tuple[bytes, int] | None:
    """CSV for `(…),(…)` text of literals, and its row count; None when it needs the exact path.

    Every check here is a bytes operation over the whole text (each costs ~0.1-1 ms on a 1 MB
    statement, so they are few). What they leave to DuckDB: the number of values in each row and
    the type of each unquoted value (strict CSV, typed columns), and DOUBLE range (a SQL check).
    `plain`: whether every backslash starts a \\" (None: find out).
    """
    text = values.translate(None, b"\\")
    if plain is None:
        plain = len(text) == len(values) or not len(_rare_escapes(values))
    if plain:
        marked = text  # no escape but \" (the common case: JSON text): every ' opens or closes a string
    elif b"\x00" in values or b"\x1a" in values:
        return None  # the placeholders below would be ambiguous (mysqldump escapes both bytes)
    else:
        marked = values.replace(b"\\\\", b"\x00").replace(b"\\'", b"\x1a")  # now the same holds
    parts = marked.split(b"'")
    if len(parts) % 2 == 0:
        return None  # an unterminated string
    skeleton = b"''".join(parts[::2])  # the text outside strings, each string shown as ''
    rows = _occurrences(skeleton, b"),(") + 1
    if not _only_literals(skeleton, rows, len(parts) // 2):
        return None
    if not plain:
        text = marked.replace(b"\x1a", b"''")
        if b"\\" in text:
            text = text.replace(b'\\"', b'"')  # every backslash left starts an escape: \\ is \x00 by now
        has_escapes = b"\\" in text
        text = _MARKED_ESCAPE.sub(_marked_escape, text) if has_escapes else text.replace(b"\x00", b"\\")
    lines = text.split(b"),(")
    if len(lines) != rows:
        return None  # a string holds "),("
    lines[0] = lines[0][1:]  # the first row's ( and the last row's ): the skeleton starts and ends so
    lines[-1] = lines[-1][:-1]
    lines.append(b"")
    return b"\n".join(lines), rows


def _rare_escapes(values: bytes) -> np.ndarray:
    """Offsets of the backslashes that do not start a \\" (NumPy: a JSON text holds thousands of \\")."""
    data = np.frombuffer(values, dtype=np.uint8)
    rare = (data[:-1] == BACKSLASH) & (data[1:] != DOUBLE_QUOTE)
    if values[-1:] == b"\\":
        rare = np.append(rare, True)
    return np.flatnonzero(rare) if rare.any() else np.empty(0, dtype=np.intp)


def _marked_escape(match: re.Match[bytes]) -> bytes:
    escaped = match.group(1)
    return b"\\" if escaped is None else _ESCAPES.get(escaped, escaped)


def _only_literals(skeleton: bytes, rows: int, strings: int) -> bool:
    """Whether text outside strings is rows of values, each a string, NULL or a number."""
    if (
        skeleton[:1] != b"("
        or skeleton[-1:] != b")"
        or skeleton.count(b"(") != rows
        or skeleton.count(b")") != rows
        or skeleton.translate(None, _OUTSIDE_STRINGS)  # a word, `_binary`, a space…
    ):
        return False
    # Between delimiters (( and ) written , here; NULL written N): each value a number, '' or N.
    values = skeleton.translate(_DELIMITERS, b"UL")
    if values.count(b",,") != rows - 1:
        return False  # an empty value: only the "),(" between rows makes two delimiters meet
    if _occurrences(values, b",''") != strings:
        return False  # a string in the middle of a value
    nulls = skeleton.count(b"N")
    if nulls and not (
        _occurrences(skeleton, b"NULL") == nulls
        and len(skeleton) - len(values) == 3 * nulls  # no U or L but those of NULL
        and _occurrences(values, b",N") == nulls
        and _occurrences(values, b"N,") == nulls
    ):
        return False
    if b"e" in skeleton or b"E" in skeleton:
        digits = values.translate(_DIGITS)
        exponents = skeleton.count(b"e") + skeleton.count(b"E")
        if digits.count(b"0e") + digits.count(b"0E") != exponents or _BIG_EXPONENT.search(skeleton):
            return False  # an exponent after no digit; or 1e999, out of range: the exact path says where
    return True


def _occurrences(text: bytes, pattern: bytes) -> int:
    """`text.count(pattern)` for a pattern that cannot overlap itself (no proper prefix is also a suffix: then every
    occurrence is counted either way), by NumPy: bytes.count of a 2-4 byte pattern whose first byte is as common
    as `,` in a skeleton takes ~0.25 ms per 300 kB, this ~0.06 ms (1 MB statements: 1.38 -> 0.41 ms for the five)."""
    data = np.frombuffer(text, dtype=np.uint8)
    starts = len(data) - len(pattern) + 1
    if starts <= 0:
        return 0
    found = data[:starts] == pattern[0]
    for offset in range(1, len(pattern)):
        found &= data[offset : offset + starts] == pattern[offset]
    return int(np.count_nonzero(found))


def _sliced_csv(
    values: bytes,
    blob_columns: tuple[bool, ...],
    cuts: Iterator[int],
    fine: bool = False,
    spots: np.ndarray | None = None,
) -> tuple[bytes, int]:
    """The rows in slices cut at `),(` (offsets of their `)` in `cuts`), each the fast way if it can.

    A cut inside a string leaves an odd number of quotes in the slice (its start is outside any
    string, being the end of the slice before): such a slice grows to the next cut. A slice the
    fast way declines is cut again into a few rows at a time (`fine`), and those go the exact way.
    `spots`: the offsets `_rare_escapes` found in `values`, so that the slices between them are known
    plain without scanning them again.
    """
    out: list[bytes] = []
    total, start, end = 0, 0, len(values)
    while start < end:
        stop = next(cuts, end)
        while True:
            piece = values[start : stop + 1] if stop < end else values[start:]
            plain = None if spots is None else not _any_within(spots, start, start + len(piece))
            converted = None if any(blob_columns) else fast_csv(piece, plain)
            if converted is not None or stop >= end or not _inside_string(piece):
                break
            stop = next(cuts, end)
        if converted is None:
            try:
                if fine or any(blob_columns):
                    converted = exact_csv(piece, blob_columns)
                else:
                    converted = _sliced_csv(piece, blob_columns, _every_few_rows(piece), fine=True)
            except ValuesError as exc:
                raise exc.after(total) from None
        out.append(converted[0])
        total += converted[1]
        start = stop + 2  # past "),": the next slice starts at its "("
    return b"".join(out), total


def _any_within(offsets: np.ndarray, start: int, end: int) -> bool:
    """Whether any of the sorted `offsets` is in [start, end)."""
    return bool(np.searchsorted(offsets, start) < np.searchsorted(offsets, end))


def _every_few_rows(values: bytes) -> Iterator[int]:
    """Offsets of the `)` of every SLICE_ROWS-th `),(`."""
    position, seen = values.find(b"),("), 0
    while position >= 0:
        seen += 1
        if seen % SLICE_ROWS == 0:
            yield position
        position = values.find(b"),(", position + 3)


def _around(values: bytes, spots: np.ndarray) -> Iterator[int]:
    """Offsets of the `)` of the `),(` on either side of each spot: the rows holding them become slices."""
    last = -1
    for spot in spots.tolist():
        if spot < last:
            continue  # in the row cut out already
        before = values.rfind(b"),(", 0, spot)
        if before > last:
            yield before
        last = values.find(b"),(", spot)
        if last < 0:
            return
        yield last


def _inside_string(piece: bytes) -> bool:
    """Whether the text ends inside a string: an odd number of quotes that are not escaped."""
    return piece.replace(b"\\\\", b"").replace(b"\\'", b"").replace(b"''", b"").count(b"'") % 2 == 1


def _unescape(raw: bytes) -> bytes:
    if b"\\" not in raw and b"''" not in raw:
        return raw
    return _ESCAPE.sub(lambda m: b"'" if m.group(1) is None else _ESCAPES.get(m.group(1), m.group(1)), raw)


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
        match = _ROW_START.match(values, pos)
        row = rows + 1
        if not match:
            raise ValuesError(f"expected a row '(' at {_snippet(values, pos)!r}")
        pos = match.end()
        rows += 1
        fields: list[bytes] = []
        if (closing := _SEPARATOR.match(values, pos)) and closing.group(1) == b")":
            pos = closing.end()  # `()`: a row without values
        else:
            while True:
                match = _EXACT_VALUE.match(values, pos)
                if not match:
                    raise ValuesError(_not_a_value(values, pos, len(fields) + 1), row)
                pos = match.end()
                fields.append(_field(match, len(fields), blob_columns, row))
                sep = _SEPARATOR.match(values, pos)
                if not sep:
                    raise ValuesError(f": expected ',' or ')' at {_snippet(values, pos)!r}", row)
                pos = sep.end()
                if sep.group(1) == b")":
                    break
        if len(fields) != width:
            raise ValuesError(f" has {len(fields)} values; the CREATE TABLE has {width} columns", row)
        out.append(b",".join(fields))
        match = _AFTER_ROW.match(values, pos)
        pos = match.end()
        if pos >= end and not match.group(1):
            break
        if not match.group(1):
            raise ValuesError(f": expected ',' after it at {_snippet(values, pos)!r}", row)
    return b"\n".join(out) + b"\n", rows


def _not_a_value(values: bytes, pos: int, column: int) -> str:
    word = _WORD.match(values, pos)
    found = word.group(1) if word else b""
    if not found:
        return f", column {column}: a value is missing"
    if found[:1] == b"(" or (found[:1].isalpha() and b"(" in found):
        return f": only literal values are allowed, found {_snippet(values, pos)!r}"
    return f", column {column}: only literal values are allowed, found {found.decode('utf-8', 'replace')!r}"


def _field(match: re.Match[bytes], index: int, blob_columns: tuple[bool, ...], row: int) -> bytes:
    null, binary, string, number, hexa = match.groups()
    if null:
        return b"NULL"
    blob = index < len(blob_columns) and blob_columns[index]
    if number is not None:
        if b"e" in number.lower() and not math.isfinite(float(number)):
            text = number.decode()
            raise ValuesError(f", column {index + 1}: {text} is out of range for a DOUBLE (MySQL refuses it)", row)
        return number
    raw = bytes.fromhex(hexa.decode()) if hexa is not None else _unescape(string)
    if blob:
        return b"'" + raw.hex().encode() + b"'"
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        kind = "binary" if binary or hexa is not None else "text"
        raise ValuesError(f", column {index + 1}: {kind} value is not valid UTF-8 text", row) from None
    return _quote(raw)
