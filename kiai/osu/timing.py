"""[TimingPoints] for a batch of files, vectorised, and osu!'s control-point lookups.

A line is `time,beatLength,meter,sampleSet,sampleIndex,volume,uninherited,effects`; fewer than 7
fields means uninherited, fewer than 8 means no effects, a meter starting with 0 means 4.
Kiai is bit 0 of effects. At one timestamp osu! applies an inherited point after an uninherited
one whatever their order in the file; otherwise the later line wins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kiai.osu.numparse import Lines, parse_column, split_fields

DEFAULT_BEAT_LENGTH = 1000.0  # osu!'s timing when a map has no uninherited point
ZERO = 48
INT32 = 2**31 - 1
KEY_HALF = 2**33  # query times are integers within +-2**31; point times are clamped to +-KEY_HALF
KEY_SPAN = 4 * KEY_HALF  # room for one file's clamped times in a composite (file, time) key


@dataclass
class ControlPoints:
    """A lookup table sorted by (file, time, osu!'s order at equal times)."""

    file_index: np.ndarray  # int64
    time_ms: np.ndarray  # float64
    value: np.ndarray  # float64: slider velocity, or beat length

    def at(self, file_index: np.ndarray, time_ms: np.ndarray, default: float, before_first: str) -> np.ndarray:
        """The value of the last point at or before each (integer) time in its own file.

        Before a file's first point: `default` (before_first="default", as osu! does for slider
        velocity) or the file's first point (before_first="first", as for timing).
        """
        result = np.full(len(time_ms), default, dtype=np.float64)
        if len(self.time_ms) == 0 or len(time_ms) == 0:
            return result
        # one searchsorted for the whole batch on exact integer keys (file, time): for an integer
        # query time t, a point at time p is at or before it exactly when ceil(p) <= t
        point_key = self.file_index * KEY_SPAN + np.clip(np.ceil(self.time_ms), -KEY_HALF, KEY_HALF).astype(np.int64)
        query_key = file_index * KEY_SPAN + np.asarray(time_ms, dtype=np.int64)
        position = np.searchsorted(point_key, query_key, side="right") - 1
        found = position >= 0
        found[found] = self.file_index[position[found]] == file_index[found]
        result[found] = self.value[position[found]]
        if before_first == "first":
            first = np.minimum(np.searchsorted(self.file_index, file_index), len(self.file_index) - 1)
            early = ~found & (self.file_index[first] == file_index)
            result[early] = self.value[first[early]]
        return result


@dataclass
class TimingColumns:
    """Parsed timing points of a batch, in file order, with the lookups slider timing needs."""

    columns: dict[str, np.ndarray]  # file_index, point_index, time_ms, beat_length, meter, ..., effects
    velocity: ControlPoints
    beat_length: ControlPoints
    skipped_lines: np.ndarray  # per file


def _int_column(lines: Lines, k: int, default: int) -> np.ndarray:
    values, ok = parse_column(lines, k)
    present = lines.has_field(k) & ok
    return np.where(present, np.trunc(np.where(present, values, 0)).clip(-INT32, INT32), default).astype(np.int32)


def parse_timing_points(sections: list[bytes], offsets: np.ndarray) -> TimingColumns:
    """Parse the [TimingPoints] sections of a batch; `sections[i]` belongs to file i."""
    lines = split_fields(sections)
    time, time_ok = parse_column(lines, 0)
    beat_length, beat_ok = parse_column(lines, 1, allow_nan=True)  # NaN disables slider ticks in some maps
    usable = time_ok & beat_ok & lines.has_field(1)
    skipped = np.bincount(lines.file_index[~usable], minlength=len(sections))
    lines = lines.select(np.flatnonzero(usable))
    time, beat_length = time[usable] + offsets[lines.file_index], beat_length[usable]

    meter = _int_column(lines, 2, 4)
    meter_zero = lines.buf[lines.bounds(2)[0]] == ZERO  # buf ends with PAD zero bytes: always in bounds
    meter = np.where(lines.has_field(2) & meter_zero, 4, meter).astype(np.int32)
    flag = lines.buf[lines.bounds(6)[0]]
    uninherited = ~lines.has_field(6) | (flag == ord("1"))
    first_row = lines.first_row_of_file()
    columns = {
        "file_index": lines.file_index,
        "point_index": (np.arange(len(lines)) - first_row).astype(np.int32),
        "time_ms": time,
        "beat_length": beat_length,
        "meter": meter,
        "sample_set": _int_column(lines, 3, 0),
        "sample_index": _int_column(lines, 4, 0),
        "volume": _int_column(lines, 5, 100),
        "uninherited": uninherited,
        "effects": _int_column(lines, 7, 0),
    }
    # osu!'s order: by time, uninherited before inherited at the same time, then file order
    order = np.lexsort((columns["point_index"], ~uninherited, time, lines.file_index))
    o_file, o_time, o_beat, o_uninherited = (
        lines.file_index[order],
        time[order],
        beat_length[order],
        uninherited[order],
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        velocity = np.where(~o_uninherited & (o_beat < 0), 100.0 / -o_beat, 1.0)
    valid_timing = o_uninherited & (o_beat > 0) & np.isfinite(o_beat)
    return TimingColumns(
        columns=columns,
        velocity=ControlPoints(o_file, o_time, velocity),
        beat_length=ControlPoints(o_file[valid_timing], o_time[valid_timing], o_beat[valid_timing]),
        skipped_lines=skipped,
    )
