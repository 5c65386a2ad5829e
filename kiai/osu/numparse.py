"""Vectorised reading of comma-separated lines out of one big byte buffer.

`split_fields` finds the lines of many sections at once and the byte bounds of their first
fields; `parse_decimal` reads plain decimals (`-12`, `256`, `140.5`) from such bounds, the form
nearly every `.osu` line uses. Anything else (spaces, exponents, `NaN`, very long fields) is
reported as not ok, and the caller re-reads that field with Python's own `float()`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NEWLINE, CR, SPACE, TAB, COMMA, SLASH, MINUS, DOT, DIGIT_0 = 10, 13, 32, 9, 44, 47, 45, 46, 48
MAX_WIDTH = 18  # longer fields take the slow path (and 18 digits fit an int64)
MAX_FRACTION_DIGITS = 15  # further digits do not change a float64
PAD = 64  # zero bytes after the joined sections


@dataclass
class Lines:
    """The non-blank, non-comment lines of a batch of sections, and the bounds of their fields."""

    buf: np.ndarray  # uint8 view of the joined sections
    data: bytes
    file_index: np.ndarray  # int64, which section each line came from
    start: np.ndarray  # int64 offsets of each line (trimmed)
    end: np.ndarray
    n_commas: np.ndarray
    field_start: list[np.ndarray]  # per field k: start offsets (= line end when the field is missing)
    field_end: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.start)

    def has_field(self, k: int) -> np.ndarray:
        return self.n_commas >= k

    def select(self, rows: np.ndarray) -> Lines:
        return Lines(
            self.buf,
            self.data,
            self.file_index[rows],
            self.start[rows],
            self.end[rows],
            self.n_commas[rows],
            [s[rows] for s in self.field_start],
            [e[rows] for e in self.field_end],
        )

    def text(self, k: int, row: int) -> bytes:
        return self.data[self.field_start[k][row] : self.field_end[k][row]]


def split_fields(sections: list[bytes], n_fields: int) -> Lines:
    """Lines of every section (joined), skipping blanks and `//` comments; bounds of fields 0..n_fields-1."""
    data = b"".join(s if s.endswith(b"\n") or not s else s + b"\n" for s in sections)
    buf = np.frombuffer(data + bytes(PAD), dtype=np.uint8)
    lengths = [len(s) + (0 if s.endswith(b"\n") or not s else 1) for s in sections]
    section_ends = np.cumsum(lengths, dtype=np.int64)
    newlines = np.flatnonzero(buf == NEWLINE)
    end = newlines.astype(np.int64)
    start = np.empty_like(end)
    if len(end):
        start[0] = 0
        start[1:] = end[:-1] + 1
    last = max(len(buf) - 1, 0)
    for _ in range(2):  # trailing CR/spaces and leading spaces; two passes cover real files
        before_end = buf[np.maximum(end - 1, 0)]
        end = end - ((end > start) & ((before_end == CR) | (before_end == SPACE) | (before_end == TAB)))
        at_start = buf[np.minimum(start, last)]
        start = start + ((start < end) & ((at_start == SPACE) | (at_start == TAB)))
    keep = (end > start) & (buf[np.minimum(start, last)] != SLASH) if len(buf) else end > start
    start, end = start[keep], end[keep]
    file_index = np.searchsorted(section_ends, start, side="right")

    commas = np.flatnonzero(buf == COMMA).astype(np.int64)
    first = np.searchsorted(commas, start)
    n_commas = np.searchsorted(commas, end) - first
    field_start, field_end = [], []
    top = max(len(commas) - 1, 0)
    for k in range(n_fields):
        if len(commas) == 0:
            field_start.append(start.copy() if k == 0 else end.copy())
            field_end.append(end.copy())
            continue
        s = start.copy() if k == 0 else np.where(n_commas >= k, commas[np.minimum(first + k - 1, top)] + 1, end)
        field_start.append(s)
        field_end.append(np.where(n_commas > k, commas[np.minimum(first + k, top)], end))
    return Lines(buf, data, file_index, start, end, n_commas, field_start, field_end)


def _padded(buf: np.ndarray) -> np.ndarray:
    """`buf` followed by PAD zero bytes, so reads past a field's end stay in bounds (and hit a non-digit)."""
    if len(buf) >= PAD and not buf[-PAD:].any():
        return buf
    return np.concatenate((buf, np.zeros(PAD, dtype=np.uint8)))


