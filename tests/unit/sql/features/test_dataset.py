"""The labelled dataset, label conflicts, `kiai export dataset`, and feature versions (code fingerprints)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from kiai import warehouse
from kiai.schema import migrations
from kiai.transform import build, current_code_fingerprints, current_fingerprints, store
from tests.support.cli import invoke
from tests.support.features_world import copy_of, make_world, md5, osu_text, rows
from tests.support.paths import SQL_DIR, shipped_models

NUMERIC = ("DOUBLE", "FLOAT", "INTEGER", "BIGINT", "SMALLINT", "TINYINT", "HUGEINT", "DECIMAL")


@pytest.fixture(scope="module")
def world_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = make_world(tmp_path_factory.mktemp("dataset"))
    invoke("build-features", db=db)
    return db


@pytest.fixture
def world(world_db: Path, tmp_path: Path) -> duckdb.DuckDBPyConnection:
    with copy_of(world_db, tmp_path) as con:
        yield con


def test_dataset_labels_and_conflicts(world):
    got = {r["beatmap_id"]: r for r in rows(world, "SELECT * FROM features.dataset")}
    assert {k: v["label"] for k, v in got.items()} == {
        2354779: "stream",
        2906626: "stream",  # in stream (first in kiai.toml) and jump: flagged, kept under stream
        900001: "stream",
        3659392: "farm",
        900003: "farm",  # file only: tier-1 NULL
        555: "farm",  # a parsed file without an id, matched by the md5 osu!collector gives
    }  # 3586360 is taiko, 77 is unknown: left out
    assert got[555]["md5"] == md5(osu_text("orphan", None, 200)) and got[555]["beatmapset_id"] == 5
    assert got[900003]["star_rating"] is None and got[900003]["n_objects"] == 40
    conflicts = rows(world, "SELECT * FROM features.label_conflicts")
    assert conflicts == [{"beatmap_id": 2906626, "categories": ["stream", "jump"], "n_categories": 2,
                          "kept_label": "stream"}]  # fmt: skip
    (counts,) = world.execute(
        "SELECT counts FROM kiai.model_builds WHERE model = 'dataset' AND status = 'built'"
    ).fetchone()
    assert json.loads(counts) == {"labelled": 8, "conflicts": 1, "left_out": 2}


def test_dataset_columns_follow_the_contract(world):
    described = [(r["column_name"], r["column_type"]) for r in rows(world, "DESCRIBE features.dataset")]
    assert described[:4] == [("beatmap_id", "BIGINT"), ("beatmapset_id", "BIGINT"), ("md5", "VARCHAR"),
                             ("label", "VARCHAR")]  # fmt: skip
    features = dict(described[4:])
    assert {"bpm", "star_rating", "slider_ratio", "genre", "status", "has_tag_stream", "bpm_most_common",
            "stream_density", "kiai_note_ratio", "mean_kiai_distance"} <= set(features)  # fmt: skip
    for name, kind in features.items():
        assert kind.startswith(NUMERIC) or kind in ("BOOLEAN", "VARCHAR"), (name, kind)
    assert {n for n, k in features.items() if k == "VARCHAR"} == {"genre", "status"}
    (nulls,) = world.execute(
        "SELECT count(*) FROM features.dataset WHERE beatmap_id IS NULL OR beatmapset_id IS NULL OR label IS NULL"
    ).fetchone()
    assert nulls == 0


def test_categories_tied_in_kiai_toml_order_are_ordered_by_name(world):
    world.execute("UPDATE raw.collection_labels SET position = 0")  # every category at one rank
    assert build(world, SQL_DIR).ok
    assert rows(world, "SELECT categories, kept_label FROM features.label_conflicts") == [
        {"categories": ["jump", "stream"], "kept_label": "jump"}
    ]
    assert world.execute("SELECT label FROM features.dataset WHERE beatmap_id = 2906626").fetchone() == ("jump",)


def test_drop_policy_leaves_conflicts_out(world):
    report = build(world, SQL_DIR, variables={"label_conflict_policy": "drop"})
    assert report.ok
    labels = dict(world.execute("SELECT beatmap_id, label FROM features.dataset").fetchall())
    assert 2906626 not in labels and len(labels) == 5
    assert world.execute("SELECT kept_label FROM features.label_conflicts").fetchall() == [(None,)]
    with pytest.raises(Exception, match="label_conflict_policy must be"):
        build(world, SQL_DIR, variables={"label_conflict_policy": "vote"})


def test_dataset_exists_empty_without_api_data_or_labels(db_path):
    invoke("build-features", db=db_path)
    con = warehouse.connect(db_path, read_only=True)
    assert con.execute("SELECT count(*) FROM features.dataset").fetchone() == (0,)
    assert [r[0] for r in con.execute("DESCRIBE features.dataset").fetchall()][:4] == [
        "beatmap_id", "beatmapset_id", "md5", "label",
    ]  # fmt: skip


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_export_writes_file_manifest_and_warehouse_row(world, tmp_path, suffix):
    (db,) = world.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
    world.close()
    out = tmp_path / "processed" / f"dataset{suffix}"
    result = invoke("export", "dataset", "--out", str(out), db=db)
    assert "wrote 6 rows" in result.stdout
    reader = "read_csv" if suffix == ".csv" else "read_parquet"
    con = warehouse.connect(db)
    query = "SELECT beatmap_id, label, star_rating, has_tag_stream FROM {} ORDER BY beatmap_id"
    exported = con.execute(query.format(f"{reader}('{out}')")).fetchall()
    assert exported == con.execute(query.format("features.dataset")).fetchall() and len(exported) == 6
    manifest = json.loads(out.with_name(out.name + ".manifest.json").read_text())
    assert manifest["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert manifest["rows"] == 6 and manifest["labels"] == {"farm": 3, "stream": 3}
    assert manifest["dataset_fingerprint"] == current_fingerprints(con)["dataset"]
    codes = current_code_fingerprints(con)
    assert manifest["code_fingerprints"]["dataset"] == codes["dataset"]
    assert {"beatmap_features", "api_features", "file_features", "collection_members"} <= set(manifest["fingerprints"])
    assert "user_scores" not in manifest["fingerprints"]  # not upstream of the dataset
    (row,) = rows(con, "SELECT * FROM kiai.dataset_exports")
    assert (row["path"], row["sha256"], row["rows"]) == (str(out), manifest["sha256"], 6)
    assert json.loads(row["fingerprints"]) == manifest["fingerprints"]
    assert not [p for p in out.parent.iterdir() if p.name.endswith(".tmp")]
    con.close()


def test_export_prints_paths_with_brackets_and_records_nothing_when_a_file_cannot_be_written(world, tmp_path):
    (db,) = world.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
    world.close()
    out = tmp_path / "run [1]" / "dataset.csv"
    result = invoke("export", "dataset", "--out", str(out), db=db)
    assert str(out) in result.stdout  # rich would eat "[1]" unescaped
    blocked = tmp_path / "blocked.csv"
    blocked.with_name(blocked.name + ".manifest.json").mkdir()  # the manifest cannot replace a folder
    failed = invoke("export", "dataset", "--out", str(blocked), db=db, check=False)
    assert failed.returncode != 0 and f"cannot write {blocked}.manifest.json" in failed.stderr
    assert "Traceback" not in failed.stderr
    con = warehouse.connect(db)
    assert [r["path"] for r in rows(con, "SELECT path FROM kiai.dataset_exports")] == [str(out)]
    con.close()
    assert not [p for p in tmp_path.rglob("*") if ".tmp" in p.name]


def test_export_errors_are_one_line(db_path, tmp_path):
    nowhere = invoke("export", "dataset", "--out", str(tmp_path / "d.csv"), db=db_path, check=False)
    assert nowhere.returncode != 0 and "no warehouse at" in nowhere.stderr
    assert not db_path.exists()  # a missing warehouse is reported, not created empty
    invoke("init", db=db_path)
    missing = invoke("export", "dataset", "--out", str(tmp_path / "d.csv"), db=db_path, check=False)
    assert missing.returncode != 0 and "no dataset has been built yet" in missing.stderr
    wrong = invoke("export", "dataset", "--out", str(tmp_path / "d.xlsx"), db=db_path, check=False)
    assert wrong.returncode != 0 and ".csv or .parquet" in wrong.stderr
    assert not (tmp_path / "d.csv").exists()


def test_code_fingerprints_ignore_data_but_not_sql_or_vars(world, db_path):
    invoke("build-features", db=db_path)  # same SQL and vars, no data at all
    empty = warehouse.connect(db_path)
    codes, empty_codes = current_code_fingerprints(world), current_code_fingerprints(empty)
    for model in ("beatmap_features", "dataset"):
        assert codes[model] == empty_codes[model]
        assert current_fingerprints(world)[model] != current_fingerprints(empty)[model]
    assert build(empty, SQL_DIR, variables={"stream_tolerance_ms": 3.0}).ok
    changed = current_code_fingerprints(empty)
    assert changed["file_features"] != codes["file_features"] and changed["dataset"] != codes["dataset"]
    assert changed["api_features"] == codes["api_features"]
    stored = {v.fingerprint: v.code_fingerprint for v in store.versions(empty, "dataset")}
    assert set(stored.values()) == {codes["dataset"], changed["dataset"]}
    empty.close()


def test_old_warehouse_without_code_fingerprints_is_migrated(world):
    before = current_code_fingerprints(world)
    world.execute("ALTER TABLE kiai.model_versions DROP COLUMN code_fingerprint")
    metadata = next(m for m in migrations.MIGRATIONS if m.name == "metadata columns")
    world.execute("UPDATE kiai.schema_migrations SET version = ?", [metadata.version - 1])
    applied = migrations.upgrade(world, Path("world.duckdb"))
    assert applied[0].migration == metadata and "model versions got their code fingerprint" in applied[0].detail
    assert current_code_fingerprints(world) == before  # derived from the stored SQL hashes and upstream
    report = build(world, SQL_DIR)
    assert report.ok and not report.todo
    assert world.execute("SELECT count(*) FROM kiai.model_versions WHERE code_fingerprint IS NULL").fetchone() == (0,)
    assert current_code_fingerprints(world) == before


def test_whitespace_makes_no_version_logic_does_and_old_stays_queryable(world, tmp_path):
    sql = tmp_path / "sql"
    shutil.copytree(SQL_DIR, sql)
    assert build(world, sql).todo == []
    path = sql / "features" / "api_features.sql"
    text = path.read_text()
    path.write_text(text.replace("    b.bpm,\n", "  b.bpm   ,  -- as the API says\n\n"))
    assert build(world, sql).todo == []
    old = current_fingerprints(world)["api_features"]
    path.write_text(text.replace("b.total_length - b.hit_length AS break_time", "b.hit_length AS break_time"))
    report = build(world, sql)
    downstream = {"api_features", "score_features", "beatmap_features", "dataset"}  # score_features: drain time
    assert report.ok and {i.model for i in report.todo} == downstream
    new = current_fingerprints(world)["api_features"]
    assert new != old
    assert world.execute(
        f"SELECT break_time FROM features.api_features__{old} WHERE beatmap_id = 2906626"
    ).fetchone() == (34,)
    assert world.execute("SELECT break_time FROM features.api_features WHERE beatmap_id = 2906626").fetchone() == (121,)


def test_select_warns_when_an_unselected_upstream_is_stale(world):
    world.execute("UPDATE raw.collection_labels SET category = 'tech' WHERE collection_id = 503")
    report = build(world, SQL_DIR, select=["dataset"])
    assert report.ok and not report.todo
    assert len(report.warnings) == 1
    assert report.warnings[0].startswith("dataset is built on stale upstream collection_members (data changed in")
    assert "label_conflicts" in report.warnings[0] and "--select +dataset" in report.warnings[0]
    report = build(world, SQL_DIR, select=["+dataset"])
    assert report.ok and not report.warnings
    assert world.execute("SELECT count(*) FROM features.dataset WHERE label = 'tech'").fetchone() == (3,)


def test_noop_build_process_imports_no_heavy_module(world_db, tmp_path):
    """The parse cache and lazy imports: a no-op `kiai build-features` never loads sqlglot, numpy, pyarrow,
    requests (speed itself is measured in bench/build_features.py)."""
    db = tmp_path / "kiai.duckdb"
    shutil.copy(world_db, db)
    con = warehouse.connect(db)
    assert len(store.load_sql_cache(con)) == shipped_models()  # one parse result per model
    con.close()
    script = (
        "import sys\nfrom kiai.cli import main\nsys.argv = ['kiai', '--db', sys.argv[1], 'build-features']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('sqlglot', 'numpy', 'pyarrow', 'requests') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", script, str(db)], capture_output=True, text=True, check=True)
    assert "nothing to do" in out.stdout and out.stdout.strip().endswith("[]"), out.stdout + out.stderr
