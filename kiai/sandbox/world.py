"""What the sandbox serves: beatmaps, .osu files, collections and score lists, in memory."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class SandboxWorld:
    """Bodies by id. `collection_beatmaps` feeds beatmapsv2 paging; without it a collection's maps are looked
    up in `beatmaps`. `user_scores` is keyed by (user_id, type) with the full list (the server pages it).
    Replays are served by score id and by (ruleset, legacy score id), as osu-web does."""

    beatmaps: dict[int, dict[str, Any]] = field(default_factory=dict)
    osu_files: dict[int, bytes] = field(default_factory=dict)
    collections: dict[int, dict[str, Any]] = field(default_factory=dict)
    collection_beatmaps: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    user_scores: dict[tuple[int, str], list[dict[str, Any]]] = field(default_factory=dict)
    replays: dict[int, bytes] = field(default_factory=dict)  # score id -> .osr (/api/v2/scores/{id}/download)
    legacy_replays: dict[tuple[str, int], bytes] = field(default_factory=dict)  # (ruleset, legacy id) -> .osr
    client_id: str = "4242"
    client_secret: str = "sandbox-client-secret"
    token_lifetime: int = 86400

    def collection_members(self, collection_id: int) -> list[dict[str, Any]]:
        if collection_id in self.collection_beatmaps:
            return self.collection_beatmaps[collection_id]
        ids = [b["id"] for s in self.collections[collection_id].get("beatmapsets", []) for b in s["beatmaps"]]
        return [self.beatmaps[i] for i in ids if i in self.beatmaps]


def collection_body(collection_id: int, name: str, beatmaps: list[dict[str, Any]]) -> dict[str, Any]:
    """A `GET /api/collections/{id}` body (v1 shape) listing `beatmaps` grouped by set."""
    sets: dict[int, list[dict[str, Any]]] = {}
    for b in beatmaps:
        sets.setdefault(b["beatmapset_id"], []).append({"checksum": b["checksum"], "id": b["id"]})
    return {
        "id": collection_id,
        "name": name,
        "description": "sandbox collection",
        "uploader": {"id": 1, "username": "sandbox", "rank": 0},
        "beatmapCount": len(beatmaps),
        "unknownChecksums": [],
        "beatmapsets": [{"beatmaps": maps, "id": sid} for sid, maps in sets.items()],
    }


def _osu_field(text: str, key: str) -> str | None:
    """The value of the first `key: value` line (no regex with a lazy group before trailing blanks: those
    backtrack quadratically on a long run of spaces)."""
    match = re.search(rf"^{key}[ \t]*:([^\r\n]*)", text, re.MULTILINE)
    return match.group(1).strip() if match else None


def add_osu_files(world: SandboxWorld, paths: list[Path], template: dict[str, Any]) -> list[int]:
    """Serve real .osu files: each becomes `/osu/{id}` plus a beatmap object (a copy of `template` with the
    file's id, set id, names and md5 as `checksum`). The id is `BeatmapID` or the last number in the name."""
    ids = []
    for path in sorted(paths):
        data = path.read_bytes()
        text = data.decode("utf-8", errors="replace")
        raw_id = _osu_field(text, "BeatmapID")
        if not raw_id or int(raw_id) <= 0:
            numbers = re.findall(r"\d+", path.stem)
            if not numbers or int(numbers[-1]) < 1000:
                continue
            raw_id = numbers[-1]
        beatmap_id = int(raw_id)
        if beatmap_id in world.osu_files:
            continue
        set_id = int(_osu_field(text, "BeatmapSetID") or 0) or beatmap_id
        beatmap = copy.deepcopy(template)
        beatmap.update(id=beatmap_id, beatmapset_id=set_id, checksum=hashlib.md5(data).hexdigest())
        beatmap["version"] = _osu_field(text, "Version") or beatmap.get("version")
        beatmap["url"] = f"https://osu.ppy.sh/beatmaps/{beatmap_id}"
        if isinstance(beatmap.get("beatmapset"), dict):
            beatmap["beatmapset"].update(
                id=set_id,
                title=_osu_field(text, "Title") or "",
                artist=_osu_field(text, "Artist") or "",
                creator=_osu_field(text, "Creator") or "",
            )
        world.beatmaps[beatmap_id] = beatmap
        world.osu_files[beatmap_id] = data
        ids.append(beatmap_id)
    return ids


def world_from_fixtures(root: Path) -> SandboxWorld:
    """A world from recorded bodies laid out like kiai's `tests/fixtures` (api/, collector/, osu/)."""
    world = SandboxWorld()
    for path in sorted((root / "api").glob("get_beatmaps_multi_*.json")):
        for beatmap in json.loads(path.read_text())["beatmaps"]:
            world.beatmaps[beatmap["id"]] = beatmap
    for path in sorted((root / "collector").glob("collection_*_constructed.json")):
        match = re.fullmatch(r"collection_(\d+)_constructed\.json", path.name)
        if match:
            world.collections[int(match.group(1))] = json.loads(path.read_text())
    for collection_id in world.collections:
        pages = sorted((root / "collector").glob(f"collection_{collection_id}_beatmapsv2_*.json"))
        pages.sort(key=lambda p: "cursor" in p.name)
        members = [b for p in pages for b in json.loads(p.read_text())["beatmaps"]]
        if members:
            world.collection_beatmaps[collection_id] = members
            for beatmap in members:
                world.beatmaps.setdefault(beatmap["id"], beatmap)
    score_files = sorted((root / "api").glob("get_user_scores_*.json"), key=lambda p: "api_version" in p.name)
    for path in score_files:  # files in the new score format come last and win
        match = re.match(r"get_user_scores_(best|firsts|pinned|recent)_(\d+)_", path.name)
        body = json.loads(path.read_text())
        if match and isinstance(body, list):
            world.user_scores[(int(match.group(2)), match.group(1))] = body
    template = json.loads((root / "api" / "get_beatmap_2906626_recorded.json").read_text())
    add_osu_files(world, list((root / "osu").glob("*.osu")), template)
    return world
