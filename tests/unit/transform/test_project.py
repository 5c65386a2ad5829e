"""A project of one's own: `kiai init PATH`, project models built with the shipped ones (an extra model and a
replaced one, in order, versioned and tested), `kiai models copy`, `--copy-models`; the README's worked example."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import duckdb
import pytest

from kiai.config import load_config
from kiai.demo import REAL_MAPS
from kiai.errors import KiaiError
from kiai.scaffold import copy_models, init_project
from kiai.transform import build, current_fingerprints
from kiai.transform.column_tests import COLUMN_TESTS
from kiai.transform.project import ModelError, load_project, model_folders, shipped_sql_dir
from tests.support.cli import invoke
from tests.support.features_world import copy_of, make_world, rows
from tests.support.paths import OSU_FIXTURES, REPO, shipped_models

README = (REPO / "README.md").read_text(encoding="utf-8")
SHIPPED_FEATURES_CTE = """features AS (
    SELECT * FROM {{ ref('beatmap_features') }}
),
"""


def readme_sql_blocks() -> list[str]:
    section = README.split("## Your own project", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sql\n(.*?)```", section, re.DOTALL)


@pytest.fixture(scope="module")
def labelled_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The labelled feature world plus kiai's real maps (kiai sections with sliders), nothing built."""
    db = make_world(tmp_path_factory.mktemp("project"))
    invoke("ingest", "osu-files", str(REAL_MAPS), db=db)
    return db


@pytest.fixture
def con(labelled_db: Path, tmp_path: Path) -> duckdb.DuckDBPyConnection:
    with copy_of(labelled_db, tmp_path) as connection:
        yield connection


def worked_example(project: Path) -> None:
    """The README's example: a new model, and the shipped dataset copied and changed to join it."""
    model, cte = readme_sql_blocks()
    (project / "models" / "features").mkdir(parents=True, exist_ok=True)
    (project / "models" / "features" / "kiai_slider_share.sql").write_text(model)
    copy_models(load_config(config_file=project / "kiai.toml"), ["dataset"])
    dataset = project / "models" / "features" / "dataset.sql"
    text = dataset.read_text()
    assert text.count(SHIPPED_FEATURES_CTE) == 1
    dataset.write_text(text.replace(SHIPPED_FEATURES_CTE, cte))


def test_init_writes_a_project_and_keeps_what_is_there(tmp_path):
    result = init_project(tmp_path / "proj")
    assert result.config_written and result.models.is_dir() and not any(result.models.iterdir())
    config = tomllib.loads(result.config.read_text())
    assert config["project"] == {"models": "models", "shipped_models": True}
    assert config["paths"]["models_dir"] == "runs"  # trained models do not land among the SQL models
    result.config.write_text('[project]\nmodels = "models"\n# mine\n')
    assert not init_project(tmp_path / "proj").config_written
    assert "# mine" in result.config.read_text()
    with pytest.raises(KiaiError, match="is a file"):
        init_project(result.config)


def test_project_models_come_after_the_shipped_ones(tmp_path):
    init_project(tmp_path)
    worked_example(tmp_path)
    config = load_config(config_file=tmp_path / "kiai.toml")
    project = load_project(model_folders(config), config)
    origins = {name: model.origin for name, model in project.models.items()}
    assert origins["kiai_slider_share"] == "project" and origins["dataset"] == "project (replaces kiai)"
    assert origins["file_features"] == "kiai"
    assert project.models["dataset"].replaces.path == shipped_sql_dir() / "features" / "dataset.sql"
    assert "2 from project" in project.describe() and "dataset replaces kiai's" in project.describe()


def test_an_extra_and_a_replaced_model_build_in_order_with_versions_and_tests(con, tmp_path):
    assert build(con).ok  # the shipped models alone first
    shipped = current_fingerprints(con)
    init_project(tmp_path)
    worked_example(tmp_path)
    config = load_config(config_file=tmp_path / "kiai.toml")

    report = build(con, config=config)
    assert report.ok, [(r.model, r.message) for r in report.failed]
    todo = {item.model: item for item in report.todo}
    assert set(todo) == {"kiai_slider_share", "dataset"}  # the shipped models stay up to date
    assert todo["kiai_slider_share"].reasons == ["new model"]
    assert todo["dataset"].reasons[0] == "project model replaces kiai's" and "SQL changed" in todo["dataset"].reasons
    order = [item.model for item in report.plan]
    assert order.index("kiai_slider_share") < order.index("dataset")
    results = {r.model: r for r in report.results}
    assert [t.label for t in results["kiai_slider_share"].tests] == [
        "not_null(md5)", "unique(md5)", "accepted_range(kiai_slider_share, max=1, min=0)"
    ]  # fmt: skip
    assert all(t.passed for r in report.results for t in r.tests)
    assert f"models: {shipped_models() - 1} from kiai" in report.sources and "2 from project" in report.sources

    # versioned like the shipped ones: a table per fingerprint behind the stable view
    now = current_fingerprints(con)
    assert now["dataset"] != shipped["dataset"]
    assert {k: v for k, v in now.items() if k not in todo} == {k: v for k, v in shipped.items() if k != "dataset"}
    share = rows(con, f"SELECT * FROM features.kiai_slider_share__{now['kiai_slider_share']} ORDER BY md5")
    assert len(share) == 3 and all(0 <= r["kiai_slider_share"] <= 1 for r in share)  # 3 real maps have kiai
    # Soleily - Renatus [Insane], checked by hand from the parsed objects and the kiai sections
    soleily, file_id = con.execute(
        "SELECT md5, file_id FROM parsed.beatmap_files WHERE title = 'Renatus' AND version = 'Insane'"
    ).fetchone()
    in_kiai = con.execute(
        "SELECT kind FROM parsed.hit_objects o WHERE file_id = $1 AND EXISTS (SELECT 1 FROM features.kiai_sections k "
        "WHERE k.file_id = o.file_id AND o.time_ms >= k.start_ms AND (k.end_ms IS NULL OR o.time_ms < k.end_ms))",
        [file_id],
    ).fetchall()
    expected = sum(kind == "slider" for (kind,) in in_kiai) / len(in_kiai)
    assert {r["md5"]: r["kiai_slider_share"] for r in share}[soleily] == pytest.approx(expected)
    columns = [c[0] for c in con.execute("DESCRIBE features.dataset").fetchall()]
    assert "kiai_slider_share" in columns and columns[:4] == ["beatmap_id", "beatmapset_id", "md5", "label"]
    assert con.execute("SELECT count(*) FROM features.dataset").fetchone()[0] == 6  # the same labelled maps

    # delete the copy: the shipped dataset's version comes back without a rebuild
    (tmp_path / "models" / "features" / "dataset.sql").unlink()
    report = build(con, config=config)
    assert [(i.model, i.action) for i in report.todo] == [("dataset", "reuse")]
    assert current_fingerprints(con)["dataset"] == shipped["dataset"]


