"""Staging models over raw.api_responses, run on a real warehouse where recorded bodies were landed.

Each model's header is parsed as TOML and its SELECT, rendered by kiai's Jinja (`is_endpoint`), run directly."""

from __future__ import annotations

import json
import re
import tomllib
from datetime import datetime, timedelta

import duckdb
import pytest

from kiai.load import api_responses, ensure_tables
from kiai.sources.http import Fetched
from kiai.transform.project import load_project
from kiai.transform.render import render
from kiai.warehouse import connect
from tests.support.paths import FIXTURES, REPO

T0 = datetime(2026, 1, 1)


def model(name: str) -> tuple[dict, str]:
    text = (REPO / "sql" / "staging" / f"{name}.sql").read_text()
    match = re.fullmatch(r"\s*/\* kiai\n(.*?)\*/\s*(.*)", text, re.DOTALL)
    assert match, f"{name}.sql has no kiai header"
    project = load_project(REPO / "sql")
    return tomllib.loads(match.group(1)), render(project.models[name], project, text=match.group(2)).sql


def rows(con: duckdb.DuckDBPyConnection, name: str) -> list[dict]:
    _, sql = model(name)
    cursor = con.execute(sql)
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, r, strict=True)) for r in cursor.fetchall()]


def body(path: str) -> str:
    return (FIXTURES / path).read_text()


@pytest.fixture
def con(tmp_path):
    con = connect(tmp_path / "wh.duckdb")
    ensure_tables(con)
    land = lambda *args, minutes=0: api_responses.land(con, Fetched(*args, fetched_at=T0 + timedelta(minutes=minutes)))  # noqa: E731
    land("osu_api", "/api/v2/beatmaps", {"ids": [3578277, 3586360, 3659392, 3887629]}, 200,
         body("api/get_beatmaps_multi_4modes_2022_recorded.json"))  # fmt: skip
    land("osu_api", "/api/v2/beatmaps", {"ids": [2354779, 2906626, 7]}, 200,
         body("api/get_beatmaps_multi_2026_assembled_from_recorded.json"), minutes=1)  # fmt: skip
    newer = json.loads(body("api/get_beatmaps_multi_2026_assembled_from_recorded.json"))
    newer["beatmaps"] = [dict(newer["beatmaps"][0], playcount=999_999_999)]
    land("osu_api", "/api/v2/beatmaps", {"ids": [2354779]}, 200, json.dumps(newer), minutes=2)
    land(
        "collector",
        "/api/collections/{id}",
        {"collection_id": 44},
        200,
        body("collector/collection_44_constructed.json"),
    )
    land("collector", "/api/collections/{id}", {"collection_id": 45}, 404, '{"error":"Collection not found"}')
    for user, kind, name in [
        (7562902, "best", "get_user_scores_best_7562902_api_version_20220705_constructed.json"),
        (7562902, "firsts", "get_user_scores_firsts_7562902_legacy_format_recorded.json"),
        (0, "firsts", "get_user_scores_firsts_user0_404_recorded.json"),
    ]:
        status = 404 if "404" in name else 200
        params = {"user_id": user, "type": kind, "mode": "osu", "limit": 100, "offset": 0}
        land("osu_api", "/api/v2/users/{user}/scores/{type}", params, status, body(f"api/{name}"))
    api_responses.set_collection_labels(con, [("stream", 44), ("jump", 45), ("farm", 44)])
    yield con
    con.close()


def test_headers_are_valid_and_declare_tested_columns():
    for name in ("beatmaps", "beatmapsets", "collection_members", "user_scores"):
        header, sql = model(name)
        assert header["materialized"] == "view" and header["description"]
        assert sql.lstrip().upper().startswith(("SELECT", "WITH"))
        for column in header.get("columns", {}):
            assert re.search(rf"\b{column}\b", sql), f"{name}: documented column {column} not in the SELECT"


def test_beatmaps_latest_response_wins(con):
    maps = {r["beatmap_id"]: r for r in rows(con, "beatmaps")}
    assert sorted(maps) == [2354779, 2906626, 3578277, 3586360, 3659392, 3887629]
    assert maps[2354779]["playcount"] == 999_999_999  # from the newest response
    assert {r["mode_int"] for r in maps.values()} == {0, 1, 2, 3}
    recorded = json.loads(body("api/get_beatmaps_multi_2026_assembled_from_recorded.json"))["beatmaps"][1]
    row = maps[2906626]
    assert (row["checksum"], row["ar"], row["od"], row["hp"], row["bpm"]) == (
        recorded["checksum"], recorded["ar"], recorded["accuracy"], recorded["drain"], recorded["bpm"],
    )  # fmt: skip
    assert row["url"] == recorded["url"] and "\\/" not in row["url"]  # PHP's \/ decoded
    assert row["last_updated"] is not None


def test_beatmapsets_lenient_about_older_shapes(con):
    sets = {r["beatmapset_id"]: r for r in rows(con, "beatmapsets")}
    assert len(sets) == 6
    old = sets[1748991]  # Dec 2022 body: no genre_id / language_id
    assert old["genre_id"] is None and old["title"]
    current = sets[1354218]
    assert isinstance(current["genre_id"], int) and len(current["ratings"]) == 11


def test_collection_members_with_labels(con):
    members = rows(con, "collection_members")
    collection = json.loads(body("collector/collection_44_constructed.json"))
    expected = [(b["id"], b["checksum"]) for s in collection["beatmapsets"] for b in s["beatmaps"]]
    for category in ("stream", "farm"):
        mine = sorted((r for r in members if r["category"] == category), key=lambda r: r["position"])
        assert [(r["beatmap_id"], r["checksum"]) for r in mine] == expected
        assert [r["position"] for r in mine] == list(range(1, 51))
    assert {r["category"] for r in members} == {"stream", "farm"}  # 45 answered 404


def test_user_scores_both_formats(con):
    scores = rows(con, "user_scores")
    best = [s for s in scores if s["list_type"] == "best"]
    firsts = [s for s in scores if s["list_type"] == "firsts"]
    new = json.loads(body("api/get_user_scores_best_7562902_api_version_20220705_constructed.json"))
    legacy = json.loads(body("api/get_user_scores_firsts_7562902_legacy_format_recorded.json"))
    assert sorted(s["score_id"] for s in best) == sorted(s["id"] for s in new)
    assert sorted(s["score_id"] for s in firsts) == sorted(s["id"] for s in legacy)
    assert all(s["beatmap_id"] and s["user_id"] == 7562902 and s["ended_at"] for s in scores)
    assert all(s["legacy_score_id"] == n.get("legacy_score_id") for s, n in zip(
        sorted(best, key=lambda s: s["score_id"]), sorted(new, key=lambda s: s["id"]), strict=True))  # fmt: skip
    assert all(0 <= s["accuracy"] <= 1 for s in scores)
