"""Vectorised [HitObjects] parsing for many files at once.

The sections of a batch are joined into one byte buffer; NumPy finds lines and fields and reads
the numbers in bulk (`numparse`). Lines that make no sense (too few fields, unknown type bits,
non-numeric coordinates) are skipped and counted, as osu! skips them.

Kinds: type bit 1 circle, 2 slider, 8 spinner, 128 mania hold (the first set bit in that order
wins, as in osu!). Coordinates and times are truncated to integers as osu!stable does. Slider end
times use the file's SliderMultiplier and the slider velocity and beat length active at the
slider's start; they are NULL when the file gives no usable length. Every object records that
timing context at its start (beat length, slider velocity, kiai), by the rules in `timing.py`, and
the step into it from the object before it in time order, ties in file order (`_steps`: its place in
that order, the time since that object and the square of the distance from it, whether kiai was on
there).
Curve points are text read as UTF-8, as osu! reads the file: bytes that are not UTF-8 become U+FFFD.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kiai.osu.numparse import Lines, parse_column, parse_decimal, split_fields
from kiai.osu.sections import TIME_LIMIT
from kiai.osu.timing import DEFAULT_BEAT_LENGTH, TimingColumns

KINDS = ("circle", "slider", "spinner", "hold")
CURVE_TYPES = ("B", "C", "L", "P")
COLON, PIPE = 58, 124
SPINNER = KINDS.index("spinner")


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
    end_time_ms: np.ndarray  # int64, meaningful where end_time_valid
    end_time_valid: np.ndarray
    slides: np.ndarray  # int32, meaningful for sliders
    length: np.ndarray  # float64, NaN when absent
    curve_type: np.ndarray  # int8 index into CURVE_TYPES, -1 when absent
    curve_points_data: np.ndarray  # uint8: the sliders' point text, concatenated
    curve_points_offsets: np.ndarray  # int64, len(rows) + 1; an empty string for non-sliders
    beat_length: np.ndarray  # float64: the active uninherited beat length at the start; NaN when the file has none
    slider_velocity: np.ndarray  # float64: the active slider velocity at the start (1 before any inherited point)
    kiai: np.ndarray  # bool: kiai is on at the start
    time_order: np.ndarray  # int32: the object's place in time order (ties in file order), from 0
    has_previous: np.ndarray  # bool: an object comes before it in that order (false for the first)
    interval_ms: np.ndarray  # int64: time since the previous object's start, meaningful where has_previous
    distance_sq: np.ndarray  # float64: squared osu! px from the previous object; NaN for the first, or either a spinner
    previous_kiai: np.ndarray  # bool: kiai is on at the previous object, meaningful where has_previous
    skipped_lines: np.ndarray  # per file in the batch

    def __len__(self) -> int:
        return len(self.time_ms)


def _kind(type_bits: np.ndarray) -> np.ndarray:
    kind = np.full(len(type_bits), -1, dtype=np.int8)
    for code, bit in reversed(list(enumerate((1, 2, 8, 128)))):  # lowest bit last, so it wins
        kind[(type_bits & bit) != 0] = code
    return kind


def _end_times(lines: Lines, kind: np.ndarray, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Field 5 as a number where it is an end time: spinners and holds.

    A hold writes `endTime:hitSample`, so its number stops at the colon. For a circle the field is
    its hitSample and for a slider its curve points: neither is read.
    """
    stop = end
    holds = np.flatnonzero(kind == 3)
    if len(holds):
        colons = np.flatnonzero(lines.buf == COLON)
        if len(colons):
            next_colon = colons[np.minimum(np.searchsorted(colons, start[holds]), len(colons) - 1)]
            inside = (next_colon >= start[holds]) & (next_colon < end[holds])
            stop = end.copy()
            stop[holds[inside]] = next_colon[inside]
    rows = np.flatnonzero(((kind == 2) | (kind == 3)) & (stop > start))
    values = np.zeros(len(kind), dtype=np.float64)
    ok = np.zeros(len(kind), dtype=bool)
    values[rows], ok[rows] = parse_decimal(lines.buf, start[rows], stop[rows])
    return values, ok


