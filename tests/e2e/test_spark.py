"""The models on real Spark (local, one SparkSession for the module): the demo world's lake exported, its models
compiled, every compiled model run by the runner `kiai models compile` ships (all that read parsed.* or ppy.*
must be among them), and its result compared with DuckDB's as the lake holds it: EXCEPT both ways, floats
equal to a relative 1e-9 (Spark adds floats in its own order). Each rewrite is also run on both engines on
small inputs.

Skipped, saying so, where no Java is installed (.ci/run installs a headless JRE) or pyspark is missing.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from kiai import warehouse
from kiai.transform.compile import compile_models, to_spark, warehouse_schema, write_compiled
from kiai.transform.lake import export_lake
from kiai.transform.project import load_project, model_folders

if shutil.which("java") is None:
    pytest.skip("no Java runtime on PATH: the Spark tests need one (apt-get install openjdk-17-jre-headless)",
                allow_module_level=True)  # fmt: skip
pyspark_sql = pytest.importorskip("pyspark.sql", reason="pyspark is not installed (pip install -e '.[test]')")

pytestmark = pytest.mark.slow
TOLERANCE = 1e-9  # relative, for DOUBLE and FLOAT columns
FLOATS = ("DOUBLE", "FLOAT")


@pytest.fixture(scope="module")
def spark():
    session = (
        pyspark_sql.SparkSession.builder.master("local[2]")
        .appName("kiai tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("OFF")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def compiled_world(demo_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("spark_world")
    con = warehouse.connect(demo_warehouse, read_only=True)
    try:
        export_lake(con, folder / "lake")
        models = compile_models(load_project(model_folders()), warehouse_schema(con))
    finally:
        con.close()
    write_compiled(models, folder / "compiled")
    return {"lake": folder / "lake", "compiled": folder / "compiled", "out": folder / "out"}


def _differing(con: duckdb.DuckDBPyConnection, ours: str, theirs: str) -> int:
    """Rows of `ours` with no equal row in `theirs` (floats within TOLERANCE), plus the other way round."""
    relation = con.sql(f"SELECT * FROM {ours}")
    conditions = []
    for column, kind in zip(relation.columns, relation.types, strict=True):
        a, b = f'a."{column}"', f'b."{column}"'
        same = f"{a} IS NOT DISTINCT FROM {b}"
        if str(kind) in FLOATS:
            same = f"({same} OR abs({a} - {b}) <= {TOLERANCE} * greatest(1, abs({a})))"
        conditions.append(same)
    on = " AND ".join(conditions) or "true"
    missing = 0
    for left, right in ((ours, theirs), (theirs, ours)):
        query = f"SELECT count(*) FROM {left} a WHERE NOT EXISTS (SELECT 1 FROM {right} b WHERE {on})"
        missing += con.execute(query).fetchall()[0][0]
    return missing


def test_every_compiled_model_gives_duckdbs_rows_on_spark(
    spark, compiled_world: dict[str, Path], demo_warehouse: Path
) -> None:
    from kiai.transform import spark_runner  # the very file compile copies as run_models.py

    assert (compiled_world["compiled"] / "run_models.py").read_bytes() == Path(spark_runner.__file__).read_bytes()
    manifest = json.loads((compiled_world["compiled"] / "manifest.json").read_text())
    by_name = {m["model"]: m for m in manifest["models"]}
    upstream_of = {name: set(m["reads"]) for name, m in by_name.items()}

    def reads_landed(name: str, seen: frozenset[str] = frozenset()) -> bool:
        reads = upstream_of.get(name, set())
        direct = any(r.split(".")[0] in ("parsed", "ppy") for r in reads)
        return direct or any(reads_landed(r, seen | {name}) for r in reads if r in by_name and r not in seen)

    wanted = {name for name in by_name if reads_landed(name)}
    assert {"features.file_features", "features.kiai_sections", "staging.scores", "features.replay_hits"} <= wanted
    duckdb_only = {name for name in by_name if by_name[name]["file"] is None}
    # only a model that reads raw API JSON alone may stay DuckDB-only (staging.user_scores: json_type()), saying why
    assert not duckdb_only & wanted, duckdb_only & wanted
    assert all("which kiai does not translate" in by_name[name]["duckdb_only"] for name in duckdb_only)
    lake_manifest = json.loads((compiled_world["lake"] / "manifest.json").read_text())

    spark_runner.register_lake(spark, compiled_world["lake"])
    results = spark_runner.run_models(spark, compiled_world["compiled"], compiled_world["out"], log=lambda _: None)
    ran = {r["model"]: r for r in results}
    assert set(ran) == set(by_name) - duckdb_only
    con = duckdb.connect()
    try:
        for name in sorted(ran):
            # DuckDB's rows as the lake holds them (lake types: JSON as text, timestamps UTC)
            ours = f"read_parquet('{compiled_world['lake'] / lake_manifest['tables'][name]['path']}/*.parquet')"
            theirs = f"read_parquet('{ran[name]['path']}/*.parquet')"
            assert con.sql(f"SELECT * FROM {theirs}").columns == con.sql(f"SELECT * FROM {ours}").columns, name
            assert con.sql(f"SELECT * FROM {theirs}").types == con.sql(f"SELECT * FROM {ours}").types, name
            rows = con.execute(f"SELECT count(*) FROM {ours}").fetchall()[0][0]
            assert ran[name]["rows"] == rows > 0, name
            assert _differing(con, ours, theirs) == 0, name
    finally:
        con.close()


REWRITES = {
    # each: DuckDB SQL over inline rows; Spark must give the same rows
    "qualify through a table name": """
        SELECT t.k, t.v FROM (VALUES (1, 10), (1, 11), (2, 20), (NULL, 5)) t(k, v)
        QUALIFY t.k IS NULL OR row_number() OVER (PARTITION BY t.k ORDER BY t.v DESC) = 1""",
    "union all by name": """
        SELECT 1 AS a, 'x' AS b UNION ALL BY NAME SELECT 'y' AS b, 2 AS a, true AS c""",
    "exact sums beyond BIGINT": """
        SELECT sum(v::HUGEINT * v)::DOUBLE AS s FROM (VALUES (4000000000), (4000000001)) t(v)""",
    "quantiles": """
        SELECT quantile_cont(v, [0.5, 0.9])[1] AS p50, quantile_cont(v, [0.5, 0.9])[2] AS p90,
               quantile_cont(v, 0.25) AS p25
        FROM (VALUES (1.0::DOUBLE), (2.0), (4.0), (8.0)) t(v)""",
    "case-insensitive regexp": """
        SELECT s, regexp_matches(s, '(^|\\s)finger\\s+control(\\s|$)', 'i') AS m
        FROM (VALUES ('FINGER Control'), ('fingercontrol'), ('x finger control')) t(s)""",
    "ordered lists keep NULLs, no rows is NULL": """
        SELECT g, list(v ORDER BY k) AS ordered, list(v ORDER BY k) FILTER (WHERE k > 100) AS none
        FROM (VALUES (1, 3, 'c'), (1, 1, NULL), (1, 2, 'b'), (2, 1, 'z')) t(g, k, v)
        GROUP BY g""",
    "ordered sums": "SELECT sum(v ORDER BY k) AS s FROM (VALUES (1, 0.5), (2, 0.25)) t(k, v)",
    "1-based positions": """
        SELECT list_transform([10, 20, 30], lambda e, i: e * i) AS scaled,
               [10, 20, 30][i] AS at_i, list_max(list_transform([5, 9], lambda e, i: e - [1, 2][i])) AS m
        FROM (VALUES (1), (3), (4)) t(i)""",
    "row_number is BIGINT": "SELECT row_number() OVER (ORDER BY v) AS n FROM (VALUES (1), (2)) t(v)",
    "JSON as text": """
        SELECT d -> '$.mods' AS mods, CAST(d ->> '$.n' AS INTEGER) AS n, CAST(d -> '$.r' AS INTEGER[]) AS r,
               list_transform(CAST(d -> '$.mods' AS JSON[]), lambda m: m ->> 'acronym') AS acronyms,
               CAST(d -> '$.o' AS JSON) AS o
        FROM (VALUES ('{"mods": [{"acronym": "HD"}, {"acronym": "DT", "settings": {"speed_change": 1.50}}],
                        "n": 3, "r": [1, 2], "o": {"z": "x\\"y", "a": [true, null]}}'),
                     ('{"mods": [], "r": []}'), (NULL)) t(d)""",
    # DuckDB's json_merge_patch(NULL, patch) gives the patch's nulls back; ppy.scores.data is NOT NULL
    "JSON keys removed": """
        SELECT CAST(nullif(json_merge_patch(d, '{"mods": null, "r": null}'), '{}') AS JSON) AS extra
        FROM (VALUES ('{"mods": [], "n": 3, "r": [1, 2], "z": "x\\"y", "a": 1.50, "q": null, "o": {"k": [true]}}'),
                     ('{"mods": [], "r": []}'), ('{}')) t(d)""",
}


@pytest.mark.parametrize("case", sorted(REWRITES))
def test_each_rewrite_means_on_spark_what_it_means_on_duckdb(spark, case: str) -> None:
    sql = REWRITES[case]
    text, _, _ = to_spark(sql, {})
    frame = spark.sql(text)
    ours = duckdb.connect().sql(sql)  # not the module-wide default connection other tests use
    assert frame.columns == ours.columns, text
    expected = sorted(map(repr, ours.fetchall()))
    got = sorted(repr(tuple(row)) for row in frame.collect())
    assert got == expected, text
