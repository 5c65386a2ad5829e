"""The .osr parser on the real fixtures (checked against osrparse and osu!'s own test values), the writer's
round trips, and hostile input: any bytes give a Replay or one ReplayError, never another exception."""

from __future__ import annotations

import dataclasses
import lzma
import struct
from datetime import UTC, datetime, timedelta

import numpy as np
import osrparse
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiai.osu.replay import FRAME_COLUMNS, Replay, ReplayError, frame_stream, mod_acronyms, parse_many, parse_replay
from kiai.osu.replay_frames import FIELD_TYPES, decode_fields, slow_item
from kiai.osu.replay_writer import compress, frame_text, write_replay
from tests.support.paths import FIXTURES

OSR = FIXTURES / "osr"
FIXTURE_FILES = sorted(OSR.glob("*.osr"))
SMALL = [
    "ppy-taiko-replay-with-legacy-online-id.osr",
    "ppy-mania-replay.osr",
    "ppy-taiko-replay-with-new-online-id.osr",
]
# osrparse drops stable's two leading frames together with their deltas, osu! (and kiai) count the deltas:
# our absolute times are osrparse's running sum plus the deltas of the dropped frames (0 and -1 as stable
# writes them; ppy-mania-replay.osr's second one is 3994)
DROPPED_DELTAS = {"ppy-mania-replay.osr": 3994, "lazer_standard_format.osr": 0}
DROPPED_DELTAS |= {name: 0 for name in SMALL if "taiko" in name}  # their first frames are not at (256, -500)


def data_of(name: str) -> bytes:
    return (OSR / name).read_bytes()


def make_replay(**changes) -> Replay:
    """A small stable osu! replay; `changes` override any field."""
    fields = {
        "mode": 0,
        "game_version": 20240101,
        "beatmap_md5": "0" * 32,
        "player": "tester",
        "replay_md5": "f" * 32,
        "n300": 3,
        "n100": 1,
        "n50": 0,
        "ngeki": 0,
        "nkatu": 1,
        "nmiss": 0,
        "score": 12345,
        "max_combo": 4,
        "perfect": True,
        "mods": 0,
        "life_bar": [(100, 1.0), (2000, 0.5)],
        "played_at": datetime(2024, 3, 4, 5, 6, 7, 891234, tzinfo=UTC),
        "online_score_id": 4242,
        "rng_seed": 777,
        "score_info": None,
        "time_ms": np.array([-500, 0, 16, 33, 33, 50], dtype=np.int64),
        "x": np.array([256.5, 0.0, -10.25, 512.0, 1.676381e-08, 100.0], dtype=np.float32),
        "y": np.array([192.0, -0.5, 384.0, 3.0517578e-05, 0.0, 7.0], dtype=np.float32),
        "keys": np.array([0, 1, 5, 10, 0, 2], dtype=np.int32),
    }
    return Replay(**(fields | changes))


def assert_same(a: Replay, b: Replay) -> None:
    assert a.header() == b.header()
    for name in FRAME_COLUMNS:
        assert getattr(a, name).dtype == getattr(b, name).dtype, name
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def header(mode: int = 0, version: int = 20240101) -> bytes:
    return struct.pack("<Bi", mode, version)


def with_frames(text: bytes, version: int = 20240101) -> bytes:
    """An osu! replay around a raw frame text."""
    return write_replay(make_replay(game_version=version), frame_stream=compress(text))


# ---------------------------------------------------------------- the fixtures against osrparse


@pytest.fixture(scope="module")
def parsed():
    return {path.name: (parse_replay(path.read_bytes()), osrparse.Replay.from_path(path)) for path in FIXTURE_FILES}


def test_every_fixture_is_there():
    assert len(FIXTURE_FILES) == 8


