"""The .osu parser on the real fixtures (checked against rosu-pp-py) and on crafted edge cases."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import rosu_pp_py
from hypothesis import given, settings
from hypothesis import strategies as st

from kiai.osu import KINDS, parse_batch
from kiai.osu.bpm import most_common_bpm
from kiai.osu.numparse import parse_decimal
from tests.support.paths import OSU_FIXTURES, SAME_TIME_FIXTURES

REAL_FILES = sorted(OSU_FIXTURES.glob("*.osu"))
SAME_TIME_FILES = sorted(SAME_TIME_FIXTURES.glob("*.osu"))
FIXTURE_FILES = REAL_FILES + SAME_TIME_FILES
ROSU_MODES = {"GameMode.Osu": 0, "GameMode.Taiko": 1, "GameMode.Catch": 2, "GameMode.Mania": 3}


@pytest.fixture(scope="module")
def fixtures_batch():
    return parse_batch([path.read_bytes() for path in FIXTURE_FILES])


def one(text: str | bytes):
    """Parse one file; return (metadata, hit objects as row dicts, timing columns, breaks)."""
    batch = parse_batch([text.encode() if isinstance(text, str) else text])
    parsed = batch.files[0]
    ho = batch.hit_objects
    rows = [
        {
            "time": int(ho.time_ms[i]),
            "x": int(ho.x[i]),
            "y": int(ho.y[i]),
            "kind": KINDS[ho.kind[i]],
            "new_combo": bool(ho.new_combo[i]),
            "end": int(ho.end_time_ms[i]) if ho.end_time_valid[i] else None,
            "slides": int(ho.slides[i]),
            "length": float(ho.length[i]),
        }
        for i in range(len(ho))
    ]
    return parsed, rows, batch.timing_points, batch.breaks


def test_every_fixture_parses(fixtures_batch):
    assert (len(REAL_FILES), len(SAME_TIME_FILES)) == (43, 3)
    errors = {path.name: f.error for path, f in zip(FIXTURE_FILES, fixtures_batch.files, strict=True) if f.error}
    assert errors == {}
    assert all(f.metadata["skipped_lines"] == 0 for f in fixtures_batch.files)


@pytest.mark.parametrize("index", range(len(FIXTURE_FILES)), ids=[p.name for p in FIXTURE_FILES])
def test_agrees_with_rosu_pp(fixtures_batch, index):
    """Mode, format version, object counts and the most common BPM equal rosu-pp-py's."""
    path = FIXTURE_FILES[index]
    theirs = rosu_pp_py.Beatmap(path=str(path))
    meta = fixtures_batch.files[index].metadata
    assert meta["mode"] == ROSU_MODES[str(theirs.mode)]
    assert meta["format_version"] == theirs.version
    counts = (meta["n_circles"], meta["n_sliders"], meta["n_spinners"], meta["n_holds"])
    assert counts == (theirs.n_circles, theirs.n_sliders, theirs.n_spinners, theirs.n_holds)

    ho, tp = fixtures_batch.hit_objects, fixtures_batch.timing_points
    mine = ho.file_index == index
    ends = np.where(ho.end_time_valid[mine], ho.end_time_ms[mine], ho.time_ms[mine])
    points = tp["file_index"] == index
    sets_timing = tp["timing_applies"][points]
    last = ends.max() if mine.any() else (tp["time_ms"][points].max() if points.any() else 0)
    bpm = most_common_bpm(tp["time_ms"][points][sets_timing], tp["beat_length"][points][sets_timing], last)
    if not sets_timing.any():
        # No timing point at all: osu! falls back to its default beat length (1000 ms, 60 BPM);
        # rosu-pp-py divides by a zero beat length and reports infinity.
        assert math.isinf(theirs.bpm) and bpm == 60.0
    else:
        assert bpm == pytest.approx(theirs.bpm, rel=1e-9)


