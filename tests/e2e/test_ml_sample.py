"""The baselines on the sample world (kiai.sample), end to end through the CLI: accuracy well above chance,
stored probabilities reproduced by `kiai predict`, compare, report, .osu prediction, feature-version refusal."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from kiai import warehouse
from kiai.ml.predict import predict_beatmap
from kiai.ml.runs import list_runs
from tests.support.cli import run_kiai
from tests.support.ml import sample_warehouse

# Features only the osu! API gives (sql/features/beatmap_features.sql fills the rest from the file).
API_ONLY = {"star_rating", "max_combo", "genre", "status", "language", "playcount", "passcount", "favourite_count"}
FILE_TOLERANCE = 0.25  # max per-class gap, file vs by-id prediction (LightGBM, 15 sample maps: median 0.05, max 0.16)
TF_NOISE = ("oneDNN", "cpu_feature_guard", "absl::InitializeLog", "TF_ENABLE_ONEDNN_OPTS", "tensorflow/core")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("ml_sample")
    db, world = sample_warehouse(folder)
    models = folder / "models"
    lgbm = run_kiai("train", "lightgbm", "--folds", "5", "--models-dir", str(models), db=db, cwd=folder)
    keras = run_kiai("train", "keras", "--folds", "3", "--epochs", "30", "--models-dir", str(models), db=db, cwd=folder)
    con = warehouse.connect(db, read_only=True)
    runs = {run.kind: run for run in list_runs(con)}
    con.close()
    return {
        "db": db,
        "world": world,
        "folder": folder,
        "models": models,
        "runs": runs,
        "out": {"lightgbm": lgbm, "keras": keras},
    }


def _stored(run_path: Path, name: str = "predictions.csv") -> list[dict[str, str]]:
    with (run_path / name).open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_baselines_are_well_above_chance(trained: dict) -> None:
    """Six balanced categories: chance accuracy is 1/6 ~ 0.17 (the largest class is under 0.2 of the ~310
    labelled maps). Accuracy here is out-of-fold over every labelled map, so a chance-level model's accuracy
    has sd ~0.02; the thresholds below sit 6-9 sd above chance and well under what the models reach
    (measured: LightGBM ~0.5, Keras ~0.4; about 6 % of the sample's labels are deliberately wrong)."""
    lgbm, keras = trained["runs"]["lightgbm"], trained["runs"]["keras"]
    assert lgbm.dataset_rows > 250 and len(lgbm.labels) == 6
    assert lgbm.metrics["accuracy"]["mean"] >= 0.35
    assert keras.metrics["accuracy"]["mean"] >= 0.28
    for run in (lgbm, keras):
        assert run.metrics["top2_accuracy"]["mean"] >= 0.5  # chance: 2/6
        assert run.metrics["log_loss"]["mean"] < 1.79  # uniform guessing: ln 6 = 1.79
    assert lgbm.split_hash != keras.split_hash  # 5 folds vs 3 folds
    for out in trained["out"].values():
        assert not any(noise in out.stderr for noise in TF_NOISE), out.stderr
        assert re.search(r"run \S+ \((lightgbm|keras)\): accuracy 0\.\d{3} ± 0\.\d{3}", out.stdout)


def test_predict_reproduces_the_stored_probabilities(trained: dict) -> None:
    db = trained["db"]
    con = warehouse.connect(db, read_only=True)
    for run in trained["runs"].values():
        rows = _stored(run.path)
        assert {row["part"] for row in rows} == {"train", "valid"}  # the refit model saw every row
        for row in rows[:: max(1, len(rows) // 12)]:
            result = predict_beatmap(con, int(row["beatmap_id"]), run_id=run.run_id)
            got = dict(result.probabilities)
            for label in run.labels:
                assert got[label] == pytest.approx(float(row[f"p_{label}"]), abs=1e-6)
    con.close()
    for run in trained["runs"].values():  # and through the CLI, once per kind
        row = _stored(run.path)[3]
        out = json.loads(run_kiai("predict", row["beatmap_id"], "--run", run.run_id, "--format", "json", db=db).stdout)
        assert out["run_id"] == run.run_id and out["source"] == "features.dataset"
        probabilities = [p["probability"] for p in out["probabilities"]]
        assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) == pytest.approx(1)
        for item in out["probabilities"]:
            assert item["probability"] == pytest.approx(float(row[f"p_{item['label']}"]), abs=1e-6)


def test_predict_table_and_unlabelled_maps(trained: dict) -> None:
    world, db = trained["world"], trained["db"]
    unlabelled = next(i for i in sorted(world.beatmaps) if i not in world.labels)
    out = run_kiai("predict", str(unlabelled), db=db).stdout  # the latest run: keras
    assert f"beatmap {unlabelled} (features from features.beatmap_features)" in out
    assert all(category in out for category in trained["runs"]["keras"].labels)
    assert "%" in out
    result = run_kiai("predict", "999999999", db=db, check=False)
    assert result.returncode == 1 and "beatmap 999999999 has no features" in result.stderr


def test_predict_a_new_osu_file_with_the_same_sql_models(trained: dict, tmp_path: Path) -> None:
    world, db = trained["world"], trained["db"]
    lgbm = trained["runs"]["lightgbm"]
    beatmap_id = world.labelled_ids()[0]
    path = tmp_path / "new map.osu"
    path.write_bytes(world.osu_files[beatmap_id])
    result = run_kiai("predict", str(path), "--run", lgbm.run_id, "--format", "json", db=db, cwd=tmp_path)
    out = json.loads(result.stdout)
    assert out["source"] == str(path) and out["beatmap_id"] == beatmap_id
    assert sorted(p["label"] for p in out["probabilities"]) == sorted(lgbm.labels)
    assert sum(p["probability"] for p in out["probabilities"]) == pytest.approx(1)
    # The file gives every feature but the API-only ones; those are named in a warning (stderr and JSON).
    (warning,) = out["warnings"]
    unsupplied = re.search(r"trained with \(([^;]*); they come from the osu! API\)", warning).group(1).split(", ")
    assert "star_rating" in unsupplied and set(unsupplied) <= API_ONLY, unsupplied
    assert "warning:" in result.stderr and "star_rating" in result.stderr
    by_id = json.loads(
        run_kiai("predict", str(beatmap_id), "--run", lgbm.run_id, "--format", "json", db=db, cwd=tmp_path).stdout
    )
    assert by_id["warnings"] == []
    from_file = {p["label"]: p["probability"] for p in out["probabilities"]}
    from_id = {p["label"]: p["probability"] for p in by_id["probabilities"]}
    assert out["probabilities"][0]["label"] == by_id["probabilities"][0]["label"], (from_file, from_id)
    assert max(abs(from_file[label] - from_id[label]) for label in lgbm.labels) < FILE_TOLERANCE, (from_file, from_id)
    other_vars = run_kiai(
        "predict", str(path), "--run", lgbm.run_id, "--var", "stream_tolerance_ms=5", db=db, cwd=tmp_path, check=False
    )
    assert other_vars.returncode == 1
    assert "was trained on feature version" in other_vars.stderr and "SQL models on disk" in other_vars.stderr
    junk = tmp_path / "junk.osu"
    junk.write_text("<html>not a beatmap</html>")
    result = run_kiai("predict", str(junk), db=db, cwd=tmp_path, check=False)
    assert result.returncode == 1 and "not a readable .osu file" in result.stderr


def test_compare_shows_both_runs(trained: dict) -> None:
    db = trained["db"]
    lgbm, keras = trained["runs"]["lightgbm"], trained["runs"]["keras"]
    table = run_kiai("compare", db=db).stdout
    for run in (lgbm, keras):
        assert run.run_id in table
    assert "5-fold seed 0" in table and "3-fold seed 0" in table and "±" in table
    rows = json.loads(run_kiai("compare", "--format", "json", db=db).stdout)
    assert [r["model"] for r in rows] == ["lightgbm", "keras"]
    con = warehouse.connect(db, read_only=True)
    from kiai.transform import current_code_fingerprints

    code = current_code_fingerprints(con)
    con.close()
    for row in rows:
        assert row["feature_version"] == code["beatmap_features"] and row["dataset_version"] == code["dataset"]
        assert row["dataset_hash"] == rows[0]["dataset_hash"]
        assert set(row["metrics"]) == {"accuracy", "macro_f1", "log_loss", "top2_accuracy", "ece", "train_seconds"}
        assert row["metrics"]["accuracy"]["std"] > 0


def test_report_is_one_self_contained_html_file(trained: dict) -> None:
    out = trained["folder"] / "reports" / "latest.html"
    run_kiai("report", "--out", str(out), "--models-dir", str(trained["models"]), db=trained["db"])
    assert sorted(p.name for p in out.parent.iterdir()) == ["latest.html"]
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>")
    for run in trained["runs"].values():
        assert run.run_id in html
    images = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,[A-Za-z0-9+/=]{200,}"', html)
    assert images.count("calibration plot") == 1 and images.count("per-class F1") == 1
    assert images.count("confusion matrix") == 2 and images.count("feature importance") == 2
    assert "http:" not in html and "https:" not in html and "<script" not in html and "<link" not in html
    assert re.search(r"<img[^>]+src=\"(?!data:)", html) is None


def test_a_model_of_another_feature_version_is_refused(trained: dict) -> None:
    """Runs last: it rebuilds the shared warehouse's features with another var, then back."""
    db, lgbm = trained["db"], trained["runs"]["lightgbm"]
    beatmap_id = _stored(lgbm.path)[0]["beatmap_id"]
    run_kiai("build-features", "--var", "stream_tolerance_ms=5", db=db)
    refused = run_kiai("predict", beatmap_id, "--run", lgbm.run_id, db=db, check=False)
    assert refused.returncode == 1
    assert f"run {lgbm.run_id} was trained on feature version" in refused.stderr
    assert "kiai build-features" in refused.stderr
    run_kiai("build-features", db=db)  # the original SQL and vars: the original feature version again
    assert run_kiai("predict", beatmap_id, "--run", lgbm.run_id, db=db).returncode == 0


def test_exported_split_column_is_the_split_train_used(trained: dict, tmp_path: Path) -> None:
    out = tmp_path / "dataset.csv"
    run_kiai("export", "dataset", "--out", str(out), "--split", "--folds", "5", db=trained["db"])
    with out.open(newline="") as handle:
        exported = list(csv.DictReader(handle))
    manifest = json.loads(out.with_name(out.name + ".manifest.json").read_text())
    assert manifest["split"] == {"folds": 5, "seed": 0}

    def partition(rows: list[dict[str, str]], key: str) -> set[frozenset[str]]:
        parts: dict[str, set[str]] = {}
        for row in rows:
            parts.setdefault(row[key], set()).add(row["beatmap_id"])
        return {frozenset(ids) for ids in parts.values()}

    assert {row["split"] for row in exported} == {f"fold_{k}" for k in range(1, 6)}
    sets = {}
    for row in exported:  # difficulties of one beatmapset never straddle two parts
        assert sets.setdefault(row["beatmapset_id"], row["split"]) == row["split"]
    lightgbm = _stored(trained["runs"]["lightgbm"].path, "test_predictions.csv")
    assert partition(exported, "split") == partition(lightgbm, "fold")
