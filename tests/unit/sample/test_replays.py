"""The sample world's synthetic replays: they parse, belong to scores of the dump with has_replay, carry the id
osu-web's header would, and their cursor and keys follow the map with each player's own aim error and timing."""

from __future__ import annotations

import numpy as np
import pytest

from kiai.osu.replay import parse_replay
from kiai.sample import generate_world
from kiai.sample.replays import K1, K2


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return generate_world(tmp_path_factory.mktemp("world"), seed=7, n_sets=30)


def _aim_and_timing(play, replay) -> tuple[np.ndarray, np.ndarray]:
    """Per object: the cursor's distance from it at its time, and the offset of the nearest press."""
    objects = play.beatmap.gm.objects
    times = np.array([o.time for o in objects], dtype=np.float64)
    xy = np.array([(o.x, o.y) for o in objects], dtype=np.float64)
    if "HR" in play.mods:
        xy[:, 1] = 384 - xy[:, 1]
    t = replay.time_ms.astype(np.float64)
    cursor = np.column_stack([np.interp(times, t, replay.x), np.interp(times, t, replay.y)])
    pressed = (replay.keys & (K1 | K2)) != 0
    presses = t[1:][pressed[1:] & ~pressed[:-1]]
    nearest = presses[np.clip(np.searchsorted(presses, times), 0, len(presses) - 1)]
    before = presses[np.clip(np.searchsorted(presses, times) - 1, 0, len(presses) - 1)]
    offsets = np.where(np.abs(nearest - times) < np.abs(before - times), nearest - times, before - times)
    return np.hypot(*(cursor - xy).T), offsets


def test_replays_belong_to_scores_with_a_replay_and_carry_osu_webs_ids(world):
    plays = {p.score_id: p for p in world.plays}
    assert len(world.replays) >= 20
    assert len({plays[i].user_id for i in world.replays}) == 2
    for score_id, data in world.replays.items():
        play, replay = plays[score_id], parse_replay(data)
        assert play.has_replay and replay.beatmap_md5 == play.beatmap.md5 and replay.player == play.username
        assert (replay.n300, replay.n100, replay.n50, replay.nmiss) == (play.great, play.ok, play.meh, play.miss)
        assert sorted(replay.mod_acronyms) == sorted(play.mods)
        if play.legacy_score_id is not None:  # osu-web serves a stable score's replay with its legacy id
            assert not replay.is_lazer and replay.online_score_id == play.legacy_score_id
        else:
            assert replay.is_lazer and replay.online_score_id == score_id == replay.score_info["online_id"]
        assert (world.root / "replays" / f"{score_id}.osr").read_bytes() == data
    again = generate_world(world.root.parent / "again", seed=7, n_sets=30, write=False)
    assert again.replays == world.replays


def test_cursor_and_keys_follow_the_map_with_each_players_style(world):
    plays = {p.score_id: p for p in world.plays}
    styles: dict[int, list[tuple[float, float]]] = {}
    for score_id, data in world.replays.items():
        play, replay = plays[score_id], parse_replay(data)
        assert np.all(np.diff(replay.time_ms) > 0)
        distance, offsets = _aim_and_timing(play, replay)
        assert np.median(distance) < 30, "the cursor is near each object at its time"
        assert np.median(np.abs(offsets)) < 40, "a key is pressed near each object's time"
        styles.setdefault(play.user_id, []).append((float(np.mean(distance)), float(np.mean(offsets))))
    (aim_a, offset_a), (aim_b, offset_b) = (np.mean(v, axis=0) for v in styles.values())
    assert aim_a > 2 and aim_b > 2, "nobody aims perfectly"
    assert abs(aim_a - aim_b) > 1 or abs(offset_a - offset_b) > 2, "the two players play differently"
    for values in styles.values():  # one player's replays share a style
        assert np.std([offset for _, offset in values]) < 3 and np.std([aim for aim, _ in values]) < 3
