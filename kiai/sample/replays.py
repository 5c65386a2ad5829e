"""Synthetic `.osr` replays for the sample world: a few players' plays with `has_replay`, written with
kiai.osu.replay_writer in the layout osu-web serves (stable's for scores with a legacy id, whose header
carries that id; lazer's otherwise, with its JSON score info).

The cursor follows the generated map: it is at each object's position at the object's time (plus the
player's aim error: a bias and a spread, in osu! pixels), moves in straight lines between objects and to
a slider's end, and circles the centre during spinners. Keys K1 and K2 alternate, pressed at each object's
time plus the player's timing offset (a mean and a spread, in ms of play: under DT a 10 ms late press is 15 ms
of map late), held through sliders and spinners.
Frame times are map times, as osu! records them: a frame every 16 ms of play (24 ms of map under DT, 12
under HT), plus a frame at every press and release. HR flips the playfield, so the cursor goes to
(x, 384 - y). Misses are not played out: the header's counts are the score's.
"""

from __future__ import annotations

import hashlib
import lzma
from dataclasses import dataclass

import numpy as np

from kiai.osu.replay import Replay
from kiai.osu.replay_writer import frame_text, write_replay
from kiai.sample.bodies import Play

STABLE_VERSION = 20241028
LAZER_VERSION = 30000016
FRAME_MS = 16.0  # of play time
K1, K2 = 5, 10  # K1 and K2 with the mouse bits osu! sets with them (M1 = 1, M2 = 2)
LEAD_IN_MS = 1000
PLAYFIELD_HEIGHT = 384
SPIN_RADIUS, SPIN_STEP_MS = 60.0, 25
FAST_LZMA = [{"id": lzma.FILTER_LZMA1, "preset": 0, "dict_size": 1 << 21}]  # generation time: the world's 3 s bar


@dataclass(frozen=True)
class Style:
    """How a player plays: aim bias and spread (px), timing offset and spread (ms)."""

    aim_bias: tuple[float, float]
    aim_spread: float
    offset_ms: float
    timing_spread_ms: float


def player_style(rng: np.random.Generator) -> Style:
    return Style(
        aim_bias=(float(rng.normal(0, 3)), float(rng.normal(0, 3))),
        aim_spread=float(rng.uniform(4, 14)),
        offset_ms=float(rng.uniform(-12, 12)),
        timing_spread_ms=float(rng.uniform(6, 18)),
    )


def _rate(mods: list[str]) -> float:
    return 1.5 if "DT" in mods or "NC" in mods else 0.75 if "HT" in mods else 1.0


