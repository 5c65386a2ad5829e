"""osu!'s "most common BPM": the beat length held longest, up to the last hit object's end.

Over the uninherited points that set the beat length (`timing_applies`: one per timestamp, by
osu!'s same-timestamp rule in `timing.py`, invalid beat lengths left out), in time order; the
first point is taken to start at 0 as osu!stable did; beat lengths are grouped after rounding to
1/1000 ms. This is the reference the SQL feature models are tested against.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from kiai.osu.timing import DEFAULT_BEAT_LENGTH


def most_common_beat_length(times: Sequence[float], beat_lengths: Sequence[float], last_time: float) -> float:
    """`times` and `beat_lengths` of the points that set the beat length (at most one per time)."""
    ordered = sorted(zip(times, beat_lengths, strict=True))
    durations: dict[float, float] = defaultdict(float)
    for index, (time, beat_length) in enumerate(ordered):
        if time > last_time:
            continue
        start = 0.0 if index == 0 else time
        end = last_time if index == len(ordered) - 1 else ordered[index + 1][0]
        durations[round(beat_length * 1000) / 1000] += end - start
    if not durations:
        return DEFAULT_BEAT_LENGTH
    # ties: the first beat length to reach the maximum, as osu!'s stable sort does
    return max(durations.items(), key=lambda item: item[1])[0]


def most_common_bpm(times: Sequence[float], beat_lengths: Sequence[float], last_time: float) -> float:
    return 60_000.0 / most_common_beat_length(times, beat_lengths, last_time)