V14 = """osu file format v14

[General]
Mode: 0

[Difficulty]
HPDrainRate:5
CircleSize:4
OverallDifficulty:8
SliderMultiplier:1.5
SliderTickRate:1

[TimingPoints]
0,500,4,2,0,60,1,0
1000,-50,4,2,0,60,0,1
2000,500,4,2,0,60
3000,-200

[HitObjects]
100,100,500,1,0,0:0:0:0:
100,100,1000,2,0,B|200:100|300:100,2,150
100,100,2000,6,0,L|200:100,1,75
256,192,2500,12,0,4000,0:0:0:0:
"""


def test_slider_end_times_use_multiplier_velocity_and_slides():
    meta, rows, timing, _ = one(V14)
    assert meta.error is None
    circle, fast_slider, slider, spinner = rows
    # SV 2 at 1000 (beat length -50): 1.5 * 100 * 2 / 500 = 0.6 px/ms; 2 slides x 150 px = 500 ms
    assert (fast_slider["kind"], fast_slider["slides"], fast_slider["end"]) == ("slider", 2, 1500)
    # uninherited point at 2000 resets SV to 1: 0.3 px/ms, 75 px = 250 ms
    assert (slider["kind"], slider["new_combo"], slider["end"]) == ("slider", True, 2250)
    assert (spinner["kind"], spinner["end"]) == ("spinner", 4000)
    assert circle["end"] == circle["time"] == 500
    # AR defaults to OD in files without ApproachRate
    assert meta.metadata["ar"] == 8
    # 6 fields: uninherited, no effects; 2 fields: uninherited too (no 7th field)
    assert list(timing["uninherited"]) == [True, False, True, True]
    assert list(timing["effects"]) == [0, 1, 0, 0]
    assert list(timing["volume"]) == [60, 60, 60, 100]


def test_a_fractional_timing_point_applies_only_from_its_time():
    """A point at 1000.5 is after a slider at 1000 and before one at 1001 (exact, not rounded)."""
    text = (
        "osu file format v14\n[Difficulty]\nSliderMultiplier:1.5\n[TimingPoints]\n0,500,4,2,0,60,1,0\n"
        "1000.5,-50,4,2,0,60,0,0\n[HitObjects]\n100,100,1000,2,0,B|200:100,1,150\n100,100,1001,2,0,B|200:100,1,150\n"
    )
    _, rows, _, _ = one(text)
    # SV 1 at 1000: 0.3 px/ms, 150 px = 500 ms; SV 2 at 1001: 250 ms
    assert [r["end"] for r in rows] == [1500, 1251]


def test_old_format_times_get_osu_offset_and_trailing_empty_field():
    text = "osu file format v3\r\n\r\n[TimingPoints]\r\n1600,422.5\r\n\r\n[HitObjects]\r\n128,304,16811,1,0,\r\n"
    meta, rows, timing, _ = one(text)
    assert meta.metadata["format_version"] == 3
    assert rows[0]["time"] == 16811 + 24  # osu! adds 24 ms below v5; stored times are as played
    assert timing["time_ms"][0] == 1600 + 24


def test_bom_blank_lines_comments_junk_and_floats():
    text = (
        "\ufeff\n\n   osu file format v14\n\n[Metadata]\nTitle: Héllo\nBeatmapID:77\n\n[HitObjects]\n"
        "// a comment\n"
        "this is junk\n"
        "1,2\n"
        "256.9,-10.5,1000.7,1,0\n"
        "50,60,2000,0,0\n"  # no type bit: skipped like osu! does
        "  10 , 20 , 3000 , 1 , 0\n"  # spaces: read by the slow path
    )
    meta, rows, _, _ = one(text.encode("utf-8"))
    assert meta.metadata["title"] == "Héllo" and meta.metadata["beatmap_id"] == 77
    assert [(r["x"], r["y"], r["time"]) for r in rows] == [(256, -10, 1000), (10, 20, 3000)]
    assert meta.metadata["skipped_lines"] == 3


def test_no_header_defaults_to_v14_and_missing_sections():
    meta, rows, timing, breaks = one("[HitObjects]\n64,64,100,1,0\n")
    assert meta.metadata["format_version"] == 14 and meta.metadata["mode"] == 0
    assert len(rows) == 1 and len(timing["time_ms"]) == 0 and len(breaks["start_ms"]) == 0
    assert meta.metadata["slider_multiplier"] == 1.4


