"""ML building blocks on a synthetic labelled dataset in a real DuckDB warehouse: split, encoder, hash,
metrics, training runs and their files, and the clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pytest

from kiai import warehouse
from kiai.errors import KiaiError
from kiai.ml import split
from kiai.ml.dataset import dataset_hash, load_dataset
from kiai.ml.encoders import Encoder, fit_encoder
from kiai.ml.metrics import evaluate, expected_calibration_error
from kiai.ml.train import train
from tests.support.cli import invoke
from tests.support.ml import make_dataset


@pytest.fixture
def synthetic(db_path: Path) -> Path:
    make_dataset(db_path)
    return db_path


def test_split_is_deterministic_stratified_and_grouped(synthetic: Path) -> None:
    con = warehouse.connect(synthetic, read_only=True)
    frame = load_dataset(con)
    y = np.unique(frame.labels.astype(str), return_inverse=True)[1]
    groups = frame.beatmapset_ids
    for folds in (1, 4):
        parts = split.splits(y, groups, folds, seed=3)
        assert len(parts) == folds
        again = split.splits(y, groups, folds, seed=3)
        assert all(np.array_equal(a[1], b[1]) for a, b in zip(parts, again, strict=True))
        for train_rows, test in parts:
            assert not set(groups[train_rows]) & set(groups[test]), "a beatmapset straddles train and test"
            assert set(y[test]) == set(y), "every class is in every test part"
            fit, valid = split.validation(y, groups, train_rows, seed=3)
            assert not set(groups[fit]) & set(groups[valid])
            assert sorted(np.concatenate([fit, valid])) == sorted(train_rows)
    tests = np.concatenate([t for _, t in split.splits(y, groups, 4, seed=3)])
    assert sorted(tests) == list(range(len(y))), "k folds: each row is tested exactly once"
    holdout = split.splits(y, groups, 1, seed=3)[0][1]
    assert 0.1 < len(holdout) / len(y) < 0.3
    assert not np.array_equal(holdout, split.splits(y, groups, 1, seed=4)[0][1])


def test_encoder_vocabulary_from_training_rows_round_trips_as_json(synthetic: Path) -> None:
    con = warehouse.connect(synthetic, read_only=True)
    frame = load_dataset(con)
    assert frame.ignored == ["ranked_date"]  # a DATE column is not a feature
    rows = np.flatnonzero(frame.values["genre"] != "Rock")  # "Rock" never in the training rows
    encoder = fit_encoder(frame, rows)
    assert "genre=Rock" not in encoder.feature_names and "genre=Anime" in encoder.feature_names
    assert "has_tag_stream" in encoder.feature_names and "status=ranked" in encoder.feature_names
    restored = Encoder.from_json(json.loads(json.dumps(encoder.to_json())))
    x = restored.transform(frame)
    assert np.array_equal(x, encoder.transform(frame), equal_nan=True)
    names = restored.feature_names
    genre = [i for i, n in enumerate(names) if n.startswith("genre=")]
    rock_or_null = np.array([v in ("Rock", None) for v in frame.values["genre"]])
    assert (x[rock_or_null][:, genre] == 0).all(), "unseen or NULL categories encode as all zeros"
    assert (x[~rock_or_null][:, genre].sum(axis=1) == 1).all()
    stream = names.index("stream_density")
    assert np.isnan(x[:, stream]).any(), "NULL numeric features stay NaN (LightGBM's missing value)"


def test_dataset_hash_covers_every_value(synthetic: Path) -> None:
    con = warehouse.connect(synthetic)
    before = dataset_hash(load_dataset(con))
    assert before == dataset_hash(load_dataset(con))
    con.execute(
        "UPDATE features.dataset SET bpm = bpm + 1e-9 WHERE beatmap_id = (SELECT max(beatmap_id) FROM features.dataset)"
    )
    assert dataset_hash(load_dataset(con)) != before


def test_metrics_on_known_predictions() -> None:
    y = np.array([0, 1, 2, 2])
    proba = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.5, 0.1, 0.4], [0.1, 0.1, 0.8]])
    result = evaluate(y, proba, ["a", "b", "c"])
    assert result["accuracy"] == pytest.approx(0.75)
    assert result["top2_accuracy"] == pytest.approx(1.0)
    expected_loss = -np.mean(np.log([0.8, 0.7, 0.4, 0.8]))
    assert result["log_loss"] == pytest.approx(expected_loss)
    assert result["confusion"] == [[1, 0, 0], [0, 1, 0], [1, 0, 1]]
    assert result["per_class_f1"]["c"] == pytest.approx(2 / 3)
    assert result["macro_f1"] == pytest.approx((2 / 3 + 1 + 2 / 3) / 3)
    # bins: 0.8, 0.8 (both right) -> |1 - 0.8|; 0.7 right -> 0.3; 0.5 wrong -> 0.5
    assert expected_calibration_error(y, proba) == pytest.approx((2 * 0.2 + 0.3 + 0.5) / 4)


def test_lightgbm_run_files_manifest_registry_and_determinism(synthetic: Path, tmp_path: Path) -> None:
    con = warehouse.connect(synthetic)
    models = tmp_path / "models"
    run = train(con, "lightgbm", models_dir=models, seed=5)
    again = train(con, "lightgbm", models_dir=models, seed=5)
    assert run.run_id != again.run_id
    assert run.metrics == {k: v for k, v in again.metrics.items() if k != "train_seconds"} | {
        "train_seconds": run.metrics["train_seconds"]
    }, "same seed, same data: same metrics"
    assert (run.path / "predictions.csv").read_text() == (again.path / "predictions.csv").read_text()
    # chance is 1/3 (three balanced classes); the classes differ by 2-3 noise sd in one feature each
    assert run.metrics["accuracy"]["mean"] >= 0.6
    files = sorted(p.name for p in run.path.iterdir())
    assert files == ["lightgbm.txt", "manifest.json", "metrics.json", "predictions.csv", "test_predictions.csv"]
    assert not list(models.glob(".*")), "no temp folders left"
    manifest = json.loads((run.path / "manifest.json").read_text())
    assert manifest["labels"] == ["jump", "stream", "tech"]
    assert manifest["dataset"]["hash"] == dataset_hash(load_dataset(con))
    assert manifest["split"]["seed"] == 5 and manifest["split"]["folds"] == 1
    assert "genre=Anime" in manifest["features"] and manifest["encoder"]["vocabulary"]["status"] == ["ranked"]
    assert {"lightgbm", "numpy", "scikit-learn", "duckdb", "python"} <= set(manifest["library_versions"])
    assert manifest["params"]["num_leaves"] == 15
    registered = con.execute(
        "SELECT run_id, kind, dataset_hash, folds FROM kiai.training_runs ORDER BY created_at"
    ).fetchall()
    assert registered == [
        (run.run_id, "lightgbm", run.dataset_hash, 1),
        (again.run_id, "lightgbm", run.dataset_hash, 1),
    ]
    lines = (run.path / "test_predictions.csv").read_text().splitlines()
    assert lines[0] == "beatmap_id,beatmapset_id,md5,label,fold,predicted,p_jump,p_stream,p_tech"
    for line in lines[1:]:
        assert sum(float(p) for p in line.split(",")[-3:]) == pytest.approx(1.0)


def test_folds_give_mean_and_std_on_the_same_split_for_both_kinds(synthetic: Path, tmp_path: Path) -> None:
    con = warehouse.connect(synthetic)
    lgbm = train(con, "lightgbm", models_dir=tmp_path, folds=3)
    keras = train(con, "keras", models_dir=tmp_path, folds=3, epochs=8)
    assert lgbm.split_hash == keras.split_hash, "both baselines are compared on the same split"
    assert lgbm.metrics["accuracy"]["std"] > 0
    metrics = json.loads((keras.path / "metrics.json").read_text())
    assert [f["fold"] for f in metrics["folds"]] == [0, 1, 2]
    assert sum(map(sum, metrics["confusion"])) == lgbm.dataset_rows, "out-of-fold: every row tested once"
    manifest = json.loads((keras.path / "manifest.json").read_text())
    assert manifest["stored_model"]["trained_on"].startswith("all rows")
    assert len(manifest["preprocessing"]["impute"]) == len(manifest["features"]), "imputation means stored"
    assert {"keras", "tensorflow"} <= set(manifest["library_versions"])
    assert (keras.path / "model.keras").is_file()
    assert not list(keras.path.glob("*.pkl")) and not list(keras.path.glob("*.pickle"))


def test_train_errors(db_path: Path, tmp_path: Path) -> None:
    result = invoke("train", "lightgbm", db=db_path, check=False)
    assert result.returncode == 1
    assert "no dataset yet" in result.stderr and "kiai build-features" in result.stderr
    assert "Traceback" not in result.stderr

    make_dataset(db_path, classes=("stream",), n_sets=10)
    result = invoke("train", "lightgbm", db=db_path, check=False)
    assert result.returncode == 1 and "single class ('stream'" in result.stderr

    con = warehouse.connect(db_path)
    con.execute(
        "UPDATE features.dataset SET label = 'jump' WHERE beatmap_id = (SELECT min(beatmap_id) FROM features.dataset)"
    )
    con.close()
    result = invoke("train", "keras", db=db_path, check=False)
    assert result.returncode == 1 and "too few rows in class 'jump': 1 rows in 1 beatmapset" in result.stderr

    con = warehouse.connect(db_path)
    con.execute("DELETE FROM features.dataset")
    con.close()
    result = invoke("train", "lightgbm", db=db_path, check=False)
    assert result.returncode == 1 and "the dataset is empty" in result.stderr

    con = warehouse.connect(db_path)
    with pytest.raises(KiaiError, match="unknown model kind"):
        train(con, "svm", models_dir=tmp_path)
    with pytest.raises(KiaiError, match="unknown keras parameter"):
        train(con, "keras", models_dir=tmp_path, params={"hiden": [3]})


def test_compare_and_predict_need_a_run(synthetic: Path) -> None:
    assert "no training runs yet" in invoke("compare", db=synthetic).stdout
    assert json.loads(invoke("compare", "--format", "json", db=synthetic).stdout) == []
    result = invoke("predict", "1001", db=synthetic, check=False)
    assert result.returncode == 1 and "no training runs yet" in result.stderr


def test_cli_startup_does_not_import_the_ml_stack() -> None:
    heavy = "('tensorflow', 'lightgbm', 'sklearn', 'matplotlib', 'keras')"
    code = f"import sys, kiai.cli; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_small_dataset_that_passes_the_class_check_trains(db_path: Path, tmp_path: Path) -> None:
    """2 classes x 3 beatmapsets: the holdout leaves 4-5 sets for training, fewer than the six validation parts."""
    make_dataset(db_path, n_sets=6, classes=("jump", "stream"), min_difficulties=3)
    result = invoke("train", "lightgbm", "--models-dir", str(tmp_path), db=db_path, check=False)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


def test_params_are_checked(synthetic: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    cases = [
        ("lightgbm", "num_leavs=3", "unknown lightgbm parameter 'num_leavs'"),
        ("lightgbm", "num_leaves=abc", "lightgbm parameter num_leaves must be a whole number, not 'abc'"),
        ("lightgbm", "learning_rate=-1", "lightgbm parameter learning_rate must be above 0.0"),
        ("lightgbm", "seed=3", "'seed' cannot be overridden: set by --seed"),
        ("lightgbm", "objective=binary", "'objective' cannot be overridden"),
        ("lightgbm", "num_class=2", "'num_class' cannot be overridden"),
        ("keras", "hidden=abc", "keras parameter hidden must be a non-empty list"),
        ("keras", "hidden=[8, 0]", "items must be at least 1"),
        ("keras", "dropout=2", "at most 0.95"),
        ("lightgbm", "num_leaves", "--param takes NAME=VALUE, not 'num_leaves'"),
    ]
    for kind, param, message in cases:
        result = invoke("train", kind, "--param", param, "--models-dir", str(models), db=synthetic, check=False)
        assert result.returncode == 1 and message in result.stderr, (param, result.stderr)
        assert "Traceback" not in result.stderr
    assert not models.exists() or not list(models.iterdir()), "nothing stored for a refused parameter"
    con = warehouse.connect(synthetic)
    run = train(con, "lightgbm", models_dir=models, params={"num_leaves": 4.0, "learning_rate": 1})
    assert run.params["num_leaves"] == 4 and isinstance(run.params["num_leaves"], int)
    assert run.params["learning_rate"] == 1.0 and isinstance(run.params["learning_rate"], float)


def test_a_diverging_keras_run_is_a_clear_error(synthetic: Path, tmp_path: Path) -> None:
    result = invoke(
        "train", "keras", "--param", "learning_rate=1e12", "--epochs", "3", "--models-dir", str(tmp_path),
        db=synthetic, check=False,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "the keras model diverged" in result.stderr and "lower learning_rate" in result.stderr
    assert "Traceback" not in result.stderr


def test_macro_f1_ignores_a_class_absent_from_the_part() -> None:
    y = np.array([0, 0, 1, 1])
    proba = np.array([[0.9, 0.05, 0.05], [0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.6, 0.3, 0.1]])
    result = evaluate(y, proba, ["a", "b", "c"])  # "c" neither in y nor predicted
    f1_a, f1_b = 2 * 2 / (2 * 2 + 1), 2 * 1 / (2 * 1 + 1)
    assert result["macro_f1"] == pytest.approx((f1_a + f1_b) / 2)
    assert result["per_class_f1"] == pytest.approx({"a": f1_a, "b": f1_b, "c": 0.0})
    wrong = np.array([[0.9, 0.05, 0.05], [0.1, 0.1, 0.8], [0.1, 0.8, 0.1], [0.1, 0.8, 0.1]])
    result = evaluate(y, wrong, ["a", "b", "c"])  # "c" predicted once though absent: a false positive, F1 0
    assert result["macro_f1"] == pytest.approx((2 / 3 + 1 + 0) / 3)


def test_training_opens_the_warehouse_for_writing_only_to_register(synthetic: Path, tmp_path: Path) -> None:
    from kiai.ml.train import train_with

    models = tmp_path / "models"
    events: list[tuple[str, bool, int]] = []

    def open_db(write: bool) -> duckdb.DuckDBPyConnection:
        finished = len([p for p in models.iterdir() if not p.name.startswith(".")]) if models.exists() else 0
        events.append(("open", write, finished))
        if not write:
            # while the read-only connection is closed, another process can write (the CLI's `kiai sql`)
            assert all(kind == "close" for kind, *_ in events[:-1]) or len(events) == 1
        return warehouse.connect(synthetic, read_only=not write)

    run = train_with(open_db, "lightgbm", models_dir=models)
    assert events == [("open", False, 0), ("open", True, 1)], "read-only to read; write only once the run is on disk"
    other = warehouse.connect(synthetic)  # nothing left open or locked
    assert other.execute("SELECT run_id FROM kiai.training_runs").fetchall() == [(run.run_id,)]
    other.close()


def test_a_failed_registration_leaves_no_run_folder(synthetic: Path, tmp_path: Path) -> None:
    con = warehouse.connect(synthetic)
    con.execute("CREATE TABLE kiai.training_runs (run_id VARCHAR PRIMARY KEY)")  # an incompatible registry
    models = tmp_path / "models"
    with pytest.raises(KiaiError, match=r"registering run \S+ failed \(Binder Error.*\); folder removed"):
        train(con, "lightgbm", models_dir=models)
    assert list(models.iterdir()) == []
    assert con.execute("SELECT count(*) FROM kiai.training_runs").fetchone() == (0,)


def test_keras_imputation_and_normalisation_come_from_fit_rows_only(synthetic: Path, tmp_path: Path) -> None:
    import csv

    from kiai.ml.keras_mlp import KerasMLP, _prepare

    con = warehouse.connect(synthetic)
    run = train(con, "keras", models_dir=tmp_path, epochs=2)
    frame = load_dataset(con)
    manifest = json.loads((run.path / "manifest.json").read_text())
    with (run.path / "predictions.csv").open(newline="") as handle:
        parts = {int(row["beatmap_id"]): row["part"] for row in csv.DictReader(handle)}
    fit = np.array([parts[int(i)] == "train" for i in frame.beatmap_ids])
    assert 0 < fit.sum() < len(fit)
    x = Encoder.from_json(manifest["encoder"]).transform(frame)
    logged = np.sign(x) * np.log1p(np.abs(x))
    impute = np.array(manifest["preprocessing"]["impute"])
    with np.errstate(invalid="ignore"):
        assert np.allclose(impute, np.nan_to_num(np.nanmean(logged[fit], axis=0)), atol=1e-9)
        assert not np.allclose(impute, np.nan_to_num(np.nanmean(logged, axis=0)), atol=1e-6), "all-row means differ"
    prepared = _prepare(x, manifest["preprocessing"]).astype(np.float64)
    layer = KerasMLP().load(run.path).get_layer("normalization")
    mean = np.asarray(layer.mean).reshape(-1)
    assert np.allclose(mean, prepared[fit].mean(axis=0), rtol=1e-5, atol=1e-5)
    assert not np.allclose(mean, prepared.mean(axis=0), rtol=1e-5, atol=1e-5)


def test_compare_on_a_narrow_terminal_shows_every_run(synthetic: Path, tmp_path: Path) -> None:
    con = warehouse.connect(synthetic)
    ids = [train(con, "lightgbm", models_dir=tmp_path, seed=seed, epochs=5).run_id for seed in range(3)]
    con.close()
    narrow = invoke("compare", db=synthetic, env={"COLUMNS": "80"}).stdout
    assert all(run_id in narrow for run_id in ids) and max(len(line) for line in narrow.splitlines()) <= 80
    piped = invoke("compare", db=synthetic, env={"COLUMNS": ""}).stdout
    assert all(run_id in piped for run_id in ids) and "accuracy" in piped.splitlines()[1]
