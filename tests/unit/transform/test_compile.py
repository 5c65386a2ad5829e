"""`kiai models compile --dialect spark`: the shipped models in build order with stable names, DuckDB-only ones
saying why (no Java needed here; tests/e2e/test_spark.py runs the output on Spark)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from kiai import warehouse
from kiai.errors import KiaiError
from kiai.transform.compile import NotPortable, compile_models, to_spark, warehouse_schema
from kiai.transform.project import load_project, model_folders
from kiai.transform.runner import prepare
from tests.support.cli import invoke
from tests.support.paths import shipped_models


@pytest.fixture(scope="module")
def compiled(demo_warehouse: Path):
    con = warehouse.connect(demo_warehouse, read_only=True)
    try:
        _, graphs = prepare(con)
        return compile_models(load_project(model_folders()), warehouse_schema(con)), graphs.order
    finally:
        con.close()


def test_models_in_build_order_with_stable_names(compiled) -> None:
    models, build_order = compiled
    assert [m.model for m in models] == build_order
    assert [m.position for m in models] == list(range(1, len(models) + 1))
    portable = {m.relation: m for m in models if m.sql is not None}
    assert set(portable) == {
        "features.api_features",
        "features.kiai_sections",
        "features.file_features",
        "features.score_features",
        "features.beatmap_features",
        "features.label_conflicts",
        "features.dataset",
        "features.replay_hits",
        "features.replay_summary",
        "staging.beatmaps",
        "staging.beatmapsets",
        "staging.collection_members",
        "staging.scores",
    }
    ff = portable["features.file_features"]
    assert ff.file_name == f"{ff.position:02d}_features.file_features.sql"
    assert "features.kiai_sections" in ff.sql and "__" not in ff.sql  # ref() as the stable name, no version table
    assert ff.reads == ["features.kiai_sections", "parsed.beatmap_files", "parsed.hit_objects", "parsed.timing_points"]
    for model in portable.values():  # nothing DuckDB-only left in the text
        for duckdb_only in ("QUALIFY", "BY NAME", "EXCLUDE", "INT128", "HUGEINT", "PERCENTILE_CONT", " LIST("):
            assert duckdb_only not in model.sql.upper(), (model.relation, duckdb_only)


def test_only_a_model_of_raw_api_json_stays_duckdb_only_and_says_why(compiled) -> None:
    models, _ = compiled
    staying = {m.relation: (m.reason, m.reads) for m in models if m.sql is None}
    reason = "uses DuckDB's json_type(), which kiai does not translate to Spark"
    assert staying == {"staging.user_scores": (reason, ["raw.api_responses"])}


def test_json_is_read_with_sparks_functions(compiled) -> None:
    models, _ = compiled
    scores = next(m for m in models if m.relation == "staging.scores").sql
    assert "FROM_JSON(GET_JSON_OBJECT(s.data, '$.mods'), 'ARRAY<STRING>')" in scores
    assert "MAP_FILTER" in scores and "FROM_JSON(s.data, 'MAP<STRING, VARIANT>')" in scores
    assert "JSON_MERGE_PATCH" not in scores and "AS JSON" not in scores


def test_what_cannot_compile_says_why() -> None:
    with pytest.raises(NotPortable, match=r"reads parsed\.nowhere, which this warehouse does not have"):
        to_spark("SELECT x FROM parsed.nowhere", {})
    with pytest.raises(NotPortable, match="kiai translates only a patch that removes keys"):
        to_spark("""SELECT json_merge_patch('{"a": 1}', '{"a": 2}') AS j""", {})
    with pytest.raises(NotPortable, match="list slice"):
        to_spark("SELECT [1, 2, 3][1:2] AS l", {})
    with pytest.raises(NotPortable, match="only ascending keys"):
        to_spark("SELECT list(v ORDER BY v DESC) AS l FROM (VALUES (1)) t(v)", {})
    with pytest.raises(KiaiError, match="unknown dialect 'trino'"):
        compile_models(load_project(model_folders()), {}, dialect="trino")


def test_a_source_named_like_a_cte_is_still_read() -> None:
    schema = {"parsed": {"replays": {"replay_id": "BIGINT"}}}
    _, reads, _ = to_spark("WITH replays AS (SELECT replay_id FROM parsed.replays) SELECT * FROM replays", schema)
    assert reads == ["parsed.replays"]


def test_a_materialization_hint_is_left_to_spark() -> None:
    """DuckDB's `AS NOT MATERIALIZED` (file_features uses it) is a planning hint with no Spark syntax."""
    schema = {"parsed": {"replays": {"replay_id": "BIGINT"}}}
    sql = "WITH r AS NOT MATERIALIZED (SELECT replay_id FROM parsed.replays) "
    sql += "SELECT * FROM r JOIN r AS s USING (replay_id)"
    text, _, _ = to_spark(sql, schema)
    assert "MATERIALIZED" not in text.upper() and "WITH r AS (" in text


def test_cli_writes_the_files_the_manifest_and_the_runner(demo_warehouse: Path, tmp_path: Path) -> None:
    out = tmp_path / "spark"
    out.mkdir()
    (out / "99_features.gone.sql").write_text("-- a model compiled before and deleted since")
    result = invoke("models", "compile", "--dialect", "spark", "--out", str(out), db=demo_warehouse)
    compiled, total = map(int, re.search(r"compiled (\d+) of (\d+) models", result.stdout).groups())
    assert total == shipped_models() and 0 < compiled < total and "DuckDB-only" in result.stdout
    assert "spark-submit" in result.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    files = sorted(p.name for p in out.glob("*.sql"))
    assert len(files) == compiled
    assert files == sorted(m["file"] for m in manifest["models"] if m["file"])
    assert "99_features.gone.sql" not in files
    assert (out / "run_models.py").read_text().startswith('"""Run kiai\'s compiled models on Spark')
