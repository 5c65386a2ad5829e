"""Vectorised reading of comma-separated lines out of one big byte buffer.

`split_fields` finds the lines of many sections at once and where their commas are; `Lines.bounds`
gives the byte bounds of field k (for every line, or some rows). `parse_decimal` reads plain
decimals (`-12`, `256`, `140.5`) from such bounds, the form nearly every `.osu` line uses.
Anything else (spaces, exponents, `NaN`, very long fields) is reported as not ok, and the caller
re-reads that field with Python's own `float()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

NEWLINE, CR, SPACE, TAB, COMMA, SLASH, MINUS, DOT = 10, 13, 32, 9, 44, 47, 45, 46
MAX_WIDTH = 18  # longer fields take the slow path (and 18 digits fit an int64)
MAX_FRACTION_DIGITS = 15  # further digits do not change a float64
PAD = 64  # zero bytes after the joined sections
U64 = np.uint64
ASCII_ZEROS = U64(0x3030303030303030)
OVER_NINE = U64(0x7676767676767676)  # + 0x76 sets a byte's high bit when the byte is > 9
HIGH_BITS = U64(0x8080808080808080)
POW10 = 10 ** np.arange(MAX_WIDTH + 1, dtype=np.uint64)
FRACTION_SCALE = np.array([float(10**k) for k in range(MAX_FRACTION_DIGITS + 1)])


@dataclass
class Lines:
    """The non-blank, non-comment lines of a batch of sections, and where their commas are."""

    buf: np.ndarray  # uint8: the joined sections, then PAD zero bytes
    file_index: np.ndarray  # int64, which section each line came from
    start: np.ndarray  # int64 offsets of each line (trimmed)
    end: np.ndarray
    n_commas: np.ndarray
    first_comma: np.ndarray  # index into `separators` of each line's first comma
    separators: np.ndarray  # int64 offsets of every comma and newline in `buf`, in order
    _comma_at: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.start)

    def has_field(self, k: int) -> np.ndarray:
        return self.n_commas >= k

    def select(self, rows: np.ndarray) -> Lines:
        return Lines(
            self.buf,
            self.file_index[rows],
            self.start[rows],
            self.end[rows],
            self.n_commas[rows],
            self.first_comma[rows],
            self.separators,
        )

    def _comma(self, j: int, rows: np.ndarray | None) -> np.ndarray:
        """Offset of each line's comma number j (clamped garbage where the line has fewer)."""
        last = len(self.separators) - 1
        if rows is not None:
            return self.separators[np.minimum(self.first_comma[rows] + j, last)]
        if j not in self._comma_at:
            self._comma_at[j] = self.separators[np.minimum(self.first_comma + j, last)]
        return self._comma_at[j]

    def bounds(self, k: int, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Start and end offsets of field k, for every line or for `rows`; a missing field is empty, at the line end."""
        start, end, n_commas = self.start, self.end, self.n_commas
        if rows is not None:
            start, end, n_commas = start[rows], end[rows], n_commas[rows]
        if len(self.separators) == 0:
            return (start if k == 0 else end), end
        field_start = start if k == 0 else np.where(n_commas >= k, self._comma(k - 1, rows) + 1, end)
        return field_start, np.where(n_commas > k, self._comma(k, rows), end)

    def first_row_of_file(self) -> np.ndarray:
        """For each line, the number of the first line of its file (lines are in file order)."""
        counts = np.bincount(self.file_index)
        return np.repeat(np.cumsum(counts) - counts, counts)


def split_fields(sections: list[bytes]) -> Lines:
    """Lines of every section (joined), skipping blanks and `//` comments, and the offsets of their commas.

    One scan finds commas and newlines together, so each line's commas are the separators between its
    newline and the previous one: no search of every line start in a list of every comma.
    """
    parts = [s if s.endswith(b"\n") or not s else s + b"\n" for s in sections]
    buf = np.frombuffer(b"".join([*parts, bytes(PAD)]), dtype=np.uint8)
    section_ends = np.cumsum([len(p) for p in parts], dtype=np.int64)
    separators = np.flatnonzero((buf == NEWLINE) | (buf == COMMA))
    newlines = np.flatnonzero(buf[separators] == NEWLINE)  # every line ends with one: parts end with b"\n"
    end = separators[newlines]
    start = np.empty_like(end)
    first = np.empty_like(newlines)
    if len(end):
        start[0], first[0] = 0, 0
        start[1:], first[1:] = end[:-1] + 1, newlines[:-1] + 1
    n_commas = newlines - first  # trimming below drops blanks only: the commas stay inside the line
    last = max(len(buf) - 1, 0)
    for _ in range(2):  # trailing CR/spaces and leading spaces; two passes cover real files
        before_end = buf[np.maximum(end - 1, 0)]
        end = end - ((end > start) & ((before_end == CR) | (before_end == SPACE) | (before_end == TAB)))
        at_start = buf[np.minimum(start, last)]
        start = start + ((start < end) & ((at_start == SPACE) | (at_start == TAB)))
    keep = (end > start) & (buf[np.minimum(start, last)] != SLASH) if len(buf) else end > start
    start, end, first, n_commas = start[keep], end[keep], first[keep], n_commas[keep]
    file_index = np.searchsorted(section_ends, start, side="right")
    return Lines(buf, file_index, start, end, n_commas, first, separators)


def _padded(buf: np.ndarray) -> np.ndarray:
    """`buf` followed by PAD zero bytes, so reads past a field's end stay in bounds (and hit a non-digit)."""
    if len(buf) >= PAD and not buf[-PAD:].any():
        return buf
    return np.concatenate((buf, np.zeros(PAD, dtype=np.uint8)))


def _words(buf: np.ndarray) -> np.ndarray:
    """The little-endian 8-byte word starting at every byte of `buf` (a strided view, no copy)."""
    return np.ndarray(shape=(len(buf) - 7,), dtype="<u8", buffer=buf, strides=(1,))


def _leading_digits(words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How many of each word's bytes, first byte first, are ASCII digits before any other byte (0..8),
    and the word with each digit byte turned into its value."""
    values = words ^ ASCII_ZEROS  # digits become 0..9, every other byte something else
    # the high bit of every byte > 9; a carry can only mark bytes after the first such byte
    flags = ((values + OVER_NINE) | values) & HIGH_BITS
    lowest = flags & (~flags + U64(1))
    return np.bitwise_count(lowest - U64(1)) >> U64(3), values


def _digits_value(values: np.ndarray, count: np.ndarray) -> np.ndarray:
    """The integer written by the first `count` (0..8) digit values of each word: SWAR, three multiplies."""
    v = values << ((U64(8) - count) << U64(3))  # keep `count` digits as the high bytes, zeros before them
    v = ((v & U64(0x0F0F0F0F0F0F0F0F)) * U64(10 * 256 + 1)) >> U64(8)
    v = ((v & U64(0x00FF00FF00FF00FF)) * U64(100 * 65536 + 1)) >> U64(16)
    return ((v & U64(0x0000FFFF0000FFFF)) * U64(10000 * 2**32 + 1)) >> U64(32)


def _fraction(words: np.ndarray, first: np.ndarray, remaining: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The digits after a dot: (all digits?, their first MAX_FRACTION_DIGITS as an integer, how many were used)."""
    fraction = np.zeros(len(first), dtype=np.uint64)
    used = np.zeros(len(first), dtype=np.uint64)
    good = np.ones(len(first), dtype=bool)
    for chunk in range(0, int(remaining.max(initial=0)), 8):
        inside = np.clip(remaining - chunk, 0, 8).astype(np.uint64)
        run, values = _leading_digits(words[first + chunk])
        good &= run >= inside
        take = np.minimum(np.minimum(inside, run), U64(MAX_FRACTION_DIGITS) - used)
        fraction = fraction * POW10[take] + _digits_value(values, take)
        used += take
    return good, fraction, used


def parse_decimal(buf: np.ndarray, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parse `buf[start[i]:end[i]]` as a plain decimal for every i; return (float64 values, ok).

    Eight bytes at a time: one unaligned 64-bit gather per field, its leading digits found and
    converted with SWAR arithmetic; fields with more than 8 integer digits take further words.
    """
    n = len(start)
    if n == 0:
        return np.zeros(0, dtype=np.float64), np.zeros(0, dtype=bool)
    buf = _padded(buf)
    words = _words(buf)
    word = words[start]
    negative = (word & U64(0xFF)) == U64(MINUS)
    position = start + negative
    signed = np.flatnonzero(negative)
    if len(signed):
        word[signed] = words[position[signed]]
    width = end - position
    usable = np.where((width > 0) & (width <= MAX_WIDTH), width, 0).astype(np.uint64)
    run, values = _leading_digits(word)
    digits = np.minimum(run, usable)
    integer = _digits_value(values, digits)
    more = np.flatnonzero((digits == 8) & (usable > 8))
    offset = 8
    while len(more):  # integer parts longer than 8 digits, 8 more at a time
        run, values = _leading_digits(words[position[more] + offset])
        count = np.minimum(run, usable[more] - U64(offset))
        integer[more] = integer[more] * POW10[count] + _digits_value(values, count)
        digits[more] += count
        more = more[(count == 8) & (usable[more] > offset + 8)]
        offset += 8
    digits = digits.astype(np.int64)
    stop = position + digits
    ok = (digits == width) & (digits > 0)
    result = integer.astype(np.float64)
    dotted = np.flatnonzero((digits < width) & (buf[stop] == DOT) & (width <= MAX_WIDTH))
    if len(dotted):  # a fraction after the dot: only the rows that have one
        remaining = width[dotted] - digits[dotted] - 1
        good, fraction, used = _fraction(words, stop[dotted] + 1, remaining)
        ok[dotted] = good & ((digits[dotted] > 0) | (remaining > 0))
        result[dotted] += fraction / FRACTION_SCALE[used]
    return np.where(negative, -result, result), ok


def python_float(text: bytes) -> float | None:
    """The slow path: what Python's float() makes of a field, None when it is not a number."""
    try:
        return float(text.strip())
    except ValueError:
        return None


def parse_column(
    lines: Lines, k: int, allow_nan: bool = False, rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Field k of every line (or of `rows`) as float64, the fast path first and Python's float() for the rest."""
    start, end = lines.bounds(k, rows)
    values, ok = parse_decimal(lines.buf, start, end)
    for row in np.flatnonzero((end > start) & ~ok):
        value = python_float(lines.buf[start[row] : end[row]].tobytes())
        if value is not None and (allow_nan or np.isfinite(value)) and not np.isinf(value):
            values[row], ok[row] = value, True
    return values, ok
