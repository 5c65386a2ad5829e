"""Feature versions (code fingerprints) and the .osu parser version; the shared table_exists helper."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiai import warehouse
from kiai.transform import build, current_code_fingerprints, current_fingerprints, store
from tests.support.features_world import make_world
from tests.support.paths import SQL_DIR


def test_the_parser_version_read_from_source_is_the_parser_s():
    from kiai.osu.parser import PARSER_VERSION

    assert store._parser_version_from_source() == PARSER_VERSION == store.parser_version()
    from kiai.osu.replay import REPLAY_PARSER_VERSION

    replay = store.REPLAY_PARSER
    assert store._parser_version_from_source(*replay) == REPLAY_PARSER_VERSION == store.parser_version(replay)


def test_a_new_parser_version_is_a_new_feature_version_of_the_models_reading_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    import kiai.osu.parser

    con = warehouse.connect(make_world(tmp_path))
    assert build(con, SQL_DIR).ok
    code, data = current_code_fingerprints(con), current_fingerprints(con)
    monkeypatch.setattr(kiai.osu.parser, "PARSER_VERSION", kiai.osu.parser.PARSER_VERSION + 1)
    con.execute("UPDATE parsed.beatmap_files SET parser_version = parser_version + 1")  # as its re-ingest would
    report = build(con, SQL_DIR)
    assert report.ok
    new_code, new_data = current_code_fingerprints(con), current_fingerprints(con)
    for model in ("file_features", "kiai_sections", "beatmap_features", "dataset"):  # read parsed.* or downstream
        assert new_code[model] != code[model] and new_data[model] != data[model], model
    for model in ("api_features", "beatmaps", "label_conflicts"):  # API and collector only
        assert new_code[model] == code[model] and new_data[model] == data[model], model
    con.close()


def test_table_exists(tmp_path: Path):
    con = warehouse.connect(tmp_path / "k.duckdb")
    assert not warehouse.table_exists(con, "kiai", "t")
    con.execute("CREATE TABLE kiai.t (x INTEGER)")
    con.execute("CREATE VIEW kiai.v AS SELECT 1")
    assert warehouse.table_exists(con, "kiai", "t") and warehouse.table_exists(con, "kiai", "v")
    assert not warehouse.table_exists(con, "raw", "t")
    con.close()
