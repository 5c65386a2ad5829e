"""The model runner on a real DuckDB file: versions, fingerprints, tests, selection, errors."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from kiai import warehouse
from kiai.errors import KiaiError
from kiai.load import ensure_tables
from kiai.transform import build, current_fingerprints, manage, store
from kiai.transform.plan import Action
from kiai.transform.runner import Status, prepare

OBJS = """/* kiai
materialized = "view"
description = "hit objects right of min_x"
[columns.md5]
tests = ["not_null"]
*/
SELECT f.md5, o.x, o.time_ms
FROM parsed.hit_objects AS o JOIN parsed.beatmap_files AS f USING (file_id)
WHERE x > {{ var('min_x') }}
"""
PER_MAP = """/* kiai
[columns.md5]
description = "beatmap file md5"
tests = ["not_null", "unique"]
[columns.n]
tests = [{accepted_range = {min = 1, max = 1000}}]
*/
SELECT md5, count(*) AS n FROM {{ ref('objs') }} GROUP BY md5
"""
SUMMARY = """SELECT count(*) AS maps, sum(n) AS objects FROM {{ ref('per_map') }}"""


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def sql_dir(tmp_path: Path) -> Path:
    root = tmp_path / "sql"
    write(root, "vars.toml", "min_x = 100\n")
    write(root, "staging/objs.sql", OBJS)
    write(root, "features/per_map.sql", PER_MAP)
    write(root, "features/summary.sql", SUMMARY)
    return root


@pytest.fixture
def con(db_path: Path) -> duckdb.DuckDBPyConnection:
    con = warehouse.connect(db_path)
    ensure_tables(con)
    add_objects(con, "m", 3, 300)
    yield con
    con.close()


def add_objects(con: duckdb.DuckDBPyConnection, prefix: str, maps: int, per_map: int) -> None:
    """`maps` files named prefix0, prefix1, ... in parsed.beatmap_files, with `per_map` circles each."""
    con.execute(
        """
        INSERT INTO parsed.beatmap_files (file_id, md5, mode, parser_version)
        SELECT nextval('parsed.file_ids'), $prefix || i, 0, 1 FROM range($maps) r(i)
        """,
        {"prefix": prefix, "maps": maps},
    )
    con.execute(
        """
        INSERT INTO parsed.hit_objects
            (file_id, object_index, time_ms, x, y, kind, new_combo, combo_skip, slider_velocity, kiai, time_order)
        SELECT f.file_id, i % $per_map, i * 10, 50 + (i * 37) % 400, 0, 'circle', false, 0, 1, false, i % $per_map
        FROM range($n) r(i) JOIN parsed.beatmap_files AS f ON f.md5 = $prefix || (i // $per_map)
        """,
        {"prefix": prefix, "per_map": per_map, "n": maps * per_map},
    )


def statuses(report) -> dict[str, str]:
    return {r.model: r.status for r in report.results}


def relations(con: duckdb.DuckDBPyConnection, schema: str) -> set[str]:
    rows = con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = ?", [schema]).fetchall()
    rows += con.execute(
        "SELECT view_name FROM duckdb_views() WHERE schema_name = ? AND NOT internal", [schema]
    ).fetchall()
    return {r[0] for r in rows}


def test_first_build_materialises_versions_behind_stable_views(con, sql_dir):
    report = build(con, sql_dir)
    assert statuses(report) == {"objs": "built", "per_map": "built", "summary": "built"}
    fps = current_fingerprints(con)
    assert set(fps) == {"objs", "per_map", "summary"}
    assert all(len(fp) == 12 for fp in fps.values())
    assert f"per_map__{fps['per_map']}" in relations(con, "features")
    expected = con.execute("SELECT count(*) FROM parsed.hit_objects WHERE x > 100").fetchone()[0]
    assert con.execute("SELECT objects FROM features.summary").fetchone()[0] == expected
    assert con.execute("SELECT maps FROM features.summary").fetchone()[0] == 3
    log = con.execute("SELECT model, status, rows FROM kiai.model_builds ORDER BY started_at").fetchall()
    assert [(m, s) for m, s, _ in log] == [("objs", "built"), ("per_map", "built"), ("summary", "built")]
    assert log[1][2] == 3


def test_nothing_to_do_when_nothing_changed(con, sql_dir):
    build(con, sql_dir)
    report = build(con, sql_dir)
    assert report.todo == [] and report.results == []
    assert {item.action for item in report.plan} == {"up_to_date"}


def test_whitespace_and_comments_make_no_new_version_but_logic_does(con, sql_dir):
    build(con, sql_dir)
    before = current_fingerprints(con)
    reformatted = PER_MAP.replace(
        "SELECT md5, count(*) AS n FROM", "-- per-map counts\nselect   md5,\n    COUNT(*) as n /* c */\nfrom"
    )
    write(sql_dir, "features/per_map.sql", reformatted)
    assert build(con, sql_dir).todo == []
    assert current_fingerprints(con) == before

    write(sql_dir, "features/per_map.sql", PER_MAP.replace("count(*) AS n", "count(*) * 2 AS n"))
    report = build(con, sql_dir)
    assert [(i.model, i.reasons) for i in report.todo] == [
        ("per_map", ["SQL changed"]),
        ("summary", ["upstream per_map changed"]),
    ]
    after = current_fingerprints(con)
    assert after["per_map"] != before["per_map"] and after["objs"] == before["objs"]
    old_sum = con.execute(f"SELECT sum(n) FROM features.per_map__{before['per_map']}").fetchone()[0]
    new_sum = con.execute("SELECT sum(n) FROM features.per_map").fetchone()[0]
    assert new_sum == 2 * old_sum  # the old version stays queryable next to the new current one


def test_new_or_updated_data_rebuilds(con, sql_dir):
    build(con, sql_dir)
    add_objects(con, "new", 2, 10)
    report = build(con, sql_dir)
    assert report.todo[0].reasons == ["data changed in parsed.beatmap_files", "data changed in parsed.hit_objects"]
    assert con.execute("SELECT maps FROM features.summary").fetchone()[0] == 5
    # parsed.hit_objects is content-addressed: its rows for a file change only with the file (md5) or the
    # parser version, which parsed.beatmap_files holds beside the file id; the watermark hashes file ids, not
    # whole rows, so an edit in place is not seen until the file's row says a new parser made it
    new0 = "file_id = (SELECT file_id FROM parsed.beatmap_files WHERE md5 = 'new0')"
    con.execute(f"UPDATE parsed.hit_objects SET x = 5 WHERE {new0}")
    assert build(con, sql_dir).todo == []
    con.execute("UPDATE parsed.beatmap_files SET parser_version = 2 WHERE md5 = 'new0'")  # as a re-parse does
    assert build(con, sql_dir).todo[0].reasons == [
        "data changed in parsed.beatmap_files",
        "data changed in parsed.hit_objects",
    ]
    assert con.execute("SELECT maps FROM features.summary").fetchone()[0] == 4


def test_vars_from_file_config_and_overrides(con, sql_dir):
    build(con, sql_dir)
    report = build(con, sql_dir, variables={"min_x": 400})
    assert report.todo[0].reasons == ["SQL changed", "var min_x: 100 -> 400"]
    assert con.execute("SELECT min(x) FROM staging.objs").fetchone()[0] == 401


def test_reverting_a_change_reuses_the_old_version(con, sql_dir):
    build(con, sql_dir)
    first = current_fingerprints(con)
    build(con, sql_dir, variables={"min_x": 400})
    report = build(con, sql_dir)
    assert {i.model: i.action for i in report.todo} == {"objs": "reuse", "per_map": "reuse", "summary": "reuse"}
    assert current_fingerprints(con) == first


def test_failing_test_stops_downstream_and_keeps_previous_current(con, sql_dir):
    build(con, sql_dir)
    before = current_fingerprints(con)
    write(sql_dir, "features/per_map.sql", PER_MAP.replace("GROUP BY md5", "GROUP BY md5, x % 2"))
    report = build(con, sql_dir)
    assert statuses(report) == {"per_map": "tests_failed", "summary": "skipped"}
    assert not report.ok
    failed = report.results[0].tests[0 if report.results[0].tests[0].failures else 1]
    assert failed.label == "unique(md5)" and failed.failures == 3
    assert failed.samples and failed.columns == ["md5", "duplicates"]
    assert current_fingerprints(con) == before  # the stable name still shows the last good version
    log = dict(con.execute("SELECT model, status FROM kiai.model_builds WHERE status <> 'built'").fetchall())
    assert log == {"per_map": "tests_failed", "summary": "skipped"}


def test_changed_tests_rerun_without_rebuilding(con, sql_dir):
    build(con, sql_dir)
    write(sql_dir, "features/per_map.sql", PER_MAP.replace("max = 1000", "max = 10"))
    report = build(con, sql_dir)
    assert [(i.model, i.action) for i in report.todo] == [("per_map", "retest")]
    assert statuses(report) == {"per_map": "tests_failed"}
    assert "accepted_range(n, max=10, min=1): 3 failing rows" in report.results[0].message


def test_select_downstream_and_upstream(con, sql_dir):
    build(con, sql_dir)
    report = build(con, sql_dir, select=["per_map+"], full_refresh=True)
    assert [i.model for i in report.todo] == ["per_map", "summary"]
    report = build(con, sql_dir, select=["+per_map"], full_refresh=True)
    assert [i.model for i in report.todo] == ["objs", "per_map"]
    with pytest.raises(KiaiError, match="no model named 'nope'"):
        build(con, sql_dir, select=["nope+"])


def test_selecting_a_model_whose_upstream_was_never_built_is_an_error(con, sql_dir):
    with pytest.raises(KiaiError, match=r"upstream model 'objs' has never been built.*--select \+per_map"):
        build(con, sql_dir, select=["per_map"])


def test_sql_error_is_reported_with_the_file(con, sql_dir):
    write(sql_dir, "features/per_map.sql", "SELECT md5, no_such_column FROM {{ ref('objs') }}")
    report = build(con, sql_dir)
    assert statuses(report) == {"objs": "built", "per_map": "error", "summary": "skipped"}
    assert "per_map.sql" in report.results[1].message and "no_such_column" in report.results[1].message


@pytest.mark.parametrize(
    ("relative", "text", "message"),
    [
        ("features/a.sql", "SELECT * FROM {{ ref('b') }}", r"dependency cycle: features/a.sql -> features/b.sql"),
        ("features/a.sql", "SELECT * FROM {{ ref('missing') }}", r"a.sql: ref\('missing'\) names no model"),
        ("features/a.sql", "SELECT * FROM features.per_map", r"a.sql: reads features.per_map directly"),
        ("features/a.sql", "SELECT * FROM per_map", r"a.sql: table 'per_map' has no schema"),
        ("features/a.sql", "SELECT {{ var('nope') }}", r"a.sql: var\('nope'\) is not set"),
        ("features/a.sql", "SELECT 1; SELECT 2", r"a.sql: a model is exactly one SELECT"),
        ("features/a.sql", "/* kiai\nmaterialized = 'tabel'\n*/ SELECT 1", r"a.sql: materialized must be"),
        ("features/a.sql", "/* kiai\ncolour = 1\n*/ SELECT 1", r"a.sql: unknown header key"),
        ("features/a.sql", "/* kiai\n[columns.x]\ntests = ['nonnull']\n*/ SELECT 1 AS x", r"is not one of"),
        ("features/a.sql", "/* kiai\nthis is not toml\n*/ SELECT 1", r"a.sql: header is not valid TOML"),
        ("other/per_map.sql", "SELECT 1", r"model name 'per_map' is used twice"),
        ("parsed/a.sql", "SELECT 1", r"schema 'parsed' is reserved"),
    ],
)
def test_invalid_models_are_clear_errors_naming_the_file(con, sql_dir, relative, text, message):
    write(sql_dir, relative, text)
    write(sql_dir, "features/b.sql", "SELECT * FROM {{ ref('a') }}" if "ref('b')" in text else "SELECT 1 AS b")
    with pytest.raises(KiaiError, match=message):
        build(con, sql_dir)
    assert not store.has_tables(con) or current_fingerprints(con) == {}


def test_relationships_and_accepted_values_tests_and_counts(con, sql_dir):
    write(
        sql_dir,
        "features/flagged.sql",
        """/* kiai
[columns.md5]
tests = [{relationships = {to = "per_map", field = "md5"}}, {accepted_values = {values = ["m0", "m1"]}}]
[counts]
left_out = "SELECT count(DISTINCT md5) FROM parsed.beatmap_files WHERE md5 = 'm2'"
*/
SELECT DISTINCT md5 FROM parsed.beatmap_files WHERE md5 <> '{{ var("drop", "m2") }}'
""",
    )
    report = build(con, sql_dir)
    assert report.ok
    counts = con.execute("SELECT counts FROM kiai.model_builds WHERE model = 'flagged'").fetchone()[0]
    assert counts == '{"left_out": 1}'
    report = build(con, sql_dir, variables={"drop": "zzz"})
    assert statuses(report)["flagged"] == "tests_failed"
    assert "accepted_values" in report.results[-1].message


def test_diff_tells_breaking_from_compatible_changes(con, sql_dir):
    build(con, sql_dir)
    project, graphs = prepare(con, sql_dir)
    assert manage.diff(con, project, graphs, "per_map").reasons == []
    write(sql_dir, "features/per_map.sql", PER_MAP.replace("AS n", "AS n, max(x) AS max_x"))
    project, graphs = prepare(con, sql_dir)
    result = manage.diff(con, project, graphs, "per_map")
    assert result.added == ["max_x"] and not result.breaking
    assert any(line.startswith("+") and "max_x" in line for line in result.sql_diff)
    write(sql_dir, "features/per_map.sql", PER_MAP.replace("count(*) AS n", "count(*)::VARCHAR AS n"))
    project, graphs = prepare(con, sql_dir)
    result = manage.diff(con, project, graphs, "per_map")
    assert result.breaking and result.retyped == ["n: BIGINT -> VARCHAR"]


def test_prune_keeps_newest_versions_and_the_current_one(con, sql_dir):
    for min_x in (100, 200, 300, 400):
        build(con, sql_dir, variables={"min_x": min_x})
    build(con, sql_dir, variables={"min_x": 100}, select=["+summary"])  # reuse the oldest: it is current again
    assert len(store.versions(con, "per_map")) == 4
    dropped = manage.prune(con, keep=2)
    kept = store.versions(con, "per_map")
    assert len(kept) == 3 and any(v.current for v in kept)
    assert {v.model for v in dropped} == {"objs", "per_map", "summary"}
    names = relations(con, "features")
    assert all(v.relation.split(".")[1] not in names for v in dropped if v.model != "objs")
    assert con.execute("SELECT count(*) FROM features.summary").fetchone()[0] == 1
    assert build(con, sql_dir).todo == []


def test_the_build_log_and_versions_are_in_utc_whatever_the_local_zone(con, sql_dir, monkeypatch):
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")  # UTC+14: a local timestamp would be 14 hours off
    time.tzset()
    try:
        before = warehouse.utc_now()
        assert build(con, sql_dir).ok
        after = warehouse.utc_now()
    finally:
        monkeypatch.undo()
        time.tzset()
    stamps = con.execute(
        "SELECT min(started_at), max(finished_at) FROM kiai.model_builds UNION ALL "
        "SELECT min(created_at), max(created_at) FROM kiai.model_versions UNION ALL "
        "SELECT min(switched_at), max(switched_at) FROM kiai.model_current UNION ALL "
        "SELECT min(checked_at), max(checked_at) FROM kiai.model_test_results"
    ).fetchall()
    for first, last in stamps:
        assert before - timedelta(seconds=1) <= first <= last <= after + timedelta(seconds=1)


def test_each_materialization_makes_its_kind_of_relation_and_prune_drops_it(con, sql_dir):
    assert build(con, sql_dir).ok
    first = current_fingerprints(con)
    write(sql_dir, "vars.toml", "min_x = 200\n")  # new versions of every model
    assert build(con, sql_dir).ok

    def kinds() -> dict[str, str]:
        rows = con.execute(
            "SELECT table_name, table_type FROM information_schema.tables WHERE table_name LIKE '%\\_\\_%' ESCAPE '\\'"
        ).fetchall()
        return dict(rows)

    assert kinds()[f"objs__{first['objs']}"] == "VIEW" and kinds()[f"per_map__{first['per_map']}"] == "BASE TABLE"
    manage.prune(con, keep=1)
    assert f"per_map__{first['per_map']}" not in kinds() and f"objs__{first['objs']}" not in kinds()
    assert {f"{m}__{fp}" for m, fp in current_fingerprints(con).items()} == set(kinds())


def test_actions_and_statuses_are_enums_logged_as_their_names(con, sql_dir):
    report = build(con, sql_dir)
    assert [(i.action, r.status) for i, r in zip(report.todo, report.results, strict=True)] == [
        (Action.BUILD, Status.BUILT)
    ] * 3
    assert all(isinstance(r.status, Status) and r.status.ok for r in report.results)
    logged = con.execute("SELECT DISTINCT action, status FROM kiai.model_builds").fetchall()
    assert logged == [("build", "built")]
    assert not Status.TESTS_FAILED.ok and not Status.SKIPPED.ok
