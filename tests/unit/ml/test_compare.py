"""Honest comparison on synthetic data in a real warehouse: the interval statistics against hand-computed
values, the baselines, repeated splits shared by every model kind, pairing, the output formats, shuffled labels,
and registries written by an older kiai (migrated, every run kept)."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import duckdb
import numpy as np
import pytest

from kiai import warehouse
from kiai.ml import split, stats
from kiai.ml.backend import KINDS, FitData, backend
from kiai.ml.compare import compare
from kiai.ml.dataset import load_dataset
from kiai.ml.metrics import SUMMARY, evaluate, from_statistics, row_statistics
from kiai.ml.runs import list_runs
from kiai.ml.train import train
from kiai.schema import migrations
from kiai.transform import store
from tests.support.cli import invoke
from tests.support.ml import make_dataset


@pytest.fixture
def synthetic(db_path: Path) -> Path:
    make_dataset(db_path)
    return db_path


def test_corrected_t_interval_by_hand() -> None:
    """Five fold differences 0.03, 0.06, 0.00, 0.04, 0.02: mean 0.03, s^2 = 0.002 / 4 = 5e-4. With
    n_test/n_train = 1/4 the corrected variance is (1/5 + 1/4) * 5e-4 = 2.25e-4, se 0.015, and t(0.975, 4) =
    2.776445 (from a t table): 0.03 +- 0.041647. The uncorrected interval (se sqrt(5e-4/5) = 0.01) would be
    0.03 +- 0.027764, clear of zero: the overlap of the training sets is what makes this difference unclear."""
    interval = stats.corrected_t_interval(np.array([0.03, 0.06, 0.00, 0.04, 0.02]), 0.25)
    assert interval.estimate == pytest.approx(0.03)
    assert interval.low == pytest.approx(0.03 - 0.0416467, abs=1e-6)
    assert interval.high == pytest.approx(0.03 + 0.0416467, abs=1e-6)
    assert not interval.clear_of_zero
    naive = stats.corrected_t_interval(np.array([0.03, 0.06, 0.00, 0.04, 0.02]), 0.0)
    assert naive.low == pytest.approx(0.03 - 0.0277645, abs=1e-6) and naive.clear_of_zero
    with pytest.raises(ValueError, match="at least two parts"):
        stats.corrected_t_interval(np.array([0.1]), 0.25)


def _one_hot_proba(predicted: list[int], classes: int = 2) -> np.ndarray:
    return np.eye(classes)[predicted] * 0.8 + 0.2 / classes


def test_paired_bootstrap_by_hand() -> None:
    """Four test maps, model A right on maps 0, 1, 3, model B on map 0 only: per-map accuracy differences
    0, 1, 0, 1. Five given resamples draw map 0 four times, 0 x3 + 1, 0 x2 + 1 x2, 0 + 1 x3, map 1 four times:
    differences 0, .25, .5, .75, 1; numpy's linear percentiles at 2.5 % and 97.5 % are .025 and .975."""
    y = np.array([0, 1, 0, 1])
    a = _one_hot_proba([0, 1, 1, 1])  # right on 0, 1, 3
    b = _one_hot_proba([0, 0, 1, 0])  # right on 0
    maps = np.arange(4)
    weights = np.array([[4, 0, 0, 0], [3, 1, 0, 0], [2, 2, 0, 0], [1, 3, 0, 0], [0, 4, 0, 0]], dtype=float)
    ours, theirs = stats.group_statistics(y, a, maps), stats.group_statistics(y, b, maps)
    interval = stats.bootstrap_interval("accuracy", ours, weights, theirs)
    assert interval.estimate == pytest.approx(0.5)
    assert (interval.low, interval.high) == pytest.approx((0.025, 0.975))
    # The same differences in log loss: -log 0.9 vs -log 0.1 where A is right and B wrong (maps 1 and 3).
    loss = stats.bootstrap_interval("log_loss", ours, weights[[4]], theirs)
    assert loss.estimate == pytest.approx(np.log(0.1 / 0.9) / 2) and loss.low == pytest.approx(np.log(0.1 / 0.9))