def parse_decimal(buf: np.ndarray, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parse `buf[start[i]:end[i]]` as a plain decimal for every i; return (float64 values, ok).

    Horner's rule digit by digit across all fields at once: a handful of in-place vector
    operations per character of the typical field, then the few longer fields on their own.
    """
    n = len(start)
    if n == 0:
        return np.zeros(0, dtype=np.float64), np.zeros(0, dtype=bool)
    buf = _padded(buf)
    negative = buf[start] == MINUS
    position = start + negative
    width = end - position
    integer = np.zeros(n, dtype=np.int64)
    digits = np.zeros(n, dtype=np.int64)
    running = (width > 0) & (width <= MAX_WIDTH)
    scratch = np.empty(n, dtype=np.int64)
    # dense passes up to the width that 90 % of the fields fit in; the longer rest goes row by row
    counts = np.cumsum(np.bincount(np.clip(width, 0, MAX_WIDTH), minlength=MAX_WIDTH + 1))
    dense = int(np.searchsorted(counts, 0.9 * n)) if n > 64 else MAX_WIDTH
    for j in range(min(dense, MAX_WIDTH)):  # integer part, all rows
        digit = buf[position + j] - DIGIT_0  # uint8 wraps below '0': > 9 is not a digit
        running &= digit <= 9
        running &= width > j
        np.multiply(integer, 10, out=scratch)
        scratch += digit
        np.copyto(integer, scratch, where=running)
        digits += running
    rows = np.flatnonzero(running)
    j = min(dense, MAX_WIDTH)
    while len(rows):  # integer part, the longer fields only
        digit = buf[position[rows] + j] - DIGIT_0
        still = (digit <= 9) & (width[rows] > j)
        rows, digit = rows[still], digit[still]
        integer[rows] = integer[rows] * 10 + digit
        digits[rows] += 1
        j += 1
    stop = position + digits
    ok = (digits == width) & (digits > 0)
    values = integer.astype(np.float64)
    # a fraction after the dot: only the rows that have one
    dotted = np.flatnonzero((digits < width) & (buf[stop] == DOT) & (width <= MAX_WIDTH))
    if len(dotted):
        fraction = np.zeros(len(dotted), dtype=np.int64)
        scale = np.ones(len(dotted), dtype=np.float64)
        good = np.ones(len(dotted), dtype=bool)
        remaining = width[dotted] - digits[dotted] - 1
        first = stop[dotted] + 1
        for k in range(int(remaining.max(initial=0))):
            inside = remaining > k
            digit = buf[first + k] - DIGIT_0
            good &= ~inside | (digit <= 9)
            use = inside & (digit <= 9) & (k < MAX_FRACTION_DIGITS)
            fraction = np.where(use, fraction * 10 + digit, fraction)
            scale = np.where(use, scale * 10.0, scale)
        has_digits = (digits[dotted] > 0) | (remaining > 0)
        ok[dotted] = good & has_digits
        values[dotted] += fraction / scale
    return np.where(negative, -values, values), ok


def python_float(text: bytes) -> float | None:
    """The slow path: what Python's float() makes of a field, None when it is not a number."""
    try:
        return float(text.strip())
    except ValueError:
        return None


def parse_column(lines: Lines, k: int, allow_nan: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Field k of every line as float64, the fast path first and Python's float() for the rest."""
    values, ok = parse_decimal(lines.buf, lines.field_start[k], lines.field_end[k])
    present = lines.field_end[k] > lines.field_start[k]
    for row in np.flatnonzero(present & ~ok):
        value = python_float(lines.text(k, row))
        if value is not None and (allow_nan or np.isfinite(value)) and not np.isinf(value):
            values[row], ok[row] = value, True
    return values, ok
