"""staging.scores over the fixture dump: every value equals what the dump's row and its `data` JSON say, it lines
up with staging.user_scores, and it builds (empty) on a warehouse without a dump."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest

from kiai import mysql_dialect, query, warehouse
from kiai.load import api_responses, ensure_tables
from kiai.load.ppy_dump import import_dump
from kiai.sources.http import Fetched
from kiai.transform import build
from tests.support.paths import FIXTURES, SQL_DIR

DUMP = FIXTURES / "ppy_dump"
FLAGS = {
    "mod_hd": {"HD"},
    "mod_hr": {"HR"},
    "mod_dt": {"DT", "NC"},
    "mod_fl": {"FL"},
    "mod_ez": {"EZ"},
    "mod_ht": {"HT", "DC"},
}
COUNTS = ["great", "ok", "meh", "miss", "large_tick_hit", "large_tick_miss", "small_tick_hit", "small_tick_miss"]
COUNTS += ["slider_tail_hit", "large_bonus", "small_bonus"]


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    con = warehouse.connect(tmp_path_factory.mktemp("scores") / "w.duckdb")
    ensure_tables(con)
    import_dump(con, [DUMP / "2026_11_01_performance_osu_top_1000"])
    params = {"user_id": 7562902, "type": "best", "mode": "osu", "limit": 100, "offset": 0}
    body = (FIXTURES / "api" / "get_user_scores_best_7562902_api_version_20220705_constructed.json").read_text()
    api_responses.land(con, Fetched("osu_api", "/api/v2/users/{user}/scores/{type}", params, 200, body))
    params = {**params, "type": "firsts"}
    body = (FIXTURES / "api" / "get_user_scores_firsts_7562902_legacy_format_recorded.json").read_text()
    api_responses.land(con, Fetched("osu_api", "/api/v2/users/{user}/scores/{type}", params, 200, body))
    report = build(con, SQL_DIR, select=["scores", "user_scores"])
    assert report.ok, [(r.model, r.message) for r in report.failed]
    return con


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_every_score_says_what_the_dump_says(con: duckdb.DuckDBPyConnection) -> None:
    expected = [json.loads(line) for line in (DUMP / "expected" / "scores.jsonl").read_text().splitlines()]
    sets = {
        m["beatmap_id"]: int(m["beatmapset_id"])
        for m in map(json.loads, (DUMP / "expected" / "osu_beatmaps.jsonl").read_text().splitlines())
    }
    rows = {r["score_id"]: r for r in _rows(con, "SELECT * FROM staging.scores")}
    assert len(rows) == len(expected) == 61
    for want in expected:
        row = rows[int(want["id"])]
        data = json.loads(want["data"])
        acronyms = [m["acronym"] for m in data["mods"]]
        assert row["mod_acronyms"] == acronyms
        assert {flag: row[flag] for flag in FLAGS} == {flag: bool(set(acronyms) & mods) for flag, mods in FLAGS.items()}
        assert json.loads(row["mods"]) == data["mods"]  # the settings too
        assert {k: row[f"count_{k}"] for k in COUNTS} == {k: data["statistics"].get(k, 0) for k in COUNTS}
        assert json.loads(row["statistics"]) == data["statistics"]
        assert json.loads(row["maximum_statistics"]) == data["maximum_statistics"]
        extra = {k: v for k, v in data.items() if k not in ("mods", "statistics", "maximum_statistics")}
        extra.pop("total_score_without_mods", None)
        assert (json.loads(row["data_extra"]) if row["data_extra"] else {}) == extra
        assert row["total_score_without_mods"] == data.get("total_score_without_mods")
        assert row["beatmapset_id"] == sets.get(want["beatmap_id"])
        assert (row["user_id"], row["beatmap_id"], row["ruleset_id"]) == tuple(
            int(want[k]) for k in ("user_id", "beatmap_id", "ruleset_id")
        )
        assert row["legacy_score_id"] == (int(want["legacy_score_id"]) if want["legacy_score_id"] else None)
        assert (row["rank"], row["has_replay"], row["passed"]) == (
            want["rank"], want["has_replay"] == "1", want["passed"] == "1",
        )  # fmt: skip
        assert row["accuracy"] == float(want["accuracy"]) and row["total_score"] == int(want["total_score"])
        assert row["pp"] == (float(want["pp"]) if want["pp"] else None)
        assert row["ended_at"].strftime("%Y-%m-%d %H:%M:%S") == want["ended_at"]
        updated = dt.datetime.fromtimestamp(int(want["unix_updated_at"]), dt.UTC).replace(tzinfo=None)
        assert row["updated_at"] == updated


def test_unknown_data_keys_are_kept(tmp_path: Path) -> None:
    con = warehouse.connect(tmp_path / "extra.duckdb")
    ensure_tables(con)
    con.execute(
        "INSERT INTO ppy.scores (id, user_id, ruleset_id, beatmap_id, has_replay, preserve, ranked, rank, passed, "
        "accuracy, total_score, data, legacy_total_score, ended_at, unix_updated_at) VALUES (1, 2, 0, 3, 2, 1, 1, "
        """'S', 1, 0.9, 100, '{"mods": [], "statistics": {}, "pauses": [1, 2], "total_score_without_mods": 90}', """
        "0, '2026-01-01', 1767225600)"
    )
    assert build(con, SQL_DIR, select=["scores"]).ok
    ((extra, without, replay, mods),) = con.execute(
        "SELECT data_extra, total_score_without_mods, has_replay, mod_acronyms FROM staging.scores"
    ).fetchall()
    assert json.loads(extra) == {"pauses": [1, 2]} and without == 90 and replay is True and mods == []


def test_without_a_dump_the_model_builds_empty(tmp_path: Path) -> None:
    con = warehouse.connect(tmp_path / "new.duckdb")
    report = build(con, SQL_DIR, select=["scores"])
    assert report.ok and con.execute("SELECT count(*) FROM staging.scores").fetchall() == [(0,)]


def test_staging_scores_and_user_scores_line_up(con: duckdb.DuckDBPyConnection) -> None:
    shared = [
        name
        for (name,) in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'staging' "
            "AND table_name = 'scores' ORDER BY ordinal_position"
        ).fetchall()
    ]
    api = dict(
        con.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'staging' "
            "AND table_name = 'user_scores'"
        ).fetchall()
    )
    dump = dict(
        con.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'staging' "
            "AND table_name = 'scores'"
        ).fetchall()
    )
    common = [c for c in shared if c in api]
    assert {"score_id", "legacy_score_id", "beatmapset_id", "mod_acronyms", "mod_dt", "count_great", "mods"} <= set(
        common
    )
    assert all(api[c] == dump[c] for c in common), {c: (api[c], dump[c]) for c in common if api[c] != dump[c]}
    # One query over both: the same score, seen in the dump and through the API (the new format's id is scores.id).
    both = con.execute(
        "SELECT score_id, list(DISTINCT mod_acronyms), list(DISTINCT count_great), count(*) FROM ("
        "SELECT score_id, mod_acronyms, count_great FROM staging.scores UNION ALL "
        "SELECT score_id, mod_acronyms, count_great FROM staging.user_scores WHERE score_format = 'solo_score') "
        "GROUP BY score_id HAVING count(*) > 1 ORDER BY score_id"
    ).fetchall()
    assert both and all(len(mods) == 1 and len(counts) == 1 for _, mods, counts, _ in both)
    legacy = _rows(con, "SELECT * FROM staging.user_scores WHERE list_type = 'firsts'")
    assert all(r["count_great"] is not None and r["count_large_tick_hit"] is None for r in legacy)
    assert all(r["total_score"] is None and r["legacy_total_score"] for r in legacy)


SEED_QUERIES = [
    # count a player's scores above an accuracy with replays after a date
    (
        "SELECT COUNT(*) FROM scores WHERE user_id = 7562902 AND accuracy > 0.9 AND has_replay = 1 "
        "AND preserve = 1 AND ended_at > '2021-01-01'",
        "SELECT count(*) FROM staging.scores WHERE user_id = 7562902 AND accuracy > 0.9 AND has_replay "
        "AND ended_at > '2021-01-01'",
    ),
    # the score id / beatmapset id join
    (
        "SELECT s.id, b.beatmapset_id FROM scores s JOIN osu_beatmaps b ON b.beatmap_id = s.beatmap_id "
        "WHERE s.user_id = 7562902 ORDER BY s.id",
        "SELECT score_id, beatmapset_id FROM staging.scores WHERE user_id = 7562902 ORDER BY score_id",
    ),
]


@pytest.mark.parametrize(("verbatim", "shorter"), SEED_QUERIES)
def test_seed_queries_run_verbatim_and_shorter(con: duckdb.DuckDBPyConnection, verbatim: str, shorter: str) -> None:
    query.set_search_path(con)
    (mysql,) = mysql_dialect.run(con, verbatim)
    assert list(mysql.rows()) == con.execute(shorter).fetchall()