@pytest.mark.parametrize("name", [p.name for p in FIXTURE_FILES])
def test_header_equals_osrparse(parsed, name):
    ours, theirs = parsed[name]
    assert ours.mode == theirs.mode.value
    assert ours.game_version == theirs.game_version
    assert ours.beatmap_md5 == theirs.beatmap_hash
    assert ours.player == theirs.username
    assert ours.replay_md5 == theirs.replay_hash
    counts = ("n300", "n100", "n50", "ngeki", "nkatu", "nmiss")
    theirs_counts = ("count_300", "count_100", "count_50", "count_geki", "count_katu", "count_miss")
    assert [getattr(ours, c) for c in counts] == [getattr(theirs, c) for c in theirs_counts]
    assert (ours.score, ours.max_combo, ours.perfect) == (theirs.score, theirs.max_combo, bool(theirs.perfect))
    assert ours.mods == theirs.mods.value
    # osrparse gives None for an empty life bar, we give an empty list
    assert ours.life_bar == [(s.time, s.life) for s in theirs.life_bar_graph or []]
    # osrparse turns ticks into microseconds through a float (ticks / 10): off by a few microseconds; ours is exact
    assert abs(ours.played_at - theirs.timestamp) < timedelta(microseconds=16)
    # 0 (unsubmitted) and lazer's -1 (no legacy id) are no online score id for us
    assert ours.online_score_id == (theirs.replay_id if theirs.replay_id > 0 else None)
    assert ours.rng_seed == theirs.rng_seed
    assert ours.n_frames == len(theirs.replay_data)


@pytest.mark.parametrize("name", [p.name for p in FIXTURE_FILES])
def test_frames_equal_osrparse(parsed, name):
    ours, theirs = parsed[name]
    events = theirs.replay_data
    deltas = np.array([e.time_delta for e in events], dtype=np.int64)
    np.testing.assert_array_equal(ours.time_ms, np.cumsum(deltas) + DROPPED_DELTAS.get(name, -1))
    if ours.mode == 0:  # osrparse: x, y as Python floats (float64); ours float32 as osu! parses them
        np.testing.assert_array_equal(ours.x, np.float32([e.x for e in events]))
        np.testing.assert_array_equal(ours.y, np.float32([e.y for e in events]))
        np.testing.assert_array_equal(ours.keys, [e.keys.value for e in events])
    elif ours.mode == 1:  # taiko: osrparse keeps x (as int) and keys
        np.testing.assert_array_equal(ours.x, [e.x for e in events])
        np.testing.assert_array_equal(ours.keys, [e.keys.value for e in events])
    elif ours.mode == 2:  # catch: osrparse keeps x and whether keys == 1 (dashing)
        np.testing.assert_array_equal(ours.x, np.float32([e.x for e in events]))
        np.testing.assert_array_equal(ours.keys == 1, [e.dashing for e in events])
    else:  # mania: the pressed columns are x's bits
        np.testing.assert_array_equal(ours.x, [e.keys.value for e in events])


def test_frame_times_match_osus_own_test(parsed):
    """osu!'s LegacyScoreDecoderTest reads mania-replay.osr's first frames at 31, 48 and 65 ms, and a frame
    at 414 ms with columns 1 and 18 pressed: the leading frames' deltas count (osrparse's sum says -3963)."""
    replay, _ = parsed["ppy-mania-replay.osr"]
    assert replay.time_ms[:3].tolist() == [31, 48, 65]
    assert replay.x[replay.time_ms == 414].tolist() == [1 | 1 << 17]
    assert replay.mod_acronyms == ["9K", "DS"]  # osu! adds CL (Classic) to every stable score


def test_lazer_score_info(parsed):
    """osrparse does not read lazer's trailer; osu!'s test: online id 258 from the JSON, legacy id -1."""
    replay, _ = parsed["ppy-taiko-replay-with-new-online-id.osr"]
    assert replay.is_lazer and replay.game_version == 30000004
    assert replay.online_score_id is None
    assert replay.score_info == {
        "online_id": 258,
        "mods": [],
        "statistics": {"ok": 8, "great": 73, "large_bonus": 1, "ignore_hit": 9},
        "maximum_statistics": {"great": 81, "ignore_hit": 9, "large_bonus": 1},
    }
    lazer_without_info, _ = parsed["lazer_standard_format.osr"]  # version 30000000: before the trailer existed
    assert lazer_without_info.is_lazer and lazer_without_info.score_info is None
    legacy, _ = parsed["ppy-taiko-replay-with-legacy-online-id.osr"]
    assert legacy.online_score_id == 255 and legacy.score_info is None


def test_seed_and_leading_frames(parsed):
    replay, _ = parsed["replay.osr"]
    assert replay.rng_seed is None  # a 2014 replay: no seed item
    ctb, _ = parsed["ctb.osr"]
    assert ctb.rng_seed == 10398166
    assert not ((ctb.x == 256) & (ctb.y == -500)).any()  # both leading frames dropped


