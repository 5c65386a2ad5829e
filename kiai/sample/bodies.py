"""Bodies in the real wire shapes (tests/fixtures/FORMATS.md) for generated maps: osu! API v2 beatmap objects,
user score lists (x-api-version 20220705), osu!collector collections; plus a star rating estimate."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import numpy as np

from kiai.sample.mapgen import GeneratedMap

STATUS = {1: "ranked", 2: "approved", 3: "qualified", 4: "loved"}
# star rating ~ aim speed (radii/s), note rate and object count: least squares against rosu-pp-py 3.x stars on
# generated maps (R^2 0.78, mean abs error 0.45 stars); tests check the correlation
_STAR_COEF = (-6.2249, 0.8987, 0.9462, 0.8548, 0.7551)


@dataclass
class MapRecord:
    """A generated difficulty with everything the bodies need."""

    beatmap_id: int
    beatmapset_id: int
    version: str
    md5: str
    gm: GeneratedMap
    hp: float
    cs: float
    od: float
    ar: float
    bpm: float
    stars: float
    total_length: int
    hit_length: int
    user_id: int
    ranked: int
    last_updated: datetime
    playcount: int
    passcount: int
    level: float

    @cached_property
    def counts(self) -> tuple[int, int, int]:
        """Circles, sliders and spinners (computed once: the map is final)."""
        kinds = [o.kind for o in self.gm.objects]
        return kinds.count("circle"), kinds.count("slider"), kinds.count("spinner")

    @property
    def ticks(self) -> int:
        """Slider ticks and repeats: the max combo beyond heads, tails, circles and spinners."""
        circles, sliders, spinners = self.counts
        return self.gm.max_combo - circles - 2 * sliders - spinners


@dataclass
class SetRecord:
    beatmapset_id: int
    archetype: str
    artist: str
    title: str
    creator: str
    user_id: int
    source: str
    tags: str
    genre_id: int
    language_id: int
    bpm: float
    ranked: int
    submitted: datetime
    ranked_date: datetime
    favourite_count: int
    maps: list[MapRecord] = field(default_factory=list)


def star_rating(gm: GeneratedMap, cs: float) -> float:
    """A plausible star rating from aim speed and note rate (not osu!'s algorithm)."""
    objects = [o for o in gm.objects if o.kind != "spinner"]
    if len(objects) < 3:
        return 1.0
    t = np.array([o.time for o in objects], dtype=float)
    dt = np.maximum(np.diff(t), 25.0)
    sx, sy = np.array([o.x for o in objects], float), np.array([o.y for o in objects], float)
    ex, ey = np.array([o.end_x for o in objects], float), np.array([o.end_y for o in objects], float)
    distance = np.hypot(sx[1:] - ex[:-1], sy[1:] - ey[:-1])
    velocity = distance / (54.4 - 4.48 * cs) / dt * 1000.0
    rate = 1000.0 / dt

    def top(values: np.ndarray) -> float:
        return float(np.mean(np.sort(values)[-max(1, len(values) // 10) :]))

    c = _STAR_COEF
    stars = (
        c[0]
        + c[1] * math.log(top(velocity) + 1)
        + c[2] * math.log(top(rate))
        + c[3] * math.log(float(np.mean(velocity)) + 1)
        + c[4] * math.log(len(objects))
    )
    return round(max(stars, 0.5), 5)


def iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _covers(set_id: int, stamp: int) -> dict[str, str]:
    names = ("cover", "cover@2x", "card", "card@2x", "list", "list@2x", "slimcover", "slimcover@2x")
    base = f"https://assets.ppy.sh/beatmaps/{set_id}/covers"
    return {n: f"{base}/{n}.jpg?{stamp}" for n in names}


def beatmapset_object(s: SetRecord, full: bool = True) -> dict[str, Any]:
    """The nested `beatmapset` of a /beatmaps answer (full) or the compact one of a score."""
    stamp = int(s.ranked_date.timestamp())
    body: dict[str, Any] = {
        "anime_cover": s.genre_id == 3,
        "artist": s.artist,
        "artist_unicode": s.artist,
        "covers": _covers(s.beatmapset_id, stamp),
        "creator": s.creator,
        "favourite_count": s.favourite_count,
        "genre_id": s.genre_id,
        "hype": None,
        "id": s.beatmapset_id,
        "language_id": s.language_id,
        "nsfw": False,
        "offset": 0,
        "play_count": sum(m.playcount for m in s.maps),
        "preview_url": f"//b.ppy.sh/preview/{s.beatmapset_id}.mp3",
        "source": s.source,
        "spotlight": False,
        "status": STATUS[s.ranked],
        "title": s.title,
        "title_unicode": s.title,
        "track_id": None,
        "user_id": s.user_id,
        "video": False,
    }
    if not full:
        return body
    ratings = [0] + [int(v) for v in np.random.default_rng(s.beatmapset_id).integers(0, 40, 10)]
    score = sum(i * r for i, r in enumerate(ratings)) / max(sum(ratings), 1)
    body.update(
        {
            "bpm": s.bpm,
            "can_be_hyped": False,
            "deleted_at": None,
            "discussion_enabled": True,
            "discussion_locked": False,
            "is_scoreable": True,
            "last_updated": iso(s.ranked_date),
            "legacy_thread_url": f"https://osu.ppy.sh/community/forums/topics/{s.beatmapset_id + 1000000}",
            "nominations_summary": {
                "current": 2,
                "eligible_main_rulesets": ["osu"],
                "required_meta": {"main_ruleset": 2, "non_main_ruleset": 1},
            },
            "ranked": s.ranked,
            "ranked_date": iso(s.ranked_date),
            "rating": round(score, 5),
            "storyboard": False,
            "submitted_date": iso(s.submitted),
            "tags": s.tags,
            "availability": {"download_disabled": False, "more_information": None},
            "ratings": ratings,
        }
    )
    return body


def beatmap_object(m: MapRecord, s: SetRecord | None) -> dict[str, Any]:
    """A BeatmapExtended as /api/v2/beatmaps sends it (with `beatmapset`, `failtimes`, `max_combo`, `owners`)
    or, with `s=None`, as a score's `beatmap` include."""
    circles, sliders, spinners = m.counts
    body: dict[str, Any] = {
        "beatmapset_id": m.beatmapset_id,
        "difficulty_rating": m.stars,
        "id": m.beatmap_id,
        "lazer_only": False,
        "mode": "osu",
        "status": STATUS[m.ranked],
        "total_length": m.total_length,
        "user_id": m.user_id,
        "version": m.version,
        "accuracy": m.od,
        "ar": m.ar,
        "bpm": m.bpm,
        "convert": False,
        "count_circles": circles,
        "count_sliders": sliders,
        "count_spinners": spinners,
        "cs": m.cs,
        "deleted_at": None,
        "drain": m.hp,
        "hit_length": m.hit_length,
        "is_scoreable": True,
        "last_updated": iso(m.last_updated),
        "mode_int": 0,
        "passcount": m.passcount,
        "playcount": m.playcount,
        "ranked": m.ranked,
        "url": f"https://osu.ppy.sh/beatmaps/{m.beatmap_id}",
        "checksum": m.md5,
    }
    if s is None:
        return body
    rng = np.random.default_rng(m.beatmap_id)
    body["beatmapset"] = beatmapset_object(s)
    body["current_user_playcount"] = 0
    body["failtimes"] = {
        "fail": [int(v) for v in rng.poisson(m.playcount / 400 + 1, 100)],
        "exit": [int(v) for v in rng.poisson(m.playcount / 250 + 1, 100)],
    }
    body["max_combo"] = m.gm.max_combo
    body["owners"] = [{"id": m.user_id, "username": s.creator}]
    return body


def collection_object(
    collection_id: int, name: str, members: list[MapRecord], uploader: tuple[int, str], stamp: int
) -> dict[str, Any]:
    """`GET /api/collections/{id}` (v1 shape, every beatmap id + md5 grouped by set)."""
    sets: dict[int, list[dict[str, Any]]] = {}
    for m in members:
        sets.setdefault(m.beatmapset_id, []).append({"checksum": m.md5, "id": m.beatmap_id})
    stars = [min(10, max(1, math.floor(m.stars))) for m in members]
    bpms = [min(300, max(150, int(m.bpm // 10 * 10))) for m in members]
    return {
        "id": collection_id,
        "name": name,
        "description": f"Generated sample collection ({name}).",
        "uploader": {"id": uploader[0], "username": uploader[1], "rank": 0},
        "dateUploaded": {"_seconds": stamp, "_nanoseconds": 0},
        "dateLastModified": {"_seconds": stamp + 86400, "_nanoseconds": 0},
        "beatmapCount": len(members),
        "unsubmittedBeatmapCount": 0,
        "unknownChecksums": [],
        "beatmapsets": [{"beatmaps": maps, "id": sid} for sid, maps in sets.items()],
        "modes": {"osu": len(members), "taiko": 0, "fruits": 0, "mania": 0},
        "difficultySpread": {str(k): stars.count(k) for k in range(1, 11)},
        "bpmSpread": {str(k): bpms.count(k) for k in range(150, 301, 10)},
        "favourites": len(members) % 37,
        "comments": [],
    }


@dataclass
class Play:
    """One score, shared by the dump's `scores` (and `osu_scores_high` when legacy) and the API score body."""

    score_id: int
    legacy_score_id: int | None
    user_id: int
    username: str
    country: str
    beatmap: MapRecord
    mods: list[str]
    accuracy: float
    great: int
    ok: int
    meh: int
    miss: int
    max_combo: int
    total_score: int
    legacy_total_score: int
    pp: float
    rank: str
    has_replay: bool
    ended_at: datetime
    started_at: datetime | None
    build_id: int | None

    @property
    def statistics(self) -> dict[str, int]:
        stats = {"ok": self.ok, "meh": self.meh, "miss": self.miss, "great": self.great}
        if self.legacy_score_id is None:
            ticks, sliders = self.beatmap.ticks, self.beatmap.counts[1]
            stats.update(large_tick_hit=ticks, slider_tail_hit=sliders)
        return {k: v for k, v in stats.items() if v}

    @property
    def maximum_statistics(self) -> dict[str, int]:
        circles, sliders, spinners = self.beatmap.counts
        stats = {"great": circles + sliders + spinners}
        if self.legacy_score_id is None:
            stats.update(large_tick_hit=self.beatmap.ticks, slider_tail_hit=sliders)
        else:
            stats["legacy_combo_increase"] = self.beatmap.gm.max_combo - stats["great"]
        return {k: v for k, v in stats.items() if v}

    @property
    def mod_objects(self) -> list[dict[str, Any]]:
        mods: list[dict[str, Any]] = [{"acronym": m} for m in self.mods]
        if self.legacy_score_id is not None:
            mods.append({"acronym": "CL"})
        return mods


def score_object(play: Play, s: SetRecord, rank_index: int) -> dict[str, Any]:
    """A score of /users/{id}/scores/best in the new format (x-api-version 20220705)."""
    weight = 0.95**rank_index
    return {
        "classic_total_score": play.legacy_total_score or play.total_score * 30,
        "preserve": True,
        "processed": True,
        "ranked": True,
        "maximum_statistics": play.maximum_statistics,
        "mods": play.mod_objects,
        "statistics": play.statistics,
        "beatmap_id": play.beatmap.beatmap_id,
        "best_id": None,
        "id": play.score_id,
        "rank": play.rank,
        "type": "solo_score",
        "user_id": play.user_id,
        "accuracy": play.accuracy,
        "build_id": play.build_id,
        "ended_at": iso(play.ended_at),
        "has_replay": play.has_replay,
        "is_perfect_combo": play.max_combo == play.beatmap.gm.max_combo,
        "legacy_perfect": play.max_combo == play.beatmap.gm.max_combo,
        "legacy_score_id": play.legacy_score_id,
        "legacy_total_score": play.legacy_total_score,
        "max_combo": play.max_combo,
        "passed": True,
        "pp": play.pp,
        "ruleset_id": 0,
        "started_at": iso(play.started_at) if play.started_at else None,
        "total_score": play.total_score,
        "replay": play.has_replay,
        "current_user_attributes": {"pin": None},
        "beatmap": beatmap_object(play.beatmap, None),
        "beatmapset": beatmapset_object(s, full=False),
        "user": {
            "avatar_url": f"https://a.ppy.sh/{play.user_id}?1700000000.jpeg",
            "country_code": play.country,
            "default_group": "default",
            "id": play.user_id,
            "is_active": True,
            "is_bot": False,
            "is_deleted": False,
            "is_online": False,
            "is_supporter": False,
            "last_visit": None,
            "pm_friends_only": False,
            "profile_colour": None,
            "username": play.username,
        },
        "weight": {"percentage": round(weight * 100, 4), "pp": round(play.pp * weight, 3)},
    }
