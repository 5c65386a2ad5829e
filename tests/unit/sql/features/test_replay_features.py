"""features.replay_hits and features.replay_summary: replays written to sit exactly on a real map's objects (or
shifted, or late, or under HR/DT) give the aim error and press offsets they were written with; on the sample
world each player's aim bias and timing come out as the generator put them in; a replay whose map is not
parsed, or of another mode, is a row of the summary saying so and is counted in the build log."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import duckdb
import numpy as np
import pytest

from kiai import warehouse
from kiai.load import osu_files, replays
from kiai.load.replay_sources import ReplaySource
from kiai.osu.replay import Replay, parse_replay
from kiai.osu.replay_writer import write_replay
from kiai.sample import generate_world
from kiai.transform import build
from tests.support.paths import OSU_FIXTURES, SQL_DIR
from tests.support.replays import OSR

MAP = OSU_FIXTURES / "Soleily-Renatus-Gamu-Insane.osu"  # OD 8: a 50 window of 119.5 ms
SELECT = ["+replay_summary"]
K1, K2, HR, DT = 5, 10, 16, 64


def objects_of(con: duckdb.DuckDBPyConnection, md5: str) -> np.ndarray:
    """(time, x, y) of the map's circles and slider heads, in time order."""
    rows = con.execute(
        "SELECT o.time_ms, o.x, o.y FROM parsed.hit_objects o JOIN parsed.beatmap_files f USING (file_id) "
        "WHERE f.md5 = ? AND o.kind <> 'spinner' ORDER BY o.time_ms, o.object_index",
        [md5],
    ).fetchall()
    return np.array(rows, dtype=np.float64)


def played_replay(
    objects: np.ndarray,
    beatmap_md5: str,
    *,
    name: str,
    shift: tuple[float, float] = (0.0, 0.0),
    late_ms: int = 0,
    mods: int = 0,
    flip: bool = False,
) -> bytes:
    """A stable replay with three frames per object: 10 ms before (the cursor 3 px left of its aim point), at
    the press (`late_ms` after the object, keys down) and 10 ms after (3 px right, keys up). The cursor crosses
    the aim point (the object + `shift`, y flipped with `flip`) at the object's time exactly, so linear
    interpolation between the frames around it finds it there."""
    assert np.diff(objects[:, 0]).min() > 20 and abs(late_ms) < 10
    t, x, y = objects[:, 0].astype(np.int64), objects[:, 1] + shift[0], objects[:, 2] + shift[1]
    if flip:
        y = 384 - objects[:, 2] + shift[1]
    keys = np.where(np.arange(len(t)) % 2 == 0, K1, K2)
    times = np.column_stack([t - 10, t + late_ms, t + 10]).ravel()
    xs = np.column_stack([x - 3, x + 3 * late_ms / 10, x + 3]).ravel()
    ys = np.repeat(y, 3)
    frame_keys = np.column_stack([np.zeros_like(keys), keys, np.zeros_like(keys)]).ravel()
    replay = Replay(
        mode=0, game_version=20240101, beatmap_md5=beatmap_md5, player=name,
        replay_md5=hashlib.md5(name.encode()).hexdigest(), n300=len(t), n100=0, n50=0, ngeki=0, nkatu=0, nmiss=0,
        score=1, max_combo=len(t), perfect=True, mods=mods, life_bar=[], played_at=datetime(2025, 1, 1, tzinfo=UTC),
        online_score_id=None, rng_seed=None, score_info=None, time_ms=times,
        x=xs.astype(np.float32), y=ys.astype(np.float32), keys=frame_keys.astype(np.int32),
    )  # fmt: skip
    return write_replay(replay)


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory):
    """A warehouse with the map, replays of it played in known ways, one of a map that is not parsed and a
    taiko fixture replay; the replay models built. Yields (connection, player name -> replay_id, build report)."""
    con = warehouse.connect(tmp_path_factory.mktemp("played") / "kiai.duckdb")
    osu_files.ingest_paths(con, [MAP])
    md5 = hashlib.md5(MAP.read_bytes()).hexdigest()
    objects = objects_of(con, md5)
    cases = {
        "exact": played_replay(objects, md5, name="exact"),
        "shifted": played_replay(objects, md5, name="shifted", shift=(10, 0)),
        "late": played_replay(objects, md5, name="late", late_ms=6),
        "hr": played_replay(objects, md5, name="hr", mods=HR, flip=True),
        "hr_ignored": played_replay(objects, md5, name="hr_ignored", flip=True),
        "dt_late": played_replay(objects, md5, name="dt_late", late_ms=6, mods=DT),
        "no_map": played_replay(objects, "0" * 32, name="no_map"),
    }
    sources = [ReplaySource(f"{name}.osr", data) for name, data in cases.items()]
    sources.append(ReplaySource("taiko.osr", (OSR / "taiko.osr").read_bytes()))
    replays.ingest_sources(con, sources, workers=0)
    report = build(con, SQL_DIR, select=SELECT)
    assert report.ok, [(r.model, r.message) for r in report.failed]
    ids = dict(con.execute("SELECT player, replay_id FROM parsed.replays").fetchall())
    yield con, ids, report, len(objects)
    con.close()


