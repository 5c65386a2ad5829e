"""Vectorised parsing of comma-separated numeric fields out of one big byte buffer.

The fast path accepts plain decimals only (`-12`, `256`, `140.5`), the form nearly every `.osu`
line uses. Anything else (spaces, exponents, `NaN`, over-long fields) is reported as not ok, and
the caller re-parses that line with Python's own `float()` so both paths agree.
"""

from __future__ import annotations

import numpy as np

DIGIT_0 = 48
MINUS = 45
DOT = 46
MAX_WIDTH = 18  # longer fields (rare: float coordinates with many decimals) take the slow path


def parse_decimal(buf: np.ndarray, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parse `buf[start[i]:end[i]]` as a plain decimal for every i; return (values, ok)."""
    n = len(start)
    values = np.zeros(n, dtype=np.float64)
    if n == 0:
        return values, np.zeros(0, dtype=bool)
    negative = (start < end) & (buf[np.minimum(start, len(buf) - 1)] == MINUS)
    first = start + negative
    width = end - first
    ok = (width > 0) & (width <= MAX_WIDTH)
    w = int(width[ok].max()) if ok.any() else 0
    if w == 0:
        return values, ok
    offsets = np.arange(w)
    index = first[:, None] + offsets[None, :]
    inside = offsets[None, :] < width[:, None]
    chars = buf[np.minimum(index, len(buf) - 1)]
    digit = chars - DIGIT_0  # uint8 wraps for bytes below '0', so > 9 flags every non-digit
    is_digit = (digit <= 9) & inside
    is_dot = (chars == DOT) & inside
    dots = is_dot.sum(axis=1)
    ok &= (is_digit | is_dot | ~inside).all(axis=1) & (dots <= 1) & is_digit.any(axis=1)
    # position of the dot, or the field width when there is none
    dot_at = np.where(dots == 1, is_dot.argmax(axis=1), width)
    exponent = dot_at[:, None] - offsets[None, :] - 1
    exponent = np.where(offsets[None, :] > dot_at[:, None], exponent + 1, exponent)
    weights = np.where(is_digit, 10.0 ** exponent.clip(-30, 30), 0.0)
    values = (digit.astype(np.float64) * weights).sum(axis=1)
    values = np.where(negative, -values, values)
    return values, ok


def python_float(text: bytes) -> float | None:
    """The slow path: what Python's float() makes of a field, None when it is not a number."""
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value