def test_mod_acronyms():
    assert mod_acronyms(0) == []
    assert mod_acronyms(8 | 16) == ["HD", "HR"]
    assert mod_acronyms(64 | 512 | 8) == ["HD", "NC"]  # stable sets DT with NC
    assert mod_acronyms(32 | 16384) == ["PF"]
    assert mod_acronyms(2048 | 4194304) == ["CN"]
    assert mod_acronyms(1 << 29 | 1 << 30) == ["SV2", "MR"]
    assert mod_acronyms(1 << 31) == []


# ---------------------------------------------------------------- the writer


@pytest.mark.parametrize("name", [p.name for p in FIXTURE_FILES])
def test_fixture_write_parse_round_trip(parsed, name):
    ours, _ = parsed[name]
    assert_same(parse_replay(write_replay(ours)), ours)


@pytest.mark.parametrize("version", [20240101, 20130101, 20100101, 30000000, 30000019])
def test_write_parse_round_trip(version):
    info = {"online_id": 99, "mods": [{"acronym": "HD"}], "statistics": {"great": 3}} if version > 30000000 else None
    replay = make_replay(game_version=version, score_info=info, mods=8 | 64 | 512)
    back = parse_replay(write_replay(replay))
    expected = replay if version >= 20121008 else dataclasses.replace(replay, online_score_id=None)  # no id then
    assert_same(back, expected)
    assert back.played_at == datetime(2024, 3, 4, 5, 6, 7, 891234, tzinfo=UTC)


def test_writer_layouts():
    stable = frame_text(make_replay())
    assert stable.startswith(b"0|256|-500|0,-1|256|-500|0,-499|256.5|192|0,") and stable.endswith(b"-12345|0|0|777,")
    lazer = frame_text(make_replay(game_version=30000019))
    assert lazer.startswith(b"-500|256.5|192|0,500|0|-0.5|1,") and lazer.endswith(b",-12345|0|0|777")
    assert b"0.00000001676381" in lazer  # positional, the shortest that reads back as the float32


def test_parse_many_keeps_going():
    good = write_replay(make_replay())
    batch = parse_many([good, b"not a replay", data_of("ppy-mania-replay.osr"), good[:-4]])
    assert [r is not None for r in batch.replays] == [True, False, True, False]
    assert batch.errors[0] is None and batch.errors[2] is None
    assert batch.errors[1] == "unknown mode 110 (expected 0-3): not an osu! replay"  # "n"
    assert batch.errors[3] == "truncated: the file ends in the online score id (byte 257 of 261)"
    columns = batch.frame_columns()
    assert set(columns) == {"replay_index", "frame_index", *FRAME_COLUMNS}
    assert columns["replay_index"].tolist() == [0] * 6 + [2] * 1082
    assert columns["frame_index"].tolist() == list(range(6)) + list(range(1082))
    np.testing.assert_array_equal(columns["time_ms"][6:], batch.replays[2].time_ms)
    assert parse_many([]).frame_columns()["x"].dtype == np.float32


# ---------------------------------------------------------------- frames: what osu! skips, odd text


def test_leading_frames_are_dropped_only_at_the_skip_position():
    def frames(text: bytes) -> Replay:
        return parse_replay(with_frames(text))

    kept = frames(b"0|256|-500|0,-1|256|-500|0,10|1|2|0,5|256|-500|1,")
    assert kept.time_ms.tolist() == [9, 14] and kept.x.tolist() == [1, 256]  # a later (256, -500) stays
    assert frames(b"5|256|-500|0,5|7|7|0,").time_ms.tolist() == [10]  # only frame 0 there: only it goes
    only_second = frames(b"5|7|7|0,5|256|-500|0,5|8|8|0,")  # only frame 1 there: osu! drops it too
    assert only_second.time_ms.tolist() == [5, 15] and only_second.x.tolist() == [7, 8]
    seed_first = frames(b"-12345|0|0|9,3|1|1|0,4|2|2|0,")  # a seed item anywhere is no frame, no delta
    assert seed_first.rng_seed == 9 and seed_first.time_ms.tolist() == [3, 7]
    assert frames(b"").n_frames == 0 and frames(b",").n_frames == 0