def test_copied_models_are_the_shipped_versions(con, tmp_path):
    assert build(con).ok
    result = init_project(tmp_path, copy_models=True)
    shipped = {p.relative_to(shipped_sql_dir()) for p in shipped_sql_dir().rglob("*") if p.is_file()}
    assert {p.relative_to(result.models) for p in result.copied} == shipped
    config = load_config(config_file=tmp_path / "kiai.toml")
    assert [f.label for f in model_folders(config)] == ["project"]  # shipped_models = false
    report = build(con, config=config)
    assert report.ok and report.todo == []  # same SQL and vars: the same versions, nothing to build
    (result.models / "features" / "label_conflicts.sql").unlink()
    with pytest.raises(ModelError, match="ref\\('label_conflicts'\\) names no model"):
        build(con, config=config)  # only the project's models now: the shipped one does not step in
    again = init_project(tmp_path, copy_models=True)
    assert [p.name for p in again.copied] == ["label_conflicts.sql"] and len(again.kept) == len(shipped) - 1


def test_clear_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(KiaiError, match="no project here"):
        copy_models(load_config(), ["dataset"])
    (tmp_path / "kiai.toml").write_text('[project]\nmodels = "nowhere"\n')
    with pytest.raises(ModelError, match=r"models folder .*nowhere does not exist"):
        model_folders(load_config())
    (tmp_path / "kiai.toml").write_text('[project]\nmodel = "models"\n')
    with pytest.raises(ModelError, match=r"\[project\] takes models"):
        model_folders(load_config())
    init_project(tmp_path / "p")
    with pytest.raises(ModelError, match="no model named 'nope'"):
        copy_models(load_config(config_file=tmp_path / "p" / "kiai.toml"), ["nope"])


def test_the_cli_flow(tmp_path):
    out = invoke("init", "proj", cwd=tmp_path).stdout
    assert "wrote proj/kiai.toml" in out and "warehouse ready: proj/warehouse/kiai.duckdb" in out
    project = tmp_path / "proj"
    assert (project / "warehouse" / "kiai.duckdb").is_file()
    env = {"KIAI_DB": "", "KIAI_CONFIG": "", "KIAI_SQL_DIR": ""}
    invoke("ingest", "osu-files", str(OSU_FIXTURES / "Soleily-Renatus-Gamu-Insane.osu"), cwd=project, env=env)
    model, _ = readme_sql_blocks()
    (project / "models" / "features").mkdir()
    (project / "models" / "features" / "kiai_slider_share.sql").write_text(model)
    assert "copied models/features/dataset.sql" in invoke("models", "copy", "dataset", cwd=project, env=env).stdout
    built = invoke("build-features", cwd=project, env=env).stdout
    assert re.search(r"models: 13 from kiai \(.*\), 2 from project \(models; dataset replaces kiai's\)", built)
    assert re.search(r"build +features.dataset +\w+ +project model replaces kiai's; new model", built)
    listed = invoke("models", "list", cwd=project, env=env).stdout
    assert re.search(r"features\.dataset +│ project \(replaces kiai\)", listed)
    assert re.search(r"features\.kiai_slider_share +│ project ", listed)
    assert re.search(r"features\.file_features +│ kiai ", listed)
    failed = invoke("init", "--copy-models", cwd=project, env=env, check=False)
    assert failed.returncode == 1 and "give its folder" in failed.stderr and "Traceback" not in failed.stderr


def test_the_shipped_models_are_the_checkouts_sql_folder():
    assert shipped_sql_dir() == REPO / "sql"  # a source checkout: edits to sql/ are picked up


def test_every_column_test_kind_is_documented_and_validated(tmp_path):
    """One registry entry per kind: the README names each, and the reader refuses bad arguments with its `needs`."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert sorted(COLUMN_TESTS) == ["accepted_range", "accepted_values", "not_null", "relationships", "unique"]
    for kind in COLUMN_TESTS.values():
        assert f"`{kind.name}" in readme and kind.doc
        if not kind.needs:
            continue
        model = tmp_path / kind.name / "features" / "m.sql"
        model.parent.mkdir(parents=True)
        model.write_text(f"/* kiai\n[columns.x]\ntests = [{{{kind.name} = {{}}}}]\n*/ SELECT 1 AS x")
        with pytest.raises(ModelError, match=re.escape(f"needs {kind.needs}")):
            load_project(tmp_path / kind.name)