def _key_state(times: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Whether each time is inside one of the (sorted, non-overlapping) intervals [start, end)."""
    if not len(starts):
        return np.zeros(len(times), dtype=bool)
    j = np.searchsorted(starts, times, side="right") - 1
    return (j >= 0) & (times < ends[np.maximum(j, 0)])


def cursor_and_keys(play: Play, style: Style, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The frames of a synthetic play: time_ms (int64), x, y (float32), keys (int32)."""
    objects = play.beatmap.gm.objects
    flip = "HR" in play.mods
    n = len(objects)
    times = np.array([o.time for o in objects], dtype=np.float64)
    ends = np.array([o.end_time for o in objects], dtype=np.float64)
    xy = np.array([(o.x, o.y) for o in objects], dtype=np.float64)
    end_xy = np.array([(o.end_x or o.x, o.end_y or o.y) for o in objects], dtype=np.float64)
    kinds = np.array([o.kind for o in objects])
    if flip:
        xy[:, 1], end_xy[:, 1] = PLAYFIELD_HEIGHT - xy[:, 1], PLAYFIELD_HEIGHT - end_xy[:, 1]
    error = rng.normal(0, style.aim_spread, (n, 2)) + np.array(style.aim_bias)
    # waypoints: each object at its time (with aim error), a slider's end, a spinner's circle
    way_t, way_xy = [times[:1] - LEAD_IN_MS, times], [np.array([[256.0, 192.0]]), xy + error]
    sliders = kinds == "slider"
    way_t.append(ends[sliders])
    way_xy.append(end_xy[sliders] + error[sliders])
    for start, end in zip(times[kinds == "spinner"], ends[kinds == "spinner"], strict=True):
        t = np.arange(start + SPIN_STEP_MS, end, SPIN_STEP_MS)
        angle = (t - start) / 60.0
        way_t.append(t)
        way_xy.append(np.column_stack([256 + SPIN_RADIUS * np.cos(angle), 192 + SPIN_RADIUS * np.sin(angle)]))
    way_times = np.concatenate(way_t)
    order = np.argsort(way_times, kind="stable")
    way_times, way_points = way_times[order], np.concatenate(way_xy)[order]
    # presses: the object's time plus the player's offset (ms of play: rate x as many of map), held to the end
    # of sliders and spinners
    rate = _rate(play.mods)
    press = np.round(times + rate * (style.offset_ms + rng.normal(0, style.timing_spread_ms, n)))
    release = np.maximum(press + 45, np.round(ends + rate * style.offset_ms))
    press = np.maximum.accumulate(press)  # presses keep the objects' order
    key = np.where(np.arange(n) % 2 == 0, K1, K2)
    for k in (K1, K2):  # a key's next press comes after its release
        mine = np.flatnonzero(key == k)
        release[mine[:-1]] = np.minimum(release[mine[:-1]], press[mine[1:]] - 1)
    last = max(ends.max(), release.max()) + 500
    grid = np.arange(way_times[0], last, FRAME_MS * rate)
    frame_times = np.unique(np.concatenate([np.round(grid), press, release]).astype(np.int64))
    keys = np.zeros(len(frame_times), dtype=np.int32)
    for k in (K1, K2):
        mine = key == k
        keys |= np.where(_key_state(frame_times, press[mine], release[mine]), k, 0).astype(np.int32)
    x = np.interp(frame_times, way_times, way_points[:, 0])
    y = np.interp(frame_times, way_times, way_points[:, 1])
    return {
        "time_ms": frame_times,
        "x": (np.round(x * 2) / 2).astype(np.float32),  # half pixels: exact in float32, quick to write
        "y": (np.round(y * 2) / 2).astype(np.float32),
        "keys": keys,
    }


def synthetic_replay(play: Play, style: Style, rng: np.random.Generator) -> bytes:
    """The `.osr` bytes of one play, as osu-web would serve them."""
    m = play.beatmap
    stable = play.legacy_score_id is not None
    frames = cursor_and_keys(play, style, rng)
    score = play.legacy_total_score if stable else play.total_score
    life = [
        (int(t), round(float(v), 2)) for t, v in zip(frames["time_ms"][::120], np.linspace(1, 0.7, 9), strict=False)
    ]
    bits = {"HD": 8, "HR": 16, "DT": 64}
    replay = Replay(
        mode=0,
        game_version=STABLE_VERSION if stable else LAZER_VERSION,
        beatmap_md5=m.md5,
        player=play.username,
        replay_md5=hashlib.md5(f"{play.max_combo}osu{play.username}{m.md5}{score}{play.rank}".encode()).hexdigest(),
        n300=play.great,
        n100=play.ok,
        n50=play.meh,
        ngeki=0,
        nkatu=0,
        nmiss=play.miss,
        score=score,
        max_combo=play.max_combo,
        perfect=play.miss == 0 and play.max_combo == m.gm.max_combo,
        mods=sum(bits[mod] for mod in play.mods),
        life_bar=life,
        played_at=play.ended_at,
        online_score_id=play.legacy_score_id if stable else play.score_id,
        rng_seed=None if stable else int(rng.integers(1, 2**31 - 1)),
        score_info=None
        if stable
        else {
            "online_id": play.score_id,
            "mods": play.mod_objects,
            "statistics": play.statistics,
            "maximum_statistics": play.maximum_statistics,
            "client_version": "2024.1115.3",
            "rank": play.rank,
            "user_id": play.user_id,
        },
        **frames,
    )
    stream = lzma.compress(frame_text(replay), format=lzma.FORMAT_ALONE, filters=FAST_LZMA)
    return write_replay(replay, frame_stream=stream)


def world_replays(
    plays: list[Play], seed: int, n_players: int, per_player: int
) -> tuple[dict[int, bytes], dict[int, Style]]:
    """score id -> `.osr` bytes: up to `per_player` plays with a replay of each of the first `n_players`
    players who have them, each player with a style of their own; and user id -> that style."""
    rng = np.random.default_rng([seed, 18])  # its own stream: the rest of the world stays as it was
    by_user: dict[int, list[Play]] = {}
    for play in plays:
        if play.has_replay:
            by_user.setdefault(play.user_id, []).append(play)
    replays: dict[int, bytes] = {}
    styles: dict[int, Style] = {}
    for user_id in sorted(by_user)[:n_players]:
        style = styles[user_id] = player_style(rng)
        for play in sorted(by_user[user_id], key=lambda p: p.score_id)[:per_player]:
            replays[play.score_id] = synthetic_replay(play, style, rng)
    return replays, styles