def assert_fields(columns: dict[str, np.ndarray], expected) -> None:
    """decode_fields' columns equal rows of (w, x, y, z) given as float64, in the columns' types."""
    expected = np.asarray(expected, dtype=np.float64).reshape(-1, 4)
    for k, (name, dtype) in enumerate(FIELD_TYPES.items()):
        assert columns[name].dtype == dtype
        np.testing.assert_array_equal(columns[name], expected[:, k].astype(dtype), err_msg=name)


def test_odd_frame_text():
    fields = decode_fields(b"16.5|1.5E+2|-2.5e-3|1,17.5|+3|.5|0,-0|-0.0|0.|2,1|1|1|1")
    assert_fields(fields, [[16, 150, -0.0025, 1], [18, 3, 0.5, 0], [0, -0.0, 0, 2], [1, 1, 1, 1]])
    long = b"1234567890|-12345678.9012345|0.000000000000001|2147483647,"
    assert_fields(decode_fields(long), [[1234567890, -12345678.9012345, 1e-15, 2147483647]])


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (b"1|2|3,", "frame 0: expected 4 fields w|x|y|z, got 3 ('1|2|3')"),
        (b"1|2|3|4,,1|2|3|4,", "frame 1: expected 4 fields w|x|y|z, got 1 ('')"),
        (b"1|2|3|4|5,", "frame 0: expected 4 fields w|x|y|z, got 5 ('1|2|3|4|5')"),
        (b"1|2|3|4,1|a|3|4,", "frame 1: x is not a number ('a')"),
        (b"1|2|nan|4,", "frame 0: y is not a number ('nan')"),
        (b"1|2|1e39|4,", "frame 0: y is out of range ('1e39')"),
        (b"1|2|3|1.5,", "frame 0: the keys are not a 32-bit integer ('1.5')"),
        (b"1|2|3|2147483648,", "frame 0: the keys are not a 32-bit integer ('2147483648')"),
        (b"99999999999|2|3|4,", "frame 0: the time delta is not a 32-bit integer ('99999999999')"),
        (b"1|2|3|4,1|2-3|3|4,", "frame 1: x is not a number ('2-3')"),
        (b"1|2|3|4,1|\xff|3|4,", "frame 1: x is not a number ('\ufffd')"),
        (b"1|" + b"9" * 5000 + b"|3|4,", "frame 0: x is out of range ('" + "9" * 40 + "'...)"),
    ],
)
def test_bad_frame_text(text, error):
    with pytest.raises(ReplayError) as raised:
        parse_replay(with_frames(text))
    assert str(raised.value) == error


NUMBER = st.one_of(
    st.integers(-(2**31) + 1, 2**31 - 1).map(str),
    st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: repr(float(np.float32(v)))),
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(lambda v: str(np.float32(v))),  # 1e-08 too
    st.from_regex(r"\A-?[0-9]{1,17}(\.[0-9]{1,17})?\Z"),
)
ODD = st.sampled_from(["1E-05", "-0", ".5", "5.", "+1", "1e3", "", "-", "--1", "1.2.3", "x", " 7", "9" * 20])
ITEM = st.one_of(
    st.lists(NUMBER, min_size=4, max_size=4),
    st.lists(st.one_of(NUMBER, ODD), min_size=3, max_size=5),
).map("|".join)


@settings(max_examples=400, deadline=None)
@given(st.lists(ITEM, max_size=60), st.sampled_from([b",", b""]), st.sampled_from([16, 100, 1 << 16]))
def test_fast_path_reads_like_the_reference(items, end, chunk_bytes):
    """The vectorised decoder equals the per-frame reference reader, and fails on the same first bad frame."""
    text = ",".join(items).encode() + (end if items else b"")
    try:
        expected = np.array([slow_item(item.encode(), i) for i, item in enumerate(items)], dtype=np.float64)
    except ReplayError as exc:
        with pytest.raises(ReplayError) as raised:
            decode_fields(text, chunk_bytes)
        assert str(raised.value) == str(exc)
        return
    assert_fields(decode_fields(text, chunk_bytes), expected)


def reference_fields(text: bytes) -> np.ndarray:
    """What the per-frame reference reader makes of a whole frame text (ReplayError on the first bad frame)."""
    items = text.split(b",")
    if items[-1] == b"":
        items.pop()
    return np.array([slow_item(item, i) for i, item in enumerate(items)], dtype=np.float64).reshape(-1, 4)


