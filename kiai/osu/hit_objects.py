"""Vectorised [HitObjects] parsing for many files at once.

The sections of a batch of files are joined into one byte buffer; NumPy finds lines and fields
and parses the numbers in bulk (`numparse.parse_decimal`). Lines the fast path cannot read
(spaces, exponents, `NaN`) are re-read with Python's float(); lines that still make no sense
(too few fields, unknown type bits) are skipped and counted, as osu! skips them.

Kinds: type bit 1 circle, 2 slider, 8 spinner, 128 mania hold (the first set bit in that order
wins, as in osu!). Slider end times use the file's SliderMultiplier and the slider velocity and
beat length active at the slider's start; they are NULL when the file gives no usable length.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kiai.osu.numparse import parse_decimal, python_float

KINDS = ("circle", "slider", "spinner", "hold")
CURVE_TYPES = ("B", "C", "L", "P")
NEWLINE, CR, SPACE, TAB, COMMA, COLON, SLASH, PIPE = 10, 13, 32, 9, 44, 58, 47, 124
DEFAULT_BEAT_LENGTH = 1000.0  # osu!'s timing when a map has no uninherited point
INT32_MAX = 2**31 - 1


@dataclass
class ControlPoints:
    """Per-batch lookup tables for slider timing, sorted by (file, time, priority)."""

    file_index: np.ndarray  # int64
    time_ms: np.ndarray  # float64
    value: np.ndarray  # float64: slider velocity, or beat length


@dataclass
class HitObjectColumns:
    """Columnar hit objects of a batch; `file_index` says which file each row belongs to."""

    file_index: np.ndarray
    object_index: np.ndarray
    time_ms: np.ndarray
    x: np.ndarray
    y: np.ndarray
    kind: np.ndarray  # int8 index into KINDS
    new_combo: np.ndarray
    combo_skip: np.ndarray
    hit_sound: np.ndarray
    end_time_ms: np.ndarray  # int64, valid where end_time_valid
    end_time_valid: np.ndarray
    slides: np.ndarray  # int32, valid for sliders
    length: np.ndarray  # float64, NaN when absent
    curve_type: np.ndarray  # int8 index into CURVE_TYPES, -1 when absent
    curve_points_data: np.ndarray  # uint8: the sliders' point text, concatenated
    curve_points_offsets: np.ndarray  # int64, len(rows) + 1; an empty string for non-sliders
    skipped_lines: np.ndarray  # per file in the batch

    def __len__(self) -> int:
        return len(self.time_ms)


def _lookup(
    points: ControlPoints, file_index: np.ndarray, time_ms: np.ndarray, default: float, before_first: str
) -> np.ndarray:
    """The value of the last control point at or before each time in its own file.

    `before_first` is "default" (use `default`) or "first" (use the file's first point), as osu!
    does for slider velocity and timing respectively.
    """
    result = np.full(len(time_ms), default, dtype=np.float64)
    if len(points.time_ms) == 0 or len(time_ms) == 0:
        return result
    # exact composite keys (file, time rank) so one searchsorted serves the whole batch
    ranks = np.unique(np.concatenate((points.time_ms, time_ms)))
    width = len(ranks) + 1
    point_key = points.file_index * width + np.searchsorted(ranks, points.time_ms)
    query_key = file_index * width + np.searchsorted(ranks, time_ms)
    position = np.searchsorted(point_key, query_key, side="right") - 1
    found = position >= 0
    found[found] = points.file_index[position[found]] == file_index[found]
    result[found] = points.value[position[found]]
    if before_first == "first":
        first = np.minimum(np.searchsorted(points.file_index, file_index), len(points.file_index) - 1)
        early = ~found & (points.file_index[first] == file_index)
        result[early] = points.value[first[early]]
    return result


def _field_bounds(
    buf: np.ndarray,
    commas: np.ndarray,
    first_comma: np.ndarray,
    n_commas: np.ndarray,
    line_start: np.ndarray,
    line_end: np.ndarray,
    k: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Start and end offsets of field k of every line (empty at line end when the field is missing)."""
    if len(commas) == 0:
        start = line_start.copy() if k == 0 else line_end.copy()
        return start, line_end.copy()
    last = len(commas) - 1
    if k == 0:
        start = line_start.copy()
    else:
        start = np.where(n_commas >= k, commas[np.minimum(first_comma + k - 1, last)] + 1, line_end)
    end = np.where(n_commas > k, commas[np.minimum(first_comma + k, last)], line_end)
    return start, end


def parse_hit_objects(
    sections: list[bytes],
    offsets: list[int],
    slider_multiplier: np.ndarray,
    velocity: ControlPoints,
    timing: ControlPoints,
) -> HitObjectColumns:
    """Parse the [HitObjects] sections of a batch; `sections[i]` belongs to file i."""
    n_files = len(sections)
    data = b"".join(sections)
    buf = np.frombuffer(data, dtype=np.uint8)
    section_ends = np.cumsum([len(s) for s in sections], dtype=np.int64)
    newlines = np.flatnonzero(buf == NEWLINE)
    line_start = (
        np.concatenate(([0], newlines[:-1] + 1)).astype(np.int64) if len(newlines) else np.zeros(0, np.int64)
    )
    line_end = newlines.astype(np.int64)
    line_file = np.searchsorted(section_ends, line_start, side="right")
    # trim: trailing CR/spaces, leading spaces (a few passes cover real files)
    for _ in range(3):
        trailing = (line_end > line_start) & np.isin(buf[np.maximum(line_end - 1, 0)], (CR, SPACE, TAB))
        line_end = line_end - trailing
        leading = (line_start < line_end) & np.isin(buf[np.minimum(line_start, len(buf) - 1)], (SPACE, TAB))
        line_start = line_start + leading
    non_empty = line_end > line_start
    comment = non_empty & (buf[np.minimum(line_start, max(len(buf) - 1, 0))] == SLASH)
    content = non_empty & ~comment
    line_start, line_end, line_file = line_start[content], line_end[content], line_file[content]

    commas = np.flatnonzero(buf == COMMA).astype(np.int64)
    first_comma = np.searchsorted(commas, line_start)
    n_commas = np.searchsorted(commas, line_end) - first_comma
    shaped = n_commas >= 4

    def field(k: int) -> tuple[np.ndarray, np.ndarray]:
        return _field_bounds(buf, commas, first_comma, n_commas, line_start, line_end, k)

    numbers = np.zeros((5, len(line_start)), dtype=np.float64)
    fast_ok = shaped.copy()
    bounds = [field(k) for k in range(8)]
    for k in range(5):
        numbers[k], ok = parse_decimal(buf, *bounds[k])
        fast_ok &= ok
    slow = np.flatnonzero(shaped & ~fast_ok)
    usable = fast_ok.copy()
    for row in slow:  # the rare odd line: Python's float() decides
        values = [python_float(data[bounds[k][0][row] : bounds[k][1][row]]) for k in range(5)]
        if all(v is not None and np.isfinite(v) for v in values):
            numbers[:, row] = values
            usable[row] = True

    type_bits = np.where(usable, numbers[3], 0).astype(np.int64)
    kind = np.select(
        [(type_bits & 1) != 0, (type_bits & 2) != 0, (type_bits & 8) != 0, (type_bits & 128) != 0],
        [0, 1, 2, 3],
        default=-1,
    ).astype(np.int8)
    in_range = np.all(np.abs(numbers[:3]) < INT32_MAX - 1000, axis=0)
    keep = usable & (kind >= 0) & in_range
    skipped_lines = np.bincount(line_file[~keep], minlength=n_files)

    rows = np.flatnonzero(keep)
    line_file = line_file[rows]
    kind = kind[rows]
    type_bits = type_bits[rows]
    file_offset = np.asarray(offsets, dtype=np.int64)[line_file]
    x = np.trunc(numbers[0, rows]).astype(np.int32)
    y = np.trunc(numbers[1, rows]).astype(np.int32)
    time_ms = np.trunc(numbers[2, rows]).astype(np.int64) + file_offset
    hit_sound = np.trunc(numbers[4, rows]).clip(-32768, 32767).astype(np.int16)
    starts = {k: bounds[k][0][rows] for k in (5, 6, 7)}
    ends = {k: bounds[k][1][rows] for k in (5, 6, 7)}
    has_field = {k: (n_commas[rows] >= k) & (ends[k] > starts[k]) for k in (5, 6, 7)}

    # spinner end (field 5) and hold end (field 5 up to ':')
    colons = np.flatnonzero(buf == COLON).astype(np.int64)
    next_colon = (
        colons[np.minimum(np.searchsorted(colons, starts[5]), max(len(colons) - 1, 0))]
        if len(colons)
        else ends[5]
    )
    end5 = np.where((kind == 3) & (next_colon < ends[5]) & (next_colon >= starts[5]), next_colon, ends[5])
    raw_end, end_ok = parse_decimal(buf, starts[5], end5)
    end_ok &= has_field[5] & np.isfinite(raw_end) & (np.abs(raw_end) < INT32_MAX - 1000)
    raw_end = np.trunc(np.where(end_ok, raw_end, 0.0)).astype(np.int64)
    end_time = np.where(end_ok, np.maximum(time_ms, raw_end + file_offset), time_ms)
    end_valid = (kind == 0) | (((kind == 2) | (kind == 3)) & end_ok)

    # sliders: curve type and points (field 5), slides (field 6), length (field 7)
    is_slider = kind == 1
    first_char = buf[np.minimum(starts[5], max(len(buf) - 1, 0))]
    second_char = buf[np.minimum(starts[5] + 1, max(len(buf) - 1, 0))]
    lettered = is_slider & has_field[5] & (second_char == PIPE)
    curve_type = np.full(len(rows), -1, dtype=np.int8)
    for code, letter in enumerate(CURVE_TYPES):
        curve_type[lettered & (first_char == ord(letter))] = code
    points_start = np.where(lettered, starts[5] + 2, starts[5])
    points_end = np.where(is_slider & has_field[5], ends[5], points_start)
    slides_value, slides_ok = parse_decimal(buf, starts[6], ends[6])
    slides = np.where(
        is_slider & slides_ok & has_field[6],
        np.trunc(slides_value).clip(-INT32_MAX, INT32_MAX),
        np.where(is_slider, 1, 0),
    ).astype(np.int32)
    length_value, length_ok = parse_decimal(buf, starts[7], ends[7])
    for row in np.flatnonzero(is_slider & has_field[7] & ~length_ok):
        value = python_float(data[starts[7][row] : ends[7][row]])
        if value is not None:
            length_value[row], length_ok[row] = value, True
    length = np.where(is_slider & has_field[7] & length_ok, length_value, np.nan)

    slider_rows = np.flatnonzero(is_slider)
    s_file = line_file[slider_rows]
    s_time = time_ms[slider_rows].astype(np.float64)
    sv = _lookup(velocity, s_file, s_time, 1.0, before_first="default")
    beat_length = _lookup(timing, s_file, s_time, DEFAULT_BEAT_LENGTH, before_first="first")
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        multiplier = np.clip(slider_multiplier[s_file], 0.4, 3.6)
        px_per_ms = 100.0 * multiplier * np.clip(sv, 0.1, 10.0) / np.clip(beat_length, 6.0, 60000.0)
        spans = np.maximum(slides[slider_rows], 1)
        duration = spans * length[slider_rows] / px_per_ms
    good = np.isfinite(duration) & (length[slider_rows] > 0) & (duration < INT32_MAX / 2)
    end_time[slider_rows[good]] = time_ms[slider_rows[good]] + np.trunc(duration[good]).astype(np.int64)
    end_valid[slider_rows] = good

    # curve point text of sliders, gathered into one buffer with offsets
    text_len = np.where(is_slider, np.maximum(points_end - points_start, 0), 0)
    offsets_out = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(text_len, out=offsets_out[1:])
    total = int(offsets_out[-1])
    gather = np.repeat(points_start - offsets_out[:-1], text_len) + np.arange(total, dtype=np.int64)
    points_data = buf[gather] if total else np.zeros(0, dtype=np.uint8)

    first_row_of_file = np.searchsorted(line_file, line_file, side="left")
    return HitObjectColumns(
        file_index=line_file.astype(np.int64),
        object_index=(np.arange(len(rows)) - first_row_of_file).astype(np.int32),
        time_ms=time_ms,
        x=x,
        y=y,
        kind=kind,
        new_combo=(type_bits & 4) != 0,
        combo_skip=((type_bits >> 4) & 7).astype(np.int8),
        hit_sound=hit_sound,
        end_time_ms=end_time,
        end_time_valid=end_valid,
        slides=slides,
        length=length,
        curve_type=curve_type,
        curve_points_data=points_data,
        curve_points_offsets=offsets_out,
        skipped_lines=skipped_lines,
    )
