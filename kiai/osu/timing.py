"""[TimingPoints] for a batch of files, vectorised, and osu!'s timeline lookups at each hit object.

A line is `time,beatLength,meter,sampleSet,sampleIndex,volume,uninherited,effects`; fewer than 7
fields means uninherited, fewer than 8 means no effects, a meter starting with 0 means 4.
Kiai is bit 0 of effects. An inherited line sets the slider velocity (`-100 / beatLength`, clamped
to 0.1-10 as osu! does); an uninherited one sets the beat length and resets the velocity to 1.

osu!'s rule for several lines at one timestamp, written once here (`same_time_winners`), as
osu!lazer and rosu-pp read files: consecutive lines with equal times form a run, and of a run the
*first* uninherited line sets the beat length, while the *last* inherited line (else the first
uninherited one) sets the effects (kiai) and the slider velocity. A later run at the same time
(only in an unsorted section) replaces what an earlier one set. Beat lengths that are zero,
negative or not finite are invalid input and set nothing (osu! would clamp them to 6 ms).
`timing_applies` and `effects_apply` mark the winning lines for the SQL models.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kiai.osu.numparse import Lines, parse_column, split_fields

DEFAULT_BEAT_LENGTH = 1000.0  # osu!'s timing when a map has no uninherited point
MIN_VELOCITY, MAX_VELOCITY = 0.1, 10.0
ZERO = 48
INT32 = 2**31 - 1
KEY_HALF = 2**33  # query times are integers within +-2**31; point times are clamped to +-KEY_HALF
KEY_SPAN = 4 * KEY_HALF  # room for one file's clamped times in a composite (file, time) key


@dataclass
class Timeline:
    """One file's control points of one kind, at most one per time, sorted by (file, time)."""

    file_index: np.ndarray  # int64
    time_ms: np.ndarray  # float64

    def active(self, file_index: np.ndarray, time_ms: np.ndarray, before_first: bool = False) -> np.ndarray:
        """For each (integer) time, the index of the last point at or before it in its own file, -1 for none.

        With `before_first`, a time before its file's first point gets that first point (as osu! does
        for timing; slider velocity and effects have defaults there instead).
        """
        position = np.full(len(time_ms), -1, dtype=np.int64)
        if len(self.time_ms) == 0 or len(time_ms) == 0:
            return position
        # one searchsorted for the whole batch on exact integer keys (file, time): for an integer
        # query time t, a point at time p is at or before it exactly when ceil(p) <= t
        point_key = self.file_index * KEY_SPAN + np.clip(np.ceil(self.time_ms), -KEY_HALF, KEY_HALF).astype(np.int64)
        query_key = file_index * KEY_SPAN + np.asarray(time_ms, dtype=np.int64)
        found = np.searchsorted(point_key, query_key, side="right") - 1
        own = found >= 0
        own[own] = self.file_index[found[own]] == file_index[own]
        position[own] = found[own]
        if before_first:
            first = np.minimum(np.searchsorted(self.file_index, file_index), len(self.file_index) - 1)
            early = ~own & (self.file_index[first] == file_index)
            position[early] = first[early]
        return position


