"""Golden tests of the tier-1 features (features.api_features) and of beatmap_features joining both tiers,
on the recorded API bodies (values checked by hand against the JSON) and constructed edge cases."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from kiai import warehouse
from kiai.errors import KiaiError
from kiai.transform import build
from tests.support.features_world import make_world, md5, osu_text, rows
from tests.support.paths import SQL_DIR

TAGS = ["stream", "finger control", "jump", "tech", "hip hop", "pop", "hyper", "R&B"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    db = make_world(tmp_path_factory.mktemp("tier1"))
    con = warehouse.connect(db)
    report = build(con, SQL_DIR, variables={"tag_keywords": TAGS})
    assert report.ok, [(r.model, r.message) for r in report.failed]
    yield con
    con.close()


def api(con: duckdb.DuckDBPyConnection) -> dict[int, dict]:
    return {r["beatmap_id"]: r for r in rows(con, "SELECT * FROM features.api_features")}


def test_recorded_beatmap_values_by_hand(world):
    got = api(world)[2906626]
    # from get_beatmaps_multi_2026_assembled_from_recorded.json, beatmap 2906626 (set 1354218, genre_id 9)
    assert got["beatmapset_id"] == 1354218 and got["md5"] == "fa7c1430209b28a32cc8e2083250e775"
    assert (got["bpm"], got["ar"], got["cs"], got["od"], got["hp"]) == (106, 9.2, 4, 8.8, 5)
    assert got["star_rating"] == pytest.approx(5.10599)
    assert (got["hit_length"], got["total_length"], got["break_time"]) == (121, 155, 34)
    assert got["break_ratio"] == pytest.approx(34 / 155)
    assert (got["n_circles"], got["n_sliders"], got["n_spinners"], got["max_combo"]) == (241, 161, 1, 564)
    assert got["slider_ratio"] == pytest.approx(161 / 402)
    assert got["genre"] == "Hip Hop" and got["status"] == "ranked"
    other = api(world)[2354779]  # genre_id 10, 180 circles, 355 sliders, 266 s with 259 s of drain
    assert other["genre"] == "Electronic" and other["slider_ratio"] == pytest.approx(355 / 535)
    assert other["break_ratio"] == pytest.approx(7 / 266)


def test_every_column_the_issue_lists_in_order(world):
    columns = [r["column_name"] for r in rows(world, "DESCRIBE features.api_features")]
    expected = ["beatmap_id", "beatmapset_id", "md5", "bpm", "ar", "cs", "od", "hp", "star_rating", "hit_length",
                "total_length", "break_time", "break_ratio", "n_circles", "n_sliders", "n_spinners", "slider_ratio",
                "max_combo", "genre"]  # fmt: skip
    flags = ["has_tag_stream", "has_tag_finger_control", "has_tag_jump", "has_tag_tech", "has_tag_hip_hop",
             "has_tag_pop", "has_tag_hyper", "has_tag_r_b"]  # fmt: skip
    assert columns == [*expected, *flags, "status"]


def test_genre_unknown_when_missing_or_not_in_the_map(world):
    maps = api(world)
    assert maps[900001]["genre"] == "unknown"  # genre_id 8 does not exist
    assert maps[900002]["genre"] == "unknown"  # no genre_id at all
    assert maps[3659392]["genre"] == "unknown"  # Dec 2022 body: no genre_id field


def test_zero_denominators_give_null_not_errors(world):
    zero = api(world)[900001]  # total_length 0, no circles and no sliders
    assert zero["break_time"] == 0 and zero["break_ratio"] is None and zero["slider_ratio"] is None
    assert api(world)[900002]["break_ratio"] == 0


def test_tag_flags_whole_tags_case_insensitive(world):
    maps = api(world)
    zero = maps[900001]  # tags "Stream FINGER control jumps tech-heavy"
    assert zero["has_tag_stream"] and zero["has_tag_finger_control"]
    assert not zero["has_tag_jump"] and not zero["has_tag_tech"]  # "jumps", "tech-heavy" are other tags
    hip = maps[2906626]  # "english hip hop hip-hop pop rap trap r&b ..."
    assert hip["has_tag_hip_hop"] and hip["has_tag_pop"] and hip["has_tag_r_b"] and not hip["has_tag_stream"]
    hyper = maps[3659392]  # "... hyperpop pop experimental ..."
    assert hyper["has_tag_pop"] and not hyper["has_tag_hyper"]
    assert maps[900002]["has_tag_stream"] is False  # a set without tags: no flag, not NULL


def test_other_modes_left_out_and_counted(world):
    assert set(api(world)) == {2354779, 2906626, 3659392, 900001, 900002}
    (counts,) = world.execute(
        "SELECT counts FROM kiai.model_builds WHERE model = 'api_features' AND status = 'built'"
    ).fetchone()
    assert json.loads(counts) == {"other_modes_left_out": 3}  # the taiko, catch and mania maps of 2022


def test_beatmap_features_joins_both_tiers(world):
    got = {r["beatmap_id"]: r for r in rows(world, "SELECT * FROM features.beatmap_features")}
    assert set(got) == {2354779, 2906626, 3659392, 900001, 900002, 900003, None}
    by_id = got[2906626]  # matched by BeatmapID; the file is not the API's version, its md5 is kept
    assert by_id["md5"] == md5(osu_text("by_id", 2906626, 150)) and by_id["star_rating"] == pytest.approx(5.10599)
    assert by_id["n_objects"] == 40 and by_id["bpm_most_common"] == pytest.approx(180, rel=1e-5)
    by_md5 = got[900002]  # the file has no id: matched by md5 = the API's checksum
    assert by_md5["md5"] == md5(osu_text("no_id", None, 300)) and by_md5["n_objects"] == 40
    assert by_md5["beatmapset_id"] == 90002 and by_md5["ar"] == 9.4
    file_only = got[900003]
    assert file_only["star_rating"] is None and file_only["genre"] is None and file_only["n_objects"] == 40
    assert file_only["beatmapset_id"] == 909003  # from the file's BeatmapSetID
    api_only = got[2354779]
    assert api_only["n_objects"] is None and api_only["md5"] == "dea6bd9aad8d934514f57cdac90e0d58"
    assert got[None]["md5"] == md5(osu_text("orphan", None, 200)) and got[None]["beatmapset_id"] is None


def test_a_keyword_list_with_two_spellings_of_one_column_is_a_clear_error(tmp_path: Path):
    con = warehouse.connect(tmp_path / "k.duckdb")
    with pytest.raises(KiaiError, match=r"api_features.sql: var tag_keywords gives the same has_tag_ column twice"):
        build(con, SQL_DIR, variables={"tag_keywords": ["hip hop", "Hip-Hop"]})


def test_file_only_maps_get_the_tier1_columns_the_file_gives(world):
    got = {r["beatmap_id"]: r for r in rows(world, "SELECT * FROM features.beatmap_features")}
    file_only = got[900003]  # 40 circles from 1000 ms every 75 ms (last at 3925 ms), no break, FILE_ONLY_TAGS
    assert (file_only["ar"], file_only["cs"], file_only["od"], file_only["hp"]) == (9, 4, 8, 5)
    assert file_only["bpm"] == pytest.approx(180, rel=1e-5)
    assert (file_only["n_circles"], file_only["n_sliders"], file_only["n_spinners"]) == (40, 0, 0)
    assert file_only["slider_ratio"] == 0
    assert (file_only["total_length"], file_only["hit_length"], file_only["break_time"]) == (3, 2, 1)
    assert file_only["break_ratio"] == pytest.approx(1 / 3)
    assert file_only["has_tag_stream"] and file_only["has_tag_finger_control"] and not file_only["has_tag_jump"]
    for column in ("star_rating", "max_combo", "genre", "status"):  # only the API knows these
        assert file_only[column] is None, column
    orphan = got[None]  # no id and unknown to the API: filled as well, no tags at all
    assert orphan["ar"] == 9 and orphan["n_circles"] == 40 and orphan["has_tag_stream"] is False
    assert got[2906626]["ar"] == 9.2 and got[2906626]["n_circles"] == 241  # the API's values win over the file's
    assert got[2354779]["n_objects"] is None and got[2354779]["ar"] is not None  # API only: unchanged