def summary(con: duckdb.DuckDBPyConnection, replay_id: int) -> dict:
    cursor = con.execute("SELECT * FROM features.replay_summary WHERE replay_id = ?", [replay_id])
    return dict(zip([d[0] for d in cursor.description], cursor.fetchall()[0], strict=True))


def hits(con: duckdb.DuckDBPyConnection, replay_id: int) -> np.ndarray:
    return np.array(
        con.execute(
            "SELECT distance, dx, dy, press_offset_ms, pressed::INTEGER FROM features.replay_hits "
            "WHERE replay_id = ? AND kind <> 'spinner' ORDER BY time_ms, object_index",
            [replay_id],
        ).fetchall(),
        dtype=np.float64,
    )


def test_a_replay_exactly_on_every_object_aims_with_error_0_and_presses_on_time(played):
    con, ids, _, n_objects = played
    got = hits(con, ids["exact"])
    assert len(got) == n_objects
    assert np.abs(got[:, 0]).max() < 1e-4 and np.all(got[:, 3] == 0) and np.all(got[:, 4] == 1)
    row = summary(con, ids["exact"])
    assert row["hits_status"] == "measured" and row["n_objects"] == row["n_pressed"] == n_objects
    assert row["aim_error_mean"] < 1e-4 and row["aim_error_p90"] < 1e-4 and row["pressed_share"] == 1
    assert row["offset_mean_ms"] == 0 and row["unstable_rate"] == 0


def test_shifted_by_10_px_the_aim_error_is_10(played):
    con, ids, _, _ = played
    got = hits(con, ids["shifted"])
    assert got[:, 0] == pytest.approx(10, abs=1e-4) and got[:, 1] == pytest.approx(10, abs=1e-4)
    row = summary(con, ids["shifted"])
    assert row["aim_error_mean"] == pytest.approx(10, abs=1e-4) and row["aim_error_p90"] == pytest.approx(10, abs=1e-4)
    assert row["aim_dx_mean"] == pytest.approx(10, abs=1e-4) and row["aim_dy_mean"] == pytest.approx(0, abs=1e-4)


def test_the_cursor_between_frames_is_interpolated_and_a_late_press_is_its_offset(played):
    con, ids, _, _ = played
    got = hits(con, ids["late"])  # the frames around each object's time are 10 ms before and 6 ms after it
    assert np.abs(got[:, 0]).max() < 1e-4 and np.all(got[:, 3] == 6)
    row = summary(con, ids["late"])
    assert row["offset_mean_ms"] == 6 and row["offset_std_ms"] == 0


def test_hr_flips_the_objects_and_only_under_hr(played):
    con, ids, _, _ = played
    assert summary(con, ids["hr"])["aim_error_mean"] < 1e-4
    assert summary(con, ids["hr_ignored"])["aim_error_mean"] > 50  # the same frames without the mod miss the map
    (flipped,) = con.execute(
        "SELECT count(*) FROM features.replay_hits h JOIN parsed.hit_objects o USING (file_id, object_index) "
        "WHERE h.replay_id = ? AND h.object_y <> 384 - o.y",
        [ids["hr"]],
    ).fetchall()[0]
    assert flipped == 0


def test_dt_offsets_are_ms_of_play_in_the_summary(played):
    con, ids, _, _ = played
    assert np.all(hits(con, ids["dt_late"])[:, 3] == 6)  # map ms in replay_hits
    row = summary(con, ids["dt_late"])
    assert row["rate"] == 1.5 and row["offset_mean_ms"] == pytest.approx(4)
    exact = summary(con, ids["exact"])
    assert row["duration_s"] == pytest.approx(exact["duration_s"] / 1.5)
    assert row["frames_per_second"] == pytest.approx(exact["frames_per_second"] * 1.5)


def test_replays_without_a_parsed_map_or_of_another_mode_are_counted_not_dropped(played):
    con, ids, report, _ = played
    no_map = summary(con, ids["no_map"])
    taiko = summary(con, ids[parse_replay((OSR / "taiko.osr").read_bytes()).player])
    assert no_map["hits_status"] == "beatmap not parsed" and no_map["aim_error_mean"] is None
    assert no_map["n_frames"] == 3 * played[3] and no_map["frames_per_second"] > 0
    assert taiko["hits_status"] == "mode not measured"
    (in_hits,) = con.execute(
        "SELECT count(*) FROM features.replay_hits WHERE replay_id IN (?, ?)", [ids["no_map"], taiko["replay_id"]]
    ).fetchall()[0]
    assert in_hits == 0
    counts = {r.model: r.counts for r in report.results}
    assert counts["replay_summary"] == {"without_beatmap": 1, "other_modes": 1}
    assert counts["replay_hits"] == {"replays_without_beatmap": 1, "other_modes_left_out": 1}
    logged = con.execute(
        "SELECT counts FROM kiai.model_builds WHERE model = 'replay_summary' ORDER BY finished_at DESC LIMIT 1"
    ).fetchall()[0][0]
    assert json.loads(logged) == {"without_beatmap": 1, "other_modes": 1}


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory):
    """The sample world's maps and replays, with the replay models built."""
    folder = tmp_path_factory.mktemp("sample")
    world = generate_world(folder / "world", seed=7, n_sets=30)
    con = warehouse.connect(folder / "kiai.duckdb")
    osu_files.ingest_paths(con, [world.osu_dir])
    replays.ingest_paths(con, [world.root / "replays"], workers=0)
    report = build(con, SQL_DIR, select=SELECT)
    assert report.ok, [(r.model, r.message) for r in report.failed]
    yield world, con
    con.close()


