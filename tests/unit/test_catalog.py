"""kiai.catalog: the names are written once, and what reads them agrees with them."""

from __future__ import annotations

import re

import pytest

from kiai import catalog, warehouse
from kiai.transform.project import ModelError, ModelFolder, load_project
from kiai.transform.render import render
from tests.support.paths import SQL_DIR


def test_a_new_warehouse_has_the_catalog_schemas_and_the_search_path_names_each(tmp_path):
    con = warehouse.connect(tmp_path / "w.duckdb")
    rows = con.execute("SELECT schema_name FROM duckdb_schemas() WHERE database_name = current_database()").fetchall()
    schemas = {name for (name,) in rows}
    assert schemas == {*catalog.SCHEMA_NAMES, "main"}
    assert set(catalog.SEARCH_PATH) == schemas


def test_no_model_repeats_an_endpoint_and_is_endpoint_renders_the_old_condition():
    for path in SQL_DIR.rglob("*.sql"):
        assert not re.search(r"'/api/", path.read_text(encoding="utf-8")), path  # an endpoint as a SQL string
    project = load_project(SQL_DIR)
    rendered = render(project.models["beatmaps"], project).sql
    assert "WHERE r.source = 'osu_api' AND r.endpoint = '/api/v2/beatmaps' AND r.http_status = 200" in rendered


def test_is_endpoint_refuses_a_name_it_does_not_know(tmp_path):
    (tmp_path / "staging").mkdir()
    (tmp_path / "staging" / "odd.sql").write_text("SELECT * FROM raw.api_responses WHERE {{ is_endpoint('beatmap') }}")
    project = load_project([ModelFolder("project", tmp_path)])
    with pytest.raises(ModelError, match=r"is_endpoint\('beatmap'\) names no endpoint; one of beatmaps, "):
        render(project.models["odd"], project)