def _curve_points(
    lines: Lines, sliders: np.ndarray, start: np.ndarray, end: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The sliders' control-point text (`start:end` of each slider row), gathered into one buffer with offsets.

    The ranges lie in distinct lines, in order: a byte mask of alternating gaps and ranges selects them at once.
    """
    length = np.zeros(len(lines), dtype=np.int64)
    length[sliders] = np.maximum(end - start, 0)
    offsets = np.zeros(len(lines) + 1, dtype=np.int64)
    np.cumsum(length, out=offsets[1:])
    if offsets[-1] == 0:
        return np.zeros(0, dtype=np.uint8), offsets
    nonempty = end > start
    edges = np.empty(2 * int(nonempty.sum()) + 2, dtype=np.int64)
    edges[0], edges[-1] = 0, len(lines.buf)
    edges[1:-1:2], edges[2:-1:2] = start[nonempty], end[nonempty]
    selected = np.zeros(len(edges) - 1, dtype=bool)
    selected[1::2] = True
    return lines.buf[np.repeat(selected, np.diff(edges))], offsets


def _as_utf8(data: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows of a string buffer with invalid UTF-8 bytes replaced by U+FFFD (one check when all are valid)."""
    raw = data.tobytes()
    try:
        raw.decode("utf-8")
        return data, offsets
    except UnicodeDecodeError:
        pass
    bad_rows = np.unique(np.searchsorted(offsets, np.flatnonzero(data >= 0x80), side="right") - 1)
    pieces, lengths, done = [], np.diff(offsets), 0
    for row in bad_rows:
        start, end = int(offsets[row]), int(offsets[row + 1])
        fixed = raw[start:end].decode("utf-8", errors="replace").encode("utf-8")
        pieces += [raw[done:start], fixed]
        lengths[row], done = len(fixed), end
    pieces.append(raw[done:])
    fixed_offsets = np.zeros_like(offsets)
    np.cumsum(lengths, out=fixed_offsets[1:])
    return np.frombuffer(b"".join(pieces), dtype=np.uint8), fixed_offsets


@dataclass
class Steps:
    """The step into each object from the one before it in time order (see HitObjectColumns)."""

    time_order: np.ndarray
    has_previous: np.ndarray
    interval_ms: np.ndarray
    distance_sq: np.ndarray
    previous_kiai: np.ndarray


def _steps(
    file_index: np.ndarray,
    first_row_of_file: np.ndarray,
    time_ms: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    kind: np.ndarray,
    kiai: np.ndarray,
) -> Steps:
    """Each object's step from the one before it in time order, ties in file order (rows are in file order,
    files contiguous): the order every feature model takes objects in, so no model needs a window for it.

    The squared distance is dx * dx + dy * dy in float64 from the integer coordinates, as SQL computes it in DOUBLE,
    so a model's sqrt() of it is the distance to the last bit. Stored squared: an integer-valued DOUBLE takes 5.5 MiB
    per 2.5 M objects in DuckDB, its square root 17.2 MiB (bench/ingest_osu.py's corpus).
    """
    in_order = np.ones(len(time_ms), dtype=bool)  # a row at or after the one before it, or its file's first
    in_order[1:] = (time_ms[1:] >= time_ms[:-1]) | (file_index[1:] != file_index[:-1])
    # nearly every file is in time order: then no sort (lexsort is stable: ties keep file order)
    order = np.arange(len(time_ms)) if in_order.all() else np.lexsort((time_ms, file_index))
    time_order = np.empty(len(order), dtype=np.int32)
    time_order[order] = np.arange(len(order)) - first_row_of_file[order]  # a file's rows stay in one block
    previous = np.empty(len(order), dtype=np.int64)
    previous[order[1:]] = order[:-1]
    has_previous = time_order > 0
    previous[~has_previous] = np.flatnonzero(~has_previous)  # the first object: itself, masked out below
    interval = time_ms - time_ms[previous]
    dx = (x.astype(np.int64) - x[previous]).astype(np.float64)
    dy = (y.astype(np.int64) - y[previous]).astype(np.float64)
    distance_sq = dx * dx + dy * dy
    distance_sq[~has_previous | (kind == SPINNER) | (kind[previous] == SPINNER)] = np.nan
    return Steps(time_order, has_previous, interval, distance_sq, kiai[previous] & has_previous)


def parse_hit_objects(
    sections: list[bytes], offsets: np.ndarray, slider_multiplier: np.ndarray, timing: TimingColumns
) -> HitObjectColumns:
    """Parse the [HitObjects] sections of a batch; `sections[i]` belongs to file i."""
    lines = split_fields(sections)
    numbers = [parse_column(lines, k) for k in range(5)]
    usable = lines.has_field(4) & np.logical_and.reduce([ok for _, ok in numbers])
    with np.errstate(invalid="ignore"):
        type_bits = np.where(usable, numbers[3][0], 0).astype(np.int64)
    kind = _kind(type_bits)
    in_range = np.abs(numbers[2][0]) < TIME_LIMIT
    keep = usable & (kind >= 0) & in_range
    skipped = np.bincount(lines.file_index[~keep], minlength=len(sections))

    x, y, time, _, hit_sound = (values for values, _ in numbers)
    if not keep.all():
        rows = np.flatnonzero(keep)
        lines, kind, type_bits = lines.select(rows), kind[rows], type_bits[rows]
        x, y, time, hit_sound = x[rows], y[rows], time[rows], hit_sound[rows]
    file_offset = offsets[lines.file_index]
    time_ms = np.trunc(time).astype(np.int64) + file_offset

    # spinner and hold ends (field 5)
    field5_start, field5_end = lines.bounds(5)
    raw_end, end_ok = _end_times(lines, kind, field5_start, field5_end)
    end_ok &= lines.has_field(5) & (np.abs(raw_end) < TIME_LIMIT)
    raw_end = np.trunc(np.where(end_ok, raw_end, 0.0)).astype(np.int64) + file_offset
    end_time = np.where(end_ok, np.maximum(time_ms, raw_end), time_ms)
    end_valid = (kind == 0) | (((kind == 2) | (kind == 3)) & end_ok)

    # sliders: curve type and points (field 5), slides (field 6), pixel length (field 7)
    sliders = np.flatnonzero(kind == 1)
    s_start, s_end = field5_start[sliders], field5_end[sliders]
    s_has5 = lines.has_field(5)[sliders]
    first_char = lines.buf[s_start]  # buf ends with PAD zero bytes: reading at a line end stays in bounds
    lettered = s_has5 & (lines.buf[s_start + 1] == PIPE)
    curve_type = np.full(len(lines), -1, dtype=np.int8)
    s_curve = np.full(len(sliders), -1, dtype=np.int8)
    for code, letter in enumerate(CURVE_TYPES):
        s_curve[lettered & (first_char == ord(letter))] = code
    curve_type[sliders] = s_curve
    slides_value, slides_ok = parse_column(lines, 6, rows=sliders)
    slides_ok &= lines.has_field(6)[sliders]
    s_slides = np.where(slides_ok, np.trunc(np.where(slides_ok, slides_value, 1)).clip(-TIME_LIMIT, TIME_LIMIT), 1)
    slides = np.zeros(len(lines), dtype=np.int32)
    slides[sliders] = s_slides
    length_value, length_ok = parse_column(lines, 7, allow_nan=True, rows=sliders)
    length = np.full(len(lines), np.nan)
    length[sliders] = np.where(lines.has_field(7)[sliders] & length_ok, length_value, np.nan)

    # the timing context at each object's start, which slider ends use too
    beat_length = timing.beat_length_at(lines.file_index, time_ms)
    velocity, kiai = timing.effects_at(lines.file_index, time_ms)
    s_file, s_time = lines.file_index[sliders], time_ms[sliders]
    s_beat_length = beat_length[sliders]
    s_beat_length[np.isnan(s_beat_length)] = DEFAULT_BEAT_LENGTH
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        px_per_ms = (
            100.0 * np.clip(slider_multiplier[s_file], 0.4, 3.6) * velocity[sliders]
            / np.clip(s_beat_length, 6.0, 60000.0)
        )  # fmt: skip
        duration = np.maximum(slides[sliders], 1) * length[sliders] / px_per_ms
    good = np.isfinite(duration) & (length[sliders] > 0) & (duration < TIME_LIMIT / 2)
    good[good] &= s_time[good] + duration[good] < TIME_LIMIT  # the end fits the INTEGER column
    end_time[sliders[good]] = time_ms[sliders[good]] + np.trunc(duration[good]).astype(np.int64)
    end_valid[sliders] = good

    points_start = np.where(lettered, s_start + 2, s_start)
    points_data, points_offsets = _as_utf8(
        *_curve_points(lines, sliders, points_start, np.where(s_has5, s_end, points_start))
    )
    first_row_of_file = lines.first_row_of_file()
    x = np.trunc(x).clip(-TIME_LIMIT, TIME_LIMIT).astype(np.int32)
    y = np.trunc(y).clip(-TIME_LIMIT, TIME_LIMIT).astype(np.int32)
    steps = _steps(lines.file_index, first_row_of_file, time_ms, x, y, kind, kiai)
    return HitObjectColumns(
        file_index=lines.file_index,
        object_index=(np.arange(len(lines)) - first_row_of_file).astype(np.int32),
        time_ms=time_ms,
        x=x,
        y=y,
        kind=kind,
        new_combo=(type_bits & 4) != 0,
        combo_skip=((type_bits >> 4) & 7).astype(np.int8),
        hit_sound=np.trunc(hit_sound).clip(-32768, 32767).astype(np.int16),
        end_time_ms=end_time,
        end_time_valid=end_valid,
        slides=slides,
        length=length,
        curve_type=curve_type,
        curve_points_data=points_data,
        curve_points_offsets=points_offsets,
        beat_length=beat_length,
        slider_velocity=velocity,
        kiai=kiai,
        time_order=steps.time_order,
        has_previous=steps.has_previous,
        interval_ms=steps.interval_ms,
        distance_sq=steps.distance_sq,
        previous_kiai=steps.previous_kiai,
        skipped_lines=skipped,
    )