@pytest.fixture(scope="module")
def real_text() -> bytes:
    stream = frame_stream(data_of("lazer_standard_format.osr"))  # -171.30115, one 3.0517578E-05, no final ','
    return lzma.decompress(stream, format=lzma.FORMAT_ALONE)[-3000:].split(b",", 1)[1]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 2999), st.binary(max_size=3)), max_size=4), st.sampled_from([64, 1 << 16]))
def test_mutated_real_frame_text_reads_like_the_reference(real_text, edits, chunk_bytes):
    text = bytearray(real_text)
    for at, replacement in edits:
        text[at : at + 1] = replacement
    try:
        expected = reference_fields(bytes(text))
    except ReplayError as exc:
        with pytest.raises(ReplayError) as raised:
            decode_fields(bytes(text), chunk_bytes)
        assert str(raised.value) == str(exc)
        return
    assert_fields(decode_fields(bytes(text), chunk_bytes), expected)


# ---------------------------------------------------------------- hostile input

ANY_BYTES = st.binary(max_size=3000)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        ANY_BYTES,
        ANY_BYTES.map(lambda tail: header() + tail),  # past the mode and version
        ANY_BYTES.map(lambda stream: write_replay(make_replay(), frame_stream=stream)),  # garbage for LZMA
        ANY_BYTES.map(
            lambda stream: write_replay(make_replay(), frame_stream=b"\x5d\0\0\x20\0" + b"\xff" * 8 + stream)
        ),
    )
)
def test_any_bytes_give_a_replay_or_a_clear_error(data):
    assert_parses_or_fails_clearly(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SMALL), st.data())
def test_mutated_fixtures_give_a_replay_or_a_clear_error(name, draw):
    data = bytearray(data_of(name))
    for _ in range(draw.draw(st.integers(1, 8))):
        at = draw.draw(st.integers(0, len(data) - 1))
        action = draw.draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if action == "flip":
            data[at] ^= 1 << draw.draw(st.integers(0, 7))
        elif action == "insert":
            data[at:at] = draw.draw(st.binary(min_size=1, max_size=8))
        elif action == "delete":
            del data[at : at + draw.draw(st.integers(1, 8))]
        else:
            del data[at:]
        if not data:
            data = bytearray(b"\x00")
    assert_parses_or_fails_clearly(bytes(data))


def assert_parses_or_fails_clearly(data: bytes) -> None:
    try:
        replay = parse_replay(data, max_decompressed=1 << 20)
    except ReplayError as exc:
        message = str(exc)
        assert message and "\n" not in message and len(message) < 300
        return
    assert len(replay.time_ms) == len(replay.x) == len(replay.y) == len(replay.keys)


@pytest.mark.parametrize("name", SMALL)
def test_every_prefix_is_an_error(name):
    data = data_of(name)
    end = len(data) - (1 if "legacy" in name else 0)  # that file has one stray byte after its last field
    for size in range(end):
        with pytest.raises(ReplayError):
            parse_replay(data[:size])
    assert_same(parse_replay(data[:end]), parse_replay(data))


