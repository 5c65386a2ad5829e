"""Decode a replay's frame text (`w|x|y|z,` items, the LZMA-compressed part of an `.osr`) into NumPy columns.

Fast path, vectorised: the text is cut at its non-digit bytes, every digit run between two of them is read
with SWAR arithmetic on an unaligned 64-bit word, and runs are joined into fields by the bytes around them
(`-` negates, `.` adds a fraction). The grammar it reads is `-?digits(.digits)?` for every field, integers
for `w` and `z`. Frames outside it (an exponent such as `1.676381E-08`, which real stable replays contain, a
fractional delta, broken text) are re-read one by one by `slow_item`, the reference reader, which either
parses them or names the bad frame. Fractions are joined exactly: `(int * 10**k + frac) / 10**k` of two
exact integers is Python's correctly rounded float() whenever the field has at most 15 digits.

The text is decoded in chunks of about `CHUNK_BYTES` so that the temporaries stay in the CPU cache.
"""

from __future__ import annotations

import re

import numpy as np

PIPE, COMMA, DOT, MINUS = 124, 44, 46, 45
CHUNK_BYTES = 1 << 16
MAX_RUN = 15  # longer digit runs (and fields of more digits) take the slow path: float64 is exact to 15 digits
PAD = 16  # bytes after the text, so an 8-byte read at its last byte stays in the buffer
INT32_MAX = 2**31 - 1
FLOAT32_MAX = float(np.finfo(np.float32).max)
U64 = np.uint64
POW10_FLOAT = 10.0 ** np.arange(MAX_RUN + 1)
POW10_INT = 10 ** np.arange(9, dtype=np.uint64)
FIELD_TYPES = {"w": np.int64, "x": np.float32, "y": np.float32, "z": np.int32}
NONE = np.zeros(0, dtype=np.intp)
FIELD_ORDER = np.array([PIPE, PIPE, PIPE, COMMA], dtype=np.uint8)
NUMBER_RE = re.compile(rb"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
INTEGER_RE = re.compile(rb"[+-]?\d{1,12}")  # (int() refuses very long digit strings)


class ReplayError(ValueError):
    """The bytes are not a usable `.osr` replay; the message is one line saying why."""


def _swar(v: np.ndarray) -> np.ndarray:
    """The integer written by the 8 bytes of each word: ASCII digits or zero bytes, most significant first in
    memory (the first mask keeps a digit's value, the low nibble)."""
    v = ((v & U64(0x0F0F0F0F0F0F0F0F)) * U64(10 * 256 + 1)) >> U64(8)
    v = ((v & U64(0x00FF00FF00FF00FF)) * U64(100 * 65536 + 1)) >> U64(16)
    return ((v & U64(0x0000FFFF0000FFFF)) * U64(10000 * 2**32 + 1)) >> U64(32)


def _read_chunk(chunk: bytes, first_frame: int) -> np.ndarray:
    """Fields (n, 4, float64) of the n frames of `chunk` (whole `w|x|y|z,` items); `first_frame` numbers them
    in error messages. Frames outside the fast grammar are cut out of the vectorised pass and read by
    `slow_item`, so one odd frame costs one frame's slow read, not the chunk's."""
    b = np.frombuffer(b"," + chunk + bytes(PAD), dtype=np.uint8)
    p = np.flatnonzero((b[:-PAD] - np.uint8(48)) > np.uint8(9))  # every non-digit byte; p[0] is the leading ','
    c = b[p]
    words = np.ndarray(shape=(len(b) - 7,), dtype="<u8", buffer=b, strides=(1,))
    word = np.take(words, p[:-1])  # byte 0: the non-digit c[i]; bytes 1..: run i, the digits up to c[i + 1]
    positions = p.view(np.uint64)
    length = positions[1:] - positions[:-1] - U64(1)
    is_sep = (c == PIPE) | (c == COMMA)
    is_minus, is_dot = c == MINUS, c == DOT
    # the grammar, run by run: a run is empty only right before a '-' that starts a field, a '.' has digits
    # on both sides and its fraction ends the field, runs have at most MAX_RUN digits
    bad = ~(is_sep | is_minus | is_dot)[1:]
    bad |= (length == U64(0)) ^ (is_minus[1:] & is_sep[:-1])
    bad |= is_dot[:-1] & ~is_sep[1:]
    long = np.flatnonzero(length > U64(7))
    if len(long):
        bad[long[length[long] > U64(MAX_RUN)]] = True
        dots = np.flatnonzero(is_dot)
        bad[dots[(length[dots] + length[dots - 1]) > U64(MAX_RUN)]] = True  # more digits than float64 holds exactly
    ends = np.flatnonzero(is_sep[1:])  # the run that ends each field
    seps = c[ends + 1]
    odd = NONE
    if bad.any() or len(ends) % 4 or not (seps.reshape(-1, 4) == FIELD_ORDER).all():
        odd, ends = _odd_frames(bad, ends, seps)

    # the digits as the high bytes of a word (SWAR's first mask drops their ASCII '0' nibble), then SWAR;
    # a shift of 64 or more gives 0 in NumPy (the empty runs)
    value = _swar((word >> U64(8)) << ((U64(8) - length) << U64(3)))
    if len(long):  # runs of 8..15 digits: the seven in the word, then the rest from the next word
        rest = np.minimum(length[long], U64(MAX_RUN)) - U64(7)  # (longer runs are in odd frames)
        head = _swar((word[long] >> U64(8)) << U64(8))
        tail = _swar(words[p[long] + 8] << ((U64(8) - rest) << U64(3)))
        value[long] = head * POW10_INT[rest] + tail
    runs = value.astype(np.float64)
    negative = np.flatnonzero(is_minus)  # run i starts after c[i]: these runs follow a '-'
    runs[negative] = -runs[negative]
    dots = np.flatnonzero(is_dot)  # run dots[k] is a fraction, the run before it the whole part
    if len(dots):
        whole = runs[dots - 1]
        scale = POW10_FLOAT[np.minimum(length[dots], U64(MAX_RUN)) if len(odd) else length[dots]]
        runs[dots] = (whole * scale + (np.copysign(runs[dots], whole) if len(negative) else runs[dots])) / scale

    read = runs[ends].reshape(-1, 4)
    good: np.ndarray | slice
    if len(odd):  # rows for the odd frames too, filled by slow_item below
        good = np.ones(len(read) + len(odd), dtype=bool)
        good[odd] = False
        fields = np.zeros((len(good), 4))
        fields[good] = read
    else:
        good, fields = slice(None), read
    w_end, z_end = ends[0::4], ends[3::4]  # w and z must be integers (no fraction) within int32 (10+ digits)
    w, z = fields[:, 0], fields[:, 3]
    if is_dot[w_end].any() or is_dot[z_end].any() or (len(long) and np.abs(fields[:, ::3]).max() > INT32_MAX):
        not_integer = np.zeros(len(fields), dtype=bool)
        not_integer[good] = is_dot[w_end] | is_dot[z_end]
        not_integer |= (np.abs(w) > INT32_MAX) | (np.abs(z) > INT32_MAX)
        odd = np.union1d(odd, np.flatnonzero(not_integer))
    if len(odd):
        starts = p[np.flatnonzero(c == COMMA)]  # b offsets of the ',' before each frame
        for i in odd:
            fields[i] = slow_item(b[starts[i] + 1 : starts[i + 1]].tobytes(), first_frame + int(i))
    return fields


def _odd_frames(bad_run: np.ndarray, ends: np.ndarray, seps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The frames holding a bad run or other than three '|', and the field-ending runs of the other frames."""
    closing = np.flatnonzero(seps == COMMA)  # the separator (index into ends) that closes each frame
    opening = np.concatenate(([0], closing[:-1] + 1))  # and its first one
    holding_bad = np.searchsorted(ends[closing], np.flatnonzero(bad_run))  # run r is in the frame closed at or after it
    odd = np.union1d(holding_bad, np.flatnonzero(closing - opening != 3))
    keep = np.ones(len(ends), dtype=bool)
    for frame in odd:
        keep[opening[frame] : closing[frame] + 1] = False
    return odd, ends[keep]


def _number(field: bytes, frame: int, name: str) -> float:
    text = field.strip()
    if not NUMBER_RE.fullmatch(text):
        raise ReplayError(f"frame {frame}: {name} is not a number ({_show(field)})")
    value = float(text)
    if not abs(value) <= FLOAT32_MAX:
        raise ReplayError(f"frame {frame}: {name} is out of range ({_show(field)})")
    return value


def _show(text: bytes) -> str:
    return repr(text[:40].decode("ascii", "replace")) + ("..." if len(text) > 40 else "")


def slow_item(item: bytes, frame: int) -> tuple[int, float, float, int]:
    """One frame `w|x|y|z`, read as osu! reads it: the delta w may be fractional (some lazer versions wrote
    that; rounded half to even), the keys z must be an integer, x and y must be finite."""
    fields = item.split(b"|")
    if len(fields) != 4:
        raise ReplayError(f"frame {frame}: expected 4 fields w|x|y|z, got {len(fields)} ({_show(item)})")
    w, x, y, z = fields
    delta = int(w) if INTEGER_RE.fullmatch(w.strip()) else round(_number(w, frame, "the time delta"))
    if not INTEGER_RE.fullmatch(z.strip()) or abs(int(z)) > INT32_MAX:
        raise ReplayError(f"frame {frame}: the keys are not a 32-bit integer ({_show(z)})")
    if abs(delta) > INT32_MAX:
        raise ReplayError(f"frame {frame}: the time delta is not a 32-bit integer ({_show(w)})")
    return delta, _number(x, frame, "x"), _number(y, frame, "y"), int(z)


def decode_fields(text: bytes, chunk_bytes: int = CHUNK_BYTES) -> dict[str, np.ndarray]:
    """Every item of a frame text as columns: `w` (int64), `x`, `y` (float32), `z` (int32); ReplayError on a
    bad frame. A trailing ',' (stable) or none (lazer) are both fine; any other empty item is a bad frame.

    The columns are allocated once and filled chunk by chunk, so memory holds little more than the result.
    """
    if not text.endswith(b","):
        text += b","
    n_items = text.count(b",")
    columns = {name: np.empty(n_items, dtype=dtype) for name, dtype in FIELD_TYPES.items()}
    frames = 0
    start = 0 if text != b"," else 1  # a stream of no frames may still end with its ','
    while start < len(text):
        cut = text.find(b",", start + chunk_bytes)
        end = len(text) if cut < 0 else cut + 1
        piece = _read_chunk(text[start:end], frames)
        for k, column in enumerate(columns.values()):
            column[frames : frames + len(piece)] = piece[:, k]
        frames += len(piece)
        start = end
    return {name: column[:frames] for name, column in columns.items()}