def test_mania_holds_and_breaks():
    text = (
        'osu file format v14\n[General]\nMode: 3\n[Events]\n0,0,"bg.jpg"\n2,5000,8000\nBreak,9000,9500\n'
        "[HitObjects]\n64,192,1000,128,0,1500:0:0:0:0:\n192,192,1200,1,0,0:0:0:0:\n"
    )
    meta, rows, _, breaks = one(text)
    assert [r["kind"] for r in rows] == ["hold", "circle"]
    assert rows[0]["end"] == 1500
    assert list(zip(breaks["start_ms"], breaks["end_ms"], strict=True)) == [(5000, 8000), (9000, 9500)]
    assert meta.metadata["n_holds"] == 1


def test_a_circle_ends_where_it_starts_whatever_its_sample_field_holds():
    """Field 5 is a circle's hitSample: even a bare number there is not an end time (osu! reads no end)."""
    _, rows, _, _ = one("[HitObjects]\n64,64,100,1,0,5000\n64,64,200,1,0,0:0:0:0:\n64,64,300,8,0,900\n")
    assert [(r["kind"], r["end"]) for r in rows] == [("circle", 100), ("circle", 200), ("spinner", 900)]


def test_out_of_range_break_is_skipped_not_a_crash():
    """A break time too big for an integer used to abort the whole batch."""
    text = "osu file format v14\n[Events]\n2,12345678901234567890,5\n2,100,200\n[HitObjects]\n64,64,100,1,0\n"
    batch = parse_batch([text.encode(), V14.encode()])
    assert [f.error for f in batch.files] == [None, None]
    assert list(batch.breaks["start_ms"]) == [100]


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "not an .osu file"),
        (b"<!DOCTYPE html><html><body>Not found</body></html>", "not an .osu file"),
        (b"osu file format v14\n[General]\nMode: 7\n", "unknown mode"),
    ],
)
def test_unusable_files_become_errors(data, message):
    batch = parse_batch([data, V14.encode()])
    assert message in batch.files[0].error
    assert batch.files[1].error is None and len(batch.hit_objects) == 4  # the other file is unaffected


def test_kiai_and_same_timestamp_timing_fixture(fixtures_batch):
    index = [p.name for p in FIXTURE_FILES].index("overlapping-control-points.osu")
    tp = fixtures_batch.timing_points
    mine = tp["file_index"] == index
    raw = (OSU_FIXTURES / "overlapping-control-points.osu").read_text().split("[TimingPoints]")[1]
    lines = [line for line in raw.strip().splitlines() if line.strip() and "," in line]
    assert mine.sum() == len(lines)
    assert list(tp["effects"][mine] & 1) == [int(line.split(",")[7]) & 1 for line in lines]


def timing_block(text: str) -> list[str]:
    return text.split("[TimingPoints]\n")[1].split("\n\n")[0].splitlines()


def rosu_view(text: str) -> tuple:
    """What rosu-pp (osu!lazer's reading of a file) makes of a map: its BPM and its aim and speed strains,
    which follow each slider's end time (its duration from the beat length and velocity at its start)."""
    beatmap = rosu_pp_py.Beatmap(content=text)
    strains = rosu_pp_py.Difficulty().strains(beatmap)
    return beatmap.bpm, strains.aim, strains.speed


def rows_of(text: str) -> dict[str, list]:
    ho = parse_batch([text.encode()]).hit_objects
    columns = ("time_ms", "end_time_ms", "end_time_valid", "beat_length", "slider_velocity", "kiai")
    return {name: getattr(ho, name).tolist() for name in columns}