@pytest.mark.parametrize("name", ["replay.osr", "ppy-mania-replay.osr", "lazer_standard_format.osr"])
def test_truncated_lzma_streams_are_errors(name):
    """Each stream cut short, with its block length made to agree (so only the LZMA decoder can tell): the
    fixtures' streams declare their size, the writer's end with an end marker; both must decode to their end."""
    data = data_of(name)
    stream = frame_stream(data)
    assert stream[5:13] != b"\xff" * 8  # written by osu!: the size is declared
    replay = parse_replay(data)
    for cut in (13, 14, len(stream) // 2, len(stream) - 1):
        with pytest.raises(ReplayError, match=r"^(truncated|corrupt) frame stream"):
            parse_replay(write_replay(replay, frame_stream=stream[:cut]))
    marked = compress(frame_text(replay))
    assert lzma.LZMADecompressor(format=lzma.FORMAT_ALONE).decompress(marked[:13]) == b""  # header: size unknown
    assert marked[5:13] == b"\xff" * 8
    for cut in (len(marked) // 2, len(marked) - 1):
        with pytest.raises(ReplayError, match=r"^(truncated|corrupt) frame stream"):
            parse_replay(write_replay(replay, frame_stream=marked[:cut]))
    with pytest.raises(ReplayError, match=r"^truncated frame stream: 12 bytes, shorter than an LZMA header$"):
        parse_replay(write_replay(replay, frame_stream=stream[:12]))


def test_size_limits():
    replay = parse_replay(data_of("replay.osr"))  # its stream declares 404,329 bytes
    with pytest.raises(ReplayError, match=r"^frame stream declares 404,329 bytes, over the 100,000-byte limit$"):
        parse_replay(data_of("replay.osr"), max_decompressed=100_000)
    bomb = compress(b"16|1|1|0," * 2_000_000)  # 18 MB of frames in a few kB, size not declared
    assert len(bomb) < 10_000
    with pytest.raises(ReplayError, match=r"^frame stream decompresses to more than 1,048,576 bytes$"):
        parse_replay(write_replay(replay, frame_stream=bomb), max_decompressed=1 << 20)
    huge_dictionary = b"\x5d\xff\xff\xff\xff" + b"\xff" * 8 + bomb[13:]
    with pytest.raises(ReplayError, match=r"^corrupt frame stream \(Memory usage limit"):
        parse_replay(write_replay(replay, frame_stream=huge_dictionary))


NO_STRINGS = header() + b"\x00" * 3 + bytes(23)  # three absent strings, zero counts, score, mods
NO_LIFE_BAR = NO_STRINGS + b"\x00"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", "truncated: the file ends in the mode (byte 0 of 0)"),
        (b"<!DOCTYPE html><html>", "unknown mode 60 (expected 0-3): not an osu! replay"),
        (header(4), "unknown mode 4 (expected 0-3): not an osu! replay"),
        (header() + b"\x0c", "bad beatmap MD5: string marker 0x0c (expected 0x00 or 0x0b)"),
        (header() + b"\x0b\xff\xff\xff\xff\x0f", "truncated: the beatmap MD5 declares 4,294,967,295 bytes but 0 are left"),  # noqa: E501
        (header() + b"\x0b\xff\xff\xff\xff\xff\x01", "bad beatmap MD5: its length is not a 32-bit ULEB128"),
        (header() + b"\x00\x0b\x02\xff\xfe", "bad player name: not UTF-8"),
        (NO_LIFE_BAR + struct.pack("<q", -1), "bad timestamp: -1 ticks"),
        (
            NO_LIFE_BAR + struct.pack("<qi", 1, 10**9),
            "truncated: the frame stream declares 1,000,000,000 bytes but 0 are left",
        ),
        (NO_LIFE_BAR + struct.pack("<qi", 1, 0), "no frame stream (its length is 0): a score without a replay"),
        (NO_STRINGS + b"\x0b\x03a|b", "bad life bar: point 0 is not time|life ('a|b')"),
        (NO_STRINGS + b"\x0b\x8a\x27" + b"9" * 5000 + b"|1", f"bad life bar: point 0 is not time|life ('{'9' * 40}')"),
    ],
)  # fmt: skip
def test_bad_headers(data, error):
    with pytest.raises(ReplayError) as raised:
        parse_replay(data)
    assert str(raised.value) == error


def test_bad_timestamp_and_trailers():
    replay = make_replay(game_version=30000019, score_info={"online_id": 1})
    data = write_replay(replay)
    assert parse_replay(data).score_info == {"online_id": 1}
    ticks = struct.pack("<q", (replay.played_at - datetime(1, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) * 10)
    assert data.count(ticks) == 1
    with pytest.raises(ReplayError, match=r"^bad timestamp: 9223372036854775807 ticks is after the year 9999$"):
        parse_replay(data.replace(ticks, struct.pack("<q", 2**63 - 1)))
    body = data[: data.index(frame_stream(data)) + len(frame_stream(data)) + 8]  # up to the online score id
    for info, error in [
        (b"[1, 2]", "bad lazer score info: a JSON list, not an object"),
        (
            b"{'single': 1}",
            "bad lazer score info: not JSON (Expecting property name enclosed in double quotes at byte 1)",
        ),
        (b"[" * 100_000, "bad lazer score info: JSON nested too deeply"),
        (b"\xff{}", "bad lazer score info: not UTF-8"),
    ]:
        block = compress(info)
        with pytest.raises(ReplayError) as raised:
            parse_replay(body + struct.pack("<i", len(block)) + block)
        assert str(raised.value) == error
    with pytest.raises(ReplayError, match=r"^truncated: the file ends in the lazer score info length"):
        parse_replay(body)
    assert parse_replay(body + struct.pack("<i", 0)).score_info is None