def test_the_sample_worlds_players_aim_and_time_as_the_generator_made_them(sample):
    world, con = sample
    players = {p.username: p.user_id for p in world.plays}
    rows = con.execute(
        "SELECT player, avg(h.dx), avg(h.dy), avg(h.press_offset_ms / s.rate), stddev_pop(h.press_offset_ms / s.rate), "
        "avg(h.pressed::INTEGER) FROM features.replay_hits h JOIN features.replay_summary s USING (replay_id) "
        "WHERE h.kind <> 'spinner' GROUP BY player"
    ).fetchall()
    assert len(rows) == len(world.replay_styles) == 2
    for player, dx, dy, offset, spread, pressed in rows:
        style = world.replay_styles[players[player]]
        assert dx == pytest.approx(style.aim_bias[0], abs=0.5) and dy == pytest.approx(style.aim_bias[1], abs=0.5)
        assert offset == pytest.approx(style.offset_ms, abs=0.5)
        assert spread == pytest.approx(style.timing_spread_ms, rel=0.1)
        assert pressed == 1
    statuses = con.execute("SELECT hits_status, count(*) FROM features.replay_summary GROUP BY ALL").fetchall()
    assert statuses == [("measured", len(world.replays))]


def test_replay_hits_equal_a_numpy_reading_of_the_same_frames(sample):
    """Cursor at each object's time by np.interp, nearest press by searchsorted: the same numbers as the SQL."""
    world, con = sample
    plays = {p.score_id: p for p in world.plays}
    score_id, data = next((i, d) for i, d in sorted(world.replays.items()) if "HR" in plays[i].mods)
    replay = parse_replay(data)
    (replay_id,) = con.execute(
        "SELECT replay_id FROM parsed.replays WHERE md5 = ?", [hashlib.md5(data).hexdigest()]
    ).fetchall()[0]
    got = np.array(
        con.execute(
            "SELECT time_ms, object_x, object_y, cursor_x, cursor_y, press_offset_ms FROM features.replay_hits "
            "WHERE replay_id = ? AND kind <> 'spinner' ORDER BY time_ms, object_index",
            [replay_id],
        ).fetchall(),
        dtype=np.float64,
    )
    objects = [o for o in plays[score_id].beatmap.gm.objects if o.kind != "spinner"]
    assert np.array_equal(got[:, 1:3], [(o.x, 384 - o.y) for o in objects])
    t = replay.time_ms.astype(np.float64)
    assert got[:, 3] == pytest.approx(np.interp(got[:, 0], t, replay.x))
    assert got[:, 4] == pytest.approx(np.interp(got[:, 0], t, replay.y))
    keys = replay.keys & 15  # M1, M2, K1, K2: a press is a frame where one of them goes down
    presses = t[(keys & ~np.concatenate([[0], keys[:-1]])) != 0]
    after = presses[np.clip(np.searchsorted(presses, got[:, 0]), 0, len(presses) - 1)] - got[:, 0]
    before = presses[np.clip(np.searchsorted(presses, got[:, 0], side="right") - 1, 0, None)] - got[:, 0]
    nearest = np.where(np.abs(after) < np.abs(before), after, before)
    assert np.array_equal(got[:, 5], nearest)


def test_a_new_replay_parser_is_a_new_version_of_the_replay_models_only(sample, monkeypatch: pytest.MonkeyPatch):
    import kiai.osu.replay
    from kiai.transform import current_code_fingerprints, current_fingerprints

    _, con = sample  # the last test of the module: it moves the sample warehouse to a new parser version
    code, data = current_code_fingerprints(con), current_fingerprints(con)
    monkeypatch.setattr(kiai.osu.replay, "REPLAY_PARSER_VERSION", kiai.osu.replay.REPLAY_PARSER_VERSION + 1)
    con.execute("UPDATE parsed.replays SET parser_version = parser_version + 1")  # as a reparse would
    assert build(con, SQL_DIR, select=SELECT).ok
    new_code, new_data = current_code_fingerprints(con), current_fingerprints(con)
    assert {m for m in code if new_code[m] != code[m]} == {"replay_hits", "replay_summary"}
    assert {m for m in data if new_data[m] != data[m]} == {"replay_hits", "replay_summary"}
