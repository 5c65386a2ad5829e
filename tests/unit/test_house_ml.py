"""kiai.Warehouse's train, compare, predict and report on a synthetic labelled dataset in a real DuckDB file, with a
recording reporter: every trained part is a FoldDone event, and the CLI shows the same numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiai import Warehouse
from kiai.errors import KiaiError
from kiai.progress import FoldDone, Notice, RecordingReporter
from tests.support.cli import invoke
from tests.support.ml import make_dataset


@pytest.fixture
def synthetic(db_path: Path) -> Path:
    make_dataset(db_path)
    return db_path


def test_train_reports_each_fold_with_its_metrics(synthetic: Path, tmp_path: Path) -> None:
    events = RecordingReporter()
    house = Warehouse(synthetic, reporter=events)
    run = house.train("majority", folds=3, repeats=2, seed=4, models_dir=tmp_path / "models")
    folds = events.of(FoldDone)
    assert [fold.part for fold in folds] == [
        f"fold {k}/3 of repeat {r}/2 (seed {seed})" for r, seed in ((1, 4), (2, 5)) for k in (1, 2, 3)
    ]
    # each event carries the part's own metrics: the run's parts, in the same order
    assert [fold.metrics["accuracy"] for fold in folds] == [part["accuracy"] for part in run.part_metrics]
    assert all(0 <= fold.metrics["macro_f1"] <= 1 and fold.metrics["train_seconds"] >= 0 for fold in folds)
    texts = events.texts()
    assert texts[0].startswith("training majority on ") and "final model refit" in texts[1]
    assert texts[-1].startswith(f"run {run.run_id}: accuracy")


def test_a_holdout_is_one_fold(synthetic: Path, tmp_path: Path) -> None:
    events = RecordingReporter()
    Warehouse(synthetic, reporter=events).train("logistic", models_dir=tmp_path / "models")
    assert [fold.part for fold in events.of(FoldDone)] == ["holdout"]
    assert not any("refit" in text for text in events.texts())


def test_compare_predict_and_report_go_through_the_facade(synthetic: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    house = Warehouse(synthetic)
    majority = house.train("majority", folds=3, models_dir=models)
    logistic = house.train("logistic", folds=3, models_dir=models)
    comparison = house.compare("majority", models)
    assert comparison.baseline == majority.run_id
    assert [view.run.run_id for view in comparison.views] == [majority.run_id, logistic.run_id]
    paired = comparison.views[1].pairing
    assert paired is not None and not paired.not_paired
    with house.connect() as con:
        (beatmap_id,) = con.execute("SELECT min(beatmap_id) FROM features.dataset").fetchall()[0]
    prediction = house.predict(str(beatmap_id), run=logistic.run_id)
    assert prediction.beatmap_id == beatmap_id and prediction.source == "features.dataset"
    assert prediction.run_id == logistic.run_id and abs(sum(p for _, p in prediction.probabilities) - 1) < 1e-6
    out = house.report(tmp_path / "r.html", models_dir=models)
    assert out.stat().st_size > 1000 and majority.run_id in out.read_text()


def test_train_without_a_warehouse_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(KiaiError, match=r"no dataset yet: no warehouse at .*build-features"):
        Warehouse(tmp_path / "none.duckdb").train("majority", models_dir=tmp_path)
    assert not (tmp_path / "none.duckdb").exists()


def test_the_cli_prints_each_fold_unless_quiet(synthetic: Path, tmp_path: Path) -> None:
    models = ["--models-dir", str(tmp_path / "models")]
    loud = invoke("train", "majority", "--folds", "3", *models, db=synthetic)
    lines = [line.strip() for line in loud.stderr.splitlines() if line.strip().startswith("fold ")]
    assert [line.split(":")[0] for line in lines] == ["fold 1/3", "fold 2/3", "fold 3/3"]
    assert all("accuracy" in line and "macro-F1" in line and "log loss" in line for line in lines)
    quiet = invoke("train", "majority", "--folds", "3", "-q", *models, db=synthetic)
    assert quiet.stderr.strip() == ""
    assert quiet.stdout.startswith("run ") and "stored in" in quiet.stdout


def test_notices_are_about_the_run(synthetic: Path, tmp_path: Path) -> None:
    events = RecordingReporter()
    Warehouse(synthetic, reporter=events).train("majority", models_dir=tmp_path)
    assert all(event.to_stderr for event in events.of(Notice))  # piped results stay clean