@pytest.mark.parametrize("path", SAME_TIME_FILES, ids=[p.name for p in SAME_TIME_FILES])
def test_the_same_timestamp_rule_is_rosu_pps(path):
    """Several timing lines at one time: the parser marks which one sets the beat length (`timing_applies`) and
    which the velocity and effects (`effects_apply`). rosu-pp reads the file exactly as the file that keeps only
    those lines (same BPM, same strains, so the same slider ends), and so does the parser; keeping a losing
    uninherited line instead of the winner changes what rosu-pp computes, so the fixture tells the rules apart."""
    text = path.read_text(encoding="utf-8")
    lines = timing_block(text)
    tp = parse_batch([text.encode()]).timing_points
    applies = tp["timing_applies"] | tp["effects_apply"]
    kept = [line for line, keep in zip(lines, applies, strict=True) if keep]
    only_winners = text.replace("\n".join(lines), "\n".join(kept))
    assert len(kept) < len(lines)
    assert rosu_view(text) == rosu_view(only_winners)
    assert rows_of(text) == rows_of(only_winners)
    for loser in np.flatnonzero(tp["uninherited"] & ~tp["timing_applies"]):
        time = tp["time_ms"][loser]
        winner = np.flatnonzero(tp["timing_applies"] & (tp["time_ms"] == time))[0]
        swapped = [lines[loser] if line == lines[winner] else line for line in kept]
        assert rosu_view(text.replace("\n".join(lines), "\n".join(swapped))) != rosu_view(text), lines[loser]


def test_same_timestamp_context_at_each_object():
    """The first uninherited line of a run sets the beat length; the last inherited one the velocity and kiai;
    a later run at the same time (an unsorted section) replaces the earlier one."""
    by_name = {p.stem: rows_of(p.read_text(encoding="utf-8")) for p in SAME_TIME_FILES}
    short_first, long_first = by_name["same-time-uninherited-short-first"], by_name["same-time-uninherited-long-first"]
    unsorted = by_name["same-time-unsorted"]
    first = 0  # the slider at 1000, where two uninherited lines are
    assert (short_first["beat_length"][first], long_first["beat_length"][first]) == (250, 500)
    assert (short_first["kiai"][first], long_first["kiai"][first]) == (False, True)  # the first uninherited's
    assert (unsorted["beat_length"][first], unsorted["slider_velocity"][first], unsorted["kiai"][first]) == (
        250, 2.0, True,  # the second run at 1000: its uninherited line, then its inherited one
    )  # fmt: skip
    at_7000 = short_first["time_ms"].index(7000)
    assert (short_first["slider_velocity"][at_7000], long_first["slider_velocity"][at_7000]) == (0.5, 2.0)
    at_13000 = short_first["time_ms"].index(13000)
    for rows in (short_first, long_first):  # inherited and uninherited at 13000, in either order
        assert (rows["beat_length"][at_13000], rows["slider_velocity"][at_13000], rows["kiai"][at_13000]) == (
            400, 2.0, True,
        )  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_parse_or_fail_cleanly(data):
    batch = parse_batch([data])
    result = batch.files[0]
    assert (result.error is None) != (not result.metadata)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.text(alphabet="0123456789.-+e ,:|BLPnaNIf\r\n", max_size=60).map(
            lambda s: "osu file format v14\n[HitObjects]\n" + s
        ),
        min_size=1,
        max_size=5,
    )
)
def test_hit_object_noise_never_crashes(texts):
    batch = parse_batch([t.encode() for t in texts])
    assert len(batch.files) == len(texts)
    assert np.all(batch.hit_objects.file_index < len(texts))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.integers(-(10**9), 10**9).map(str),
            st.integers(-(10**18) + 1, 10**18 - 1).map(str),
            st.decimals(-1e6, 1e6, places=6).map(str),
            st.decimals(-1e3, 1e3, places=14).map(str),
            st.text(alphabet="0123456789.-", max_size=10),
            st.text(alphabet="0123456789.-:e ", max_size=24),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_vectorised_numbers_agree_with_python_float(fields):
    data = ",".join(fields).encode()
    starts, position = [], 0
    for field in fields:
        starts.append(position)
        position += len(field) + 1
    start = np.array(starts, dtype=np.int64)
    values, ok = parse_decimal(np.frombuffer(data, np.uint8), start, start + [len(f) for f in fields])
    for field, value, good in zip(fields, values, ok, strict=True):
        plain = re.fullmatch(r"-?(\d+\.?\d*|\.\d+)", field)
        assert good == bool(plain and len(field.lstrip("-")) <= 18), field
        if good:
            assert value == pytest.approx(float(field), rel=1e-12, abs=1e-12)
        if good and "." not in field:
            assert value == float(int(field))  # integers of up to 18 digits: exact before the float conversion