@dataclass
class TimingColumns:
    """Parsed timing points of a batch, in file order, and the timelines hit objects are looked up in."""

    columns: dict[str, np.ndarray]  # file_index, point_index, time_ms, beat_length, ..., effects, the two flags
    beats: Timeline  # the lines that set the beat length
    beat_length: np.ndarray  # per point of `beats`
    effects: Timeline  # the lines that set slider velocity and effects
    velocity: np.ndarray  # per point of `effects`, clamped as osu! does
    kiai: np.ndarray  # per point of `effects`
    skipped_lines: np.ndarray  # per file

    def beat_length_at(self, file_index: np.ndarray, time_ms: np.ndarray) -> np.ndarray:
        """The beat length active at each time (before a file's first point: that point's); NaN for a file
        without a valid uninherited point."""
        return _take(self.beat_length, self.beats.active(file_index, time_ms, before_first=True), np.nan)

    def effects_at(self, file_index: np.ndarray, time_ms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The slider velocity (default 1) and kiai state (default off) active at each time."""
        at = self.effects.active(file_index, time_ms)
        return _take(self.velocity, at, 1.0), _take(self.kiai, at, False)


def _take(values: np.ndarray, at: np.ndarray, default: float | bool) -> np.ndarray:
    """values[at], `default` where at is -1."""
    result = np.full(len(at), default, dtype=values.dtype)
    found = at >= 0
    result[found] = values[at[found]]
    return result


def same_time_winners(file_index: np.ndarray, time_ms: np.ndarray, *priorities: np.ndarray) -> np.ndarray:
    """Of the lines at each (file, time), the one that is last by `priorities` (most significant first)."""
    order = np.lexsort((*reversed(priorities), time_ms, file_index))
    file_sorted, time_sorted = file_index[order], time_ms[order]
    last = np.ones(len(order), dtype=bool)
    last[:-1] = (file_sorted[1:] != file_sorted[:-1]) | (time_sorted[1:] != time_sorted[:-1])
    winners = np.zeros(len(order), dtype=bool)
    winners[order[last]] = True
    return winners


def _runs(file_index: np.ndarray, time_ms: np.ndarray) -> np.ndarray:
    """A number per line, growing in file order, shared by consecutive lines of one file with equal times."""
    starts = np.ones(len(time_ms), dtype=bool)
    starts[1:] = (time_ms[1:] != time_ms[:-1]) | (file_index[1:] != file_index[:-1])
    return np.cumsum(starts)


def _timeline(file_index: np.ndarray, time_ms: np.ndarray, rows: np.ndarray) -> tuple[Timeline, np.ndarray]:
    """The timeline of the winning lines `rows` (one per (file, time)), and those rows in its order."""
    order = rows[np.lexsort((time_ms[rows], file_index[rows]))]
    return Timeline(file_index[order], time_ms[order]), order


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
    effects = _int_column(lines, 7, 0)
    file_index = lines.file_index
    point_index = (np.arange(len(lines)) - lines.first_row_of_file()).astype(np.int32)

    # osu!'s same-timestamp rule (see the module docstring): the latest run, then within it
    run = _runs(file_index, time)
    valid = uninherited & (beat_length > 0) & np.isfinite(beat_length)
    timing_applies = np.zeros(len(lines), dtype=bool)
    rows = np.flatnonzero(valid)
    timing_applies[rows] = same_time_winners(file_index[rows], time[rows], run[rows], -point_index[rows])
    effects_apply = same_time_winners(
        file_index, time, run, ~uninherited, np.where(uninherited, -point_index, point_index)
    )

    beats, beat_rows = _timeline(file_index, time, np.flatnonzero(timing_applies))
    effect_points, effect_rows = _timeline(file_index, time, np.flatnonzero(effects_apply))
    effect_beat = beat_length[effect_rows]
    with np.errstate(divide="ignore", invalid="ignore"):
        inherited_velocity = np.where(effect_beat < 0, 100.0 / -effect_beat, 1.0)
    velocity = np.where(uninherited[effect_rows], 1.0, np.clip(inherited_velocity, MIN_VELOCITY, MAX_VELOCITY))
    columns = {
        "file_index": file_index,
        "point_index": point_index,
        "time_ms": time,
        "beat_length": beat_length,
        "meter": meter,
        "sample_set": _int_column(lines, 3, 0),
        "sample_index": _int_column(lines, 4, 0),
        "volume": _int_column(lines, 5, 100),
        "uninherited": uninherited,
        "effects": effects,
        "timing_applies": timing_applies,
        "effects_apply": effects_apply,
    }
    return TimingColumns(
        columns=columns,
        beats=beats,
        beat_length=beat_length[beat_rows],
        effects=effect_points,
        velocity=velocity,
        kiai=(effects[effect_rows] & 1) == 1,
        skipped_lines=skipped,
    )