def test_bootstrap_spread_is_the_standard_error_and_sets_are_drawn_whole() -> None:
    """40 maps, A right on all, B on half: the difference 0.5 has standard error sqrt(0.25 / 40) = 0.079, so the
    95 % interval is about 0.5 +- 1.96 * 0.079 = [0.345, 0.655]. Drawn by beatmapset, where every set holds one
    map B gets right and one it gets wrong, every resample has the same difference: zero width."""
    y = np.zeros(40, dtype=int)
    a = _one_hot_proba([0] * 40)
    b = _one_hot_proba([0, 1] * 20)
    maps, sets = np.arange(40), np.repeat(np.arange(20), 2)
    by_map = stats.bootstrap_interval(
        "accuracy", stats.group_statistics(y, a, maps), stats.resample_weights(40, 20_000),
        stats.group_statistics(y, b, maps),
    )  # fmt: skip
    assert by_map.estimate == pytest.approx(0.5)
    assert by_map.low == pytest.approx(0.345, abs=0.03) and by_map.high == pytest.approx(0.655, abs=0.03)
    by_set = stats.bootstrap_interval(
        "accuracy", stats.group_statistics(y, a, sets), stats.resample_weights(20),
        stats.group_statistics(y, b, sets),
    )  # fmt: skip
    assert (by_set.low, by_set.high) == pytest.approx((0.5, 0.5))


def test_metrics_from_summed_row_statistics_equal_evaluate() -> None:
    rng = np.random.default_rng(3)
    for _ in range(30):
        n, classes = int(rng.integers(2, 60)), int(rng.integers(2, 7))
        y, proba = rng.integers(0, classes, n), rng.dirichlet(np.full(classes, 0.5), n)
        expected = evaluate(y, proba, [str(c) for c in range(classes)])
        totals = {name: values.sum(axis=0, keepdims=True) for name, values in row_statistics(y, proba).items()}
        for name in SUMMARY:
            assert from_statistics(name, totals)[0] == pytest.approx(expected[name], abs=1e-12), name


