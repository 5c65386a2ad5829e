"""A small labelled warehouse for the feature and dataset tests: the recorded API bodies, a constructed one
with the edge cases, generated .osu files, and osu!collector bodies for three categories."""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from kiai import warehouse
from kiai.load import api_responses, ensure_tables
from kiai.sources.http import Fetched
from tests.support.cli import invoke
from tests.support.paths import FIXTURES

T0 = datetime(2026, 1, 1)
FILE_ONLY_TAGS = "Stream FINGER control jumps"
CATEGORIES = [("stream", 501), ("jump", 502), ("farm", 503)]

OSU = """osu file format v14

[General]
Mode: 0

[Metadata]
Title:{title}
Version:test
{id_lines}
[Difficulty]
HPDrainRate:5
CircleSize:4
OverallDifficulty:8
ApproachRate:9
SliderMultiplier:1.4
SliderTickRate:1

[TimingPoints]
{timing}

[HitObjects]
{objects}
"""


def osu_map_text(
    title: str,
    beatmap_id: int | None,
    timing: list[str],
    circles: list[tuple[int, int, int]],
    set_id: int | None = None,
    tags: str = "",
) -> str:
    """A v14 osu!standard map of circles at (x, y, time) under the given timing lines."""
    keys = {"BeatmapID": beatmap_id, "BeatmapSetID": set_id, "Tags": tags}
    id_lines = "".join(f"{key}:{value}\n" for key, value in keys.items() if value)
    objects = "\n".join(f"{x},{y},{t},1,0,0:0:0:0:" for x, y, t in circles)
    return OSU.format(title=title, id_lines=id_lines, timing="\n".join(timing), objects=objects)


def osu_text(title: str, beatmap_id: int | None, step_ms: int, tags: str = "") -> str:
    """40 circles `step_ms` apart at 180 BPM; a map with an id gets the set id 9000 + id."""
    circles = [(100 + i % 7 * 40, 100 + i % 5 * 40, 1000 + i * step_ms) for i in range(40)]
    set_id = 9000 + beatmap_id if beatmap_id else None
    return osu_map_text(title, beatmap_id, ["1000,333.333333333333,4,2,0,100,1,0"], circles, set_id, tags)


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def body(relative: str) -> str:
    return (FIXTURES / relative).read_text(encoding="utf-8")


def constructed_beatmaps(no_id_md5: str) -> dict[str, Any]:
    """Edge cases on top of a recorded 2026 beatmap: zero lengths and counts, a genre id that does not exist,
    mixed-case and multi-word tags; a map with no genre_id whose checksum is a parsed file without an id."""
    recorded = json.loads(body("api/get_beatmaps_multi_2026_assembled_from_recorded.json"))["beatmaps"][0]
    zero = copy.deepcopy(recorded)
    zero.update(id=900001, beatmapset_id=90001, total_length=0, hit_length=0, count_circles=0, count_sliders=0)
    zero["checksum"] = "0" * 32
    zero["beatmapset"].update(id=90001, genre_id=8, tags="Stream FINGER control jumps tech-heavy")
    missing = copy.deepcopy(recorded)
    missing.update(id=900002, beatmapset_id=90002, total_length=100, hit_length=100, checksum=no_id_md5)
    missing["beatmapset"].update(id=90002, tags=None)
    del missing["beatmapset"]["genre_id"]
    return {"beatmaps": [zero, missing]}


def collection(collection_id: int, maps: list[tuple[int, int, str]]) -> str:
    sets: dict[int, list[dict[str, Any]]] = {}
    for beatmap_id, set_id, checksum in maps:
        sets.setdefault(set_id, []).append({"id": beatmap_id, "checksum": checksum})
    return json.dumps(
        {
            "id": collection_id,
            "name": f"c{collection_id}",
            "beatmapsets": [{"id": s, "beatmaps": b} for s, b in sets.items()],
        }
    )


def make_world(folder: Path) -> Path:
    """Ingest the generated files and land every body; returns the warehouse path (nothing built yet)."""
    files = folder / "osu"
    files.mkdir(parents=True)
    texts = {
        "by_id": osu_text("by_id", 2906626, 150),  # the API's map 2906626, but not the file the API has
        "file_only": osu_text("file_only", 900003, 75, tags=FILE_ONLY_TAGS),
        "no_id": osu_text("no_id", None, 300),  # matched to 900002 by md5
        "orphan": osu_text("orphan", None, 200),  # no id, unknown to the API: beatmap_id NULL
    }
    for name, text in texts.items():
        (files / f"{name}.osu").write_text(text, encoding="utf-8")
    db = folder / "kiai.duckdb"
    invoke("ingest", "osu-files", str(files), db=db)
    con = warehouse.connect(db)
    ensure_tables(con)
    land(con, "osu_api", "/api/v2/beatmaps", {"ids": [1]}, body("api/get_beatmaps_multi_4modes_2022_recorded.json"))
    land(
        con,
        "osu_api",
        "/api/v2/beatmaps",
        {"ids": [2]},
        body("api/get_beatmaps_multi_2026_assembled_from_recorded.json"),
    )
    land(con, "osu_api", "/api/v2/beatmaps", {"ids": [3]}, json.dumps(constructed_beatmaps(md5(texts["no_id"]))))
    members = {
        501: [(2354779, 1127019, "x"), (2906626, 1354218, "x"), (900001, 90001, "x")],
        502: [(2906626, 1354218, "x"), (3586360, 1688862, "x"), (77, 7, "x")],  # a conflict, taiko, unknown
        503: [(3659392, 1786386, "x"), (900003, 909003, "x"), (555, 5, md5(texts["orphan"]))],
    }
    for cid, maps in members.items():
        land(con, "collector", "/api/collections/{id}", {"collection_id": cid}, collection(cid, maps))
    api_responses.set_collection_labels(con, CATEGORIES)
    con.close()
    return db


@contextmanager
def copy_of(db: Path, folder: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A writable copy of a module's world in `folder`, so each test may change it."""
    copy_path = folder / "kiai.duckdb"
    shutil.copy(db, copy_path)
    con = warehouse.connect(copy_path)
    try:
        yield con
    finally:
        con.close()


def land(con: duckdb.DuckDBPyConnection, source: str, endpoint: str, params: dict, text: str) -> None:
    (count,) = con.execute("SELECT count(*) FROM raw.api_responses").fetchone()
    api_responses.land(con, Fetched(source, endpoint, params, 200, text, fetched_at=T0 + timedelta(minutes=count)))


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