def test_majority_and_logistic_baselines(synthetic: Path, tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    con = warehouse.connect(synthetic)
    majority = train(con, "majority", models_dir=tmp_path, seed=2)
    with (majority.path / "predictions.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    trained = [row for row in rows if row["part"] == "train"]
    assert {row["part"] for row in rows} == {"train", "test"}, "nothing to early-stop: no validation part"
    for label in majority.labels:  # every map gets the training part's class frequencies
        share = sum(row["label"] == label for row in trained) / len(trained)
        assert [float(row[f"p_{label}"]) for row in rows] == pytest.approx([share] * len(rows))
    assert sorted(p.name for p in majority.path.iterdir())[0] == "majority.json"

    logistic = train(con, "logistic", models_dir=tmp_path, folds=3)
    assert logistic.metrics["accuracy"]["mean"] > majority.metrics["accuracy"]["mean"] + 0.2
    manifest = json.loads((logistic.path / "manifest.json").read_text())
    assert manifest["params"] == {"C": 0.03, "max_iter": 2000}
    assert manifest["split"]["validation"].startswith("none")
    # The stored coefficients give scikit-learn's own probabilities (multiclass here, and for two classes).
    x = np.random.default_rng(0).normal(size=(80, 4)) * [1, 10, 100, 0.1]
    x[::7, 1] = np.nan
    for classes in (3, 2):
        y = np.arange(80) % classes
        fitted = backend("logistic").fit(FitData(x, y, x[:0], y[:0], classes), {"C": 0.5, "max_iter": 500}, 0, None)
        state = fitted.state
        z = np.nan_to_num((x - state["mean"]) / np.array(state["scale"]))
        reference = LogisticRegression(C=0.5, max_iter=500, random_state=0).fit(z, y)
        assert np.allclose(backend("logistic").predict(fitted.model, state, x), reference.predict_proba(z))
    result = invoke("train", "logistic", "--param", "C=0", "--models-dir", str(tmp_path), db=synthetic, check=False)
    assert result.returncode == 1 and "logistic parameter C must be above 0.0" in result.stderr


def test_the_same_seeds_folds_and_repeats_give_the_same_parts_for_every_kind(synthetic: Path, tmp_path: Path) -> None:
    con = warehouse.connect(synthetic)
    made = {kind: train(con, kind, models_dir=tmp_path, folds=3, repeats=2, seed=4, epochs=3) for kind in KINDS}
    assert len({run.split_hash for run in made.values()}) == 1

    def parts(run_path: Path) -> set[tuple[str, str, str]]:
        with (run_path / "test_predictions.csv").open(newline="") as handle:
            return {(row["repeat"], row["fold"], row["beatmap_id"]) for row in csv.DictReader(handle)}

    first = parts(made["majority"].path)
    assert len(first) == 2 * made["majority"].dataset_rows, "every row tested once per repeat"
    for run in made.values():
        assert parts(run.path) == first
        assert [(p["repeat"], p["fold"], p["seed"], p["n"]) for p in run.part_metrics] == [
            (p["repeat"], p["fold"], p["seed"], p["n"]) for p in made["majority"].part_metrics
        ]
        assert run.repeats == 2 and len(run.part_metrics) == 6
    assert [p["seed"] for p in made["keras"].part_metrics] == [4, 4, 4, 5, 5, 5]
    # a second repeat with seed 5 is the 3-fold split of seed 5; one repeat keeps the hash runs had before
    frame = load_dataset(con)
    _, y = split.label_codes(frame.labels)
    again = split.repeated_parts(y, frame.beatmapset_ids, 3, 2, 4)
    assert all(
        np.array_equal(part.test, test)
        for part, (_, test) in zip(again[3:], split.splits(y, frame.beatmapset_ids, 3, 5), strict=True)
    )
    single = train(con, "majority", models_dir=tmp_path, folds=3, seed=4)
    assert single.split_hash == split.split_hash(
        split.repeated_parts(y, frame.beatmapset_ids, 3, 1, 4), frame.beatmap_ids
    )
    assert single.split_hash != made["majority"].split_hash


def test_compare_pairs_runs_on_the_same_parts_and_renders_every_format(synthetic: Path, tmp_path: Path) -> None:
    con = warehouse.connect(synthetic)
    majority = train(con, "majority", models_dir=tmp_path, folds=4, repeats=2)
    lgbm = train(con, "lightgbm", models_dir=tmp_path, folds=4, repeats=2)
    holdout = train(con, "lightgbm", models_dir=tmp_path)
    holdout_majority = train(con, "majority", models_dir=tmp_path)
    con.close()

    rows = json.loads(invoke("compare", "--baseline", majority.run_id, "--format", "json", db=synthetic).stdout)
    by_id = {row["run_id"]: row for row in rows}
    assert [row["run_id"] for row in rows] == [majority.run_id, lgbm.run_id, holdout.run_id, holdout_majority.run_id]
    assert by_id[majority.run_id]["baseline"] is True and by_id[majority.run_id]["difference"] is None
    paired = by_id[lgbm.run_id]["difference"]
    assert paired["paired"] and paired["parts"] == 8 and paired["method"].startswith("corrected resampled t-test")
    accuracy = paired["metrics"]["accuracy"]
    assert accuracy["verdict"] == "better" and accuracy["low"] > 0
    assert accuracy["mean"] == pytest.approx(lgbm.metrics["accuracy"]["mean"] - majority.metrics["accuracy"]["mean"]), (
        "the mean paired difference is the difference of the means"
    )
    assert paired["metrics"]["log_loss"]["verdict"] == "better" and paired["metrics"]["log_loss"]["high"] < 0
    for other in (holdout, holdout_majority):
        assert by_id[other.run_id]["difference"] == {
            "baseline": majority.run_id, "paired": False, "reason": "other test parts"
        }  # fmt: skip
    assert set(by_id[lgbm.run_id]["per_class"]) == {"jump", "stream", "tech"}
    assert {"f1", "recall", "support"} == set(by_id[lgbm.run_id]["per_class"]["tech"])
    assert sum(c["support"] for c in by_id[lgbm.run_id]["per_class"].values()) == lgbm.dataset_rows
    assert len(by_id[lgbm.run_id]["top_confusions"]) <= 3
    interval = by_id[lgbm.run_id]["intervals"]["accuracy"]
    assert interval["low"] < interval["mean"] < interval["high"]

    # a single holdout pairs with the holdout of the same seed by the bootstrap over test beatmapsets (a unique
    # prefix names the baseline: all but the last random digit)
    rows = json.loads(invoke("compare", "-b", holdout_majority.run_id[:-1], "--format", "json", db=synthetic).stdout)
    boot = next(row for row in rows if row["run_id"] == holdout.run_id)["difference"]
    assert boot["method"] == "paired bootstrap" and boot["parts"] == 1 and "test beatmapsets" in boot["over"]
    assert boot["metrics"]["accuracy"]["verdict"] == "better"

    # a model kind names its latest run
    rows = json.loads(invoke("compare", "-b", "majority", "--format", "json", db=synthetic).stdout)
    assert [row["run_id"] for row in rows if row["baseline"]] == [holdout_majority.run_id]
    # default baseline: the best run among those that share their parts with another
    rows = json.loads(invoke("compare", "--format", "json", db=synthetic).stdout)
    assert [row["run_id"] for row in rows if row["baseline"]] == [lgbm.run_id]

    table = invoke("compare", "-b", majority.run_id, db=synthetic, env={"COLUMNS": "250"}).stdout
    assert (
        f"run - baseline {majority.run_id}" in table and "better" in table and "not paired: other test parts" in table
    )
    assert "F1 / recall" in table and "→" in table
    lines = list(
        csv.DictReader(io.StringIO(invoke("compare", "-b", majority.run_id, "--format", "csv", db=synthetic).stdout))
    )
    assert [line["run_id"] for line in lines] == [majority.run_id, lgbm.run_id, holdout.run_id, holdout_majority.run_id]
    line = lines[1]
    assert float(line["accuracy_diff"]) == pytest.approx(accuracy["mean"]) and line["accuracy_verdict"] == "better"
    assert float(line["accuracy_low"]) == pytest.approx(interval["low"]) and line["pairing"].endswith("8 parts")
    assert lines[0]["pairing"] == "baseline" and lines[2]["pairing"] == "not paired: other test parts"
    assert line["f1_tech"] and line["recall_jump"]
    markdown = invoke("compare", "-b", majority.run_id, "--format", "markdown", db=synthetic).stdout
    assert markdown.startswith("| run | model | split | accuracy |")
    assert f"| `{lgbm.run_id}` | lightgbm | corrected resampled t-test (Nadeau-Bengio), 8 parts |" in markdown
    assert "better" in markdown and "F1 / recall" in markdown
    bad = invoke("compare", "--format", "xml", db=synthetic, check=False)
    assert bad.returncode == 1 and "choose one of table, json, csv, markdown" in bad.stderr
    bad = invoke("compare", "--baseline", "nope", db=synthetic, check=False)
    assert bad.returncode == 1 and "no run 'nope'" in bad.stderr


# kiai.training_runs as kiai wrote it before `repeats` and `part_metrics` (kiai/ml/runs.py at commit b0d7712)
OLD_TRAINING_RUNS = """
CREATE TABLE kiai.training_runs (
    run_id VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL, path VARCHAR NOT NULL,
    dataset_hash VARCHAR NOT NULL, dataset_rows BIGINT NOT NULL, n_features INTEGER NOT NULL,
    labels VARCHAR NOT NULL, feature_version VARCHAR, dataset_version VARCHAR, fingerprints VARCHAR,
    split_seed INTEGER NOT NULL, folds INTEGER NOT NULL, split_hash VARCHAR NOT NULL,
    params VARCHAR NOT NULL, metrics VARCHAR NOT NULL
)
"""
OLD_COLUMNS = (
    "run_id, kind, created_at, path, dataset_hash, dataset_rows, n_features, labels, feature_version, "
    "dataset_version, fingerprints, split_seed, folds, split_hash, params, metrics"
)


def _named(version: int) -> str:
    return next(m.name for m in migrations.MIGRATIONS if m.version == version)


def _as_an_older_kiai_left_it(db: Path, schema_version: int | None) -> None:
    """The registry table of before the per-part columns, and the schema version that kiai recorded: 1 (main
    at commit 7d0f6af), 2 (with replay downloads, 05d1e19), 3 (with metadata columns, af7a387), or None for a
    kiai from before schema versions."""
    con = duckdb.connect(str(db))
    for statement in (
        "ALTER TABLE {K}.training_runs RENAME TO new_runs",
        OLD_TRAINING_RUNS.replace("kiai.", "{K}."),
        f"INSERT INTO {{K}}.training_runs SELECT {OLD_COLUMNS} FROM {{K}}.new_runs",
        "DROP TABLE {K}.new_runs",
        "DROP TABLE {K}.schema_migrations"
        if schema_version is None
        else f"UPDATE {{K}}.schema_migrations SET version = {schema_version}, name = '{_named(schema_version)}'",
    ):
        store.execute(con, statement)  # {K}: the file is kiai.duckdb, so `kiai.` alone is ambiguous
    con.close()


def test_runs_registered_by_an_older_kiai_still_compare(synthetic: Path, tmp_path: Path) -> None:
    con = warehouse.connect(synthetic)
    old_lgbm = train(con, "lightgbm", models_dir=tmp_path, folds=3)
    old_majority = train(con, "majority", models_dir=tmp_path, folds=3)
    con.close()
    _as_an_older_kiai_left_it(synthetic, 1)

    refused = invoke("compare", db=synthetic, check=False)  # reading: one line saying what to run
    assert refused.returncode == 1 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert "older kiai (schema version 1" in refused.stderr and f"run `kiai --db {synthetic} migrate`" in refused.stderr
    migrated = invoke("migrate", db=synthetic).stdout
    assert "to schema version 2 (replay downloads)" in migrated, migrated  # the others', then ours: in order
    assert "to schema version 4 (training run parts)" in migrated and "(2 runs kept)" in migrated, migrated
    assert migrated.index("version 2 (") < migrated.index("version 3 (") < migrated.index("version 4 (")

    rows = json.loads(invoke("compare", "-b", old_majority.run_id, "--format", "json", db=synthetic).stdout)
    old = next(row for row in rows if row["run_id"] == old_lgbm.run_id)
    assert old["repeats"] == 1 and old["difference"]["parts"] == 3, "per-part metrics read from metrics.json"
    assert old["difference"]["metrics"]["accuracy"]["verdict"] == "better"
    assert old["metrics"]["accuracy"] == old_lgbm.metrics["accuracy"]

    con = warehouse.connect(synthetic)
    new = train(con, "lightgbm", models_dir=tmp_path, folds=3)
    listed = {run.run_id: run for run in list_runs(con)}
    con.close()
    assert list(listed) == [old_lgbm.run_id, old_majority.run_id, new.run_id]
    assert listed[old_lgbm.run_id].repeats == 1 and listed[old_lgbm.run_id].part_metrics == []
    assert len(listed[new.run_id].part_metrics) == 3
    rows = json.loads(invoke("compare", "-b", old_majority.run_id, "--format", "json", db=synthetic).stdout)
    assert all(row["difference"]["paired"] for row in rows if not row["baseline"])
    # without its folder an old run has no per-part metrics: said, not guessed
    import shutil

    shutil.rmtree(old_lgbm.path)
    rows = json.loads(invoke("compare", "-b", old_majority.run_id, "--format", "json", db=synthetic).stdout)
    gone = next(row for row in rows if row["run_id"] == old_lgbm.run_id)
    assert gone["difference"]["paired"] is False and "run folder is missing" in gone["difference"]["reason"]


@pytest.mark.parametrize("schema_version", [None, 1, 2, 3], ids=["before-versions", "v1", "v2", "v3"])
def test_an_older_registry_is_migrated_by_a_writing_connection(
    synthetic: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str], schema_version: int | None
) -> None:
    """Every pending migration applies in order, the training runs' fourth. Without a recorded version (and no
    parsed tables) training runs make it an old warehouse (version 0), not a new one that would be stamped
    with the latest version and keep its old registry table."""
    con = warehouse.connect(synthetic)
    old = train(con, "majority", models_dir=tmp_path, folds=3)
    con.close()
    _as_an_older_kiai_left_it(synthetic, schema_version)
    capfd.readouterr()
    con = warehouse.connect(synthetic)
    notices = [line for line in capfd.readouterr().err.splitlines() if line.startswith("migrated")]
    expected = [m.version for m in migrations.MIGRATIONS if m.version > (schema_version or 0)]
    assert [int(re.search(r"schema version (\d+)", line)[1]) for line in notices] == expected, notices
    parts = notices[expected.index(4)]  # version 5 (hit object steps) comes after it
    assert "training run parts" in parts and "(1 runs kept)" in parts, notices
    assert migrations.stored_version(con) == migrations.LATEST
    new = train(con, "majority", models_dir=tmp_path, folds=3)
    comparison = compare(con, baseline=old.run_id)
    con.close()
    pairing = comparison.views[1].pairing
    assert comparison.views[1].run.run_id == new.run_id and pairing is not None and pairing.parts == 3


def test_train_repeats_on_the_command_line(synthetic: Path, tmp_path: Path) -> None:
    result = invoke("train", "majority", "--folds", "3", "--repeats", "2", "--models-dir", str(tmp_path), db=synthetic)
    assert "3-fold x 2 seeds 0-1" in result.stderr and "fold 3/3 of repeat 2/2 (seed 1)" in result.stderr
    assert "accuracy 0." in result.stdout and " ± " in result.stdout
    bad = invoke("train", "logistic", "--repeats", "0", "--models-dir", str(tmp_path), db=synthetic, check=False)
    assert bad.returncode == 1 and "--repeats must be between 1 and 10" in bad.stderr
    assert "Traceback" not in bad.stderr


SHUFFLE_SEEDS = range(20)
CLEAR_AT_MOST = 2


def test_on_shuffled_labels_no_model_is_often_clearly_better_than_majority(db_path: Path, tmp_path: Path) -> None:
    """Labels shuffled between beatmapsets: no feature says anything about them, so at 95 % a model should be
    'clearly better' than majority in at most ~1 of 20 seeds per metric. Counted on accuracy, log loss and
    top-2 accuracy (majority's macro-F1 is low by construction: it predicts one class, so a model guessing at
    random beats it there without knowing anything; and it is calibrated by construction). Both interval
    methods are exercised: 5-fold with the corrected t-test, a single holdout with the bootstrap. Keras runs on
    the holdouts only (capped at 40 epochs; 5 folds + refit x 20 seeds would add ~6 minutes): the parts and
    the statistics do not depend on the kind."""
    make_dataset(db_path, n_sets=30)
    con = warehouse.connect(db_path)
    sets = [row[0] for row in con.execute("SELECT DISTINCT beatmapset_id FROM features.dataset ORDER BY 1").fetchall()]
    original = dict(con.execute("SELECT beatmapset_id, any_value(label) FROM features.dataset GROUP BY 1").fetchall())
    clear: dict[tuple[str, int], dict[str, int]] = {}
    for seed in SHUFFLE_SEEDS:
        shuffled = np.random.default_rng(100 + seed).permutation([original[s] for s in sets])
        con.executemany(
            "UPDATE features.dataset SET label = ? WHERE beatmapset_id = ?",
            [(str(label), s) for s, label in zip(sets, shuffled, strict=True)],
        )
        for folds in (5, 1):
            models = tmp_path / f"{seed}-{folds}"
            baseline = train(con, "majority", models_dir=models, folds=folds, seed=seed)
            ids = [baseline.run_id]
            for kind in ("logistic", "lightgbm", *(("keras",) if folds == 1 else ())):
                epochs = 40 if kind == "keras" else None
                run = train(con, kind, models_dir=models, folds=folds, seed=seed, epochs=epochs)
                ids.append(run.run_id)
            for view in compare(con, baseline=baseline.run_id, run_ids=ids).views:
                if view.pairing is None:
                    continue
                assert view.pairing.not_paired is None
                counts = clear.setdefault((view.run.kind, folds), {})
                for name in ("accuracy", "log_loss", "top2_accuracy"):
                    counts[name] = counts.get(name, 0) + (view.pairing.differences[name].verdict == "better")
    con.close()
    assert set(clear) == {("logistic", 5), ("lightgbm", 5), ("logistic", 1), ("lightgbm", 1), ("keras", 1)}
    for (kind, folds), counts in clear.items():
        assert max(counts.values()) <= CLEAR_AT_MOST, (kind, folds, counts)
