"""`train()`: split, encode, fit, evaluate, and store a run under `models/<run_id>/` plus `kiai.training_runs`."""

from __future__ import annotations

import csv
import io
import os
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from kiai.errors import KiaiError
from kiai.files import temp_path
from kiai.ml import metrics as metrics_mod
from kiai.ml import runs, split
from kiai.ml.backend import KINDS, Backend, FitData, Fitted, backend
from kiai.ml.dataset import DATASET, Frame, check_classes, dataset_hash, label_conflicts, load_dataset
from kiai.ml.encoders import Encoder, fit_encoder
from kiai.ml.files import write_json, write_text
from kiai.ml.params import settings as param_settings
from kiai.ml.split import PartName, split_label
from kiai.ml.versions import DATASET_MODEL, FEATURE_MODEL, fingerprints, library_versions
from kiai.progress import NULL_REPORTER, FoldDone, Notice, Reporter
from kiai.warehouse import WarehouseBusy

__all__ = ["KINDS", "backend", "train", "train_with"]

MAX_FOLDS = 20
MAX_REPEATS = 10
# What kiai.training_runs keeps of each test part (compare pairs runs part by part with these).
PART_KEYS = ("repeat", "fold", "seed", "n", "train_rows", "valid_rows", *metrics_mod.SUMMARY, "train_seconds",
             "confusion")  # fmt: skip
# Seconds a finished run waits for a busy warehouse to register itself, unless --wait/KIAI_WAIT says otherwise.
REGISTER_WAIT = 120.0


@dataclass
class Inputs:
    """What training reads from the warehouse: the dataset and the model fingerprints at that moment."""

    frame: Frame
    data_fps: dict[str, str]
    code_fps: dict[str, str]
    warehouse: Path  # the file read, where the run is registered
    label_conflicts: dict[str, int] | None = None


def read_inputs(con: duckdb.DuckDBPyConnection) -> Inputs:
    frame = load_dataset(con)
    data_fps, code_fps = fingerprints(con)
    return Inputs(frame, data_fps, code_fps, runs.warehouse_path(con), label_conflicts(con))


def register_run(con: duckdb.DuckDBPyConnection, run: runs.Run) -> None:
    """Register a written run folder in one transaction, then any earlier runs of this warehouse still waiting
    to be registered; if registering the run fails, its folder is removed (no orphan)."""
    try:
        runs.register(con, run)
    except BaseException as exc:
        shutil.rmtree(run.path, ignore_errors=True)
        if isinstance(exc, duckdb.Error):
            raise KiaiError(
                f"registering run {run.run_id} failed ({str(exc).splitlines()[0]}); folder removed"
            ) from None
        raise
    runs.register_unregistered(con, run.path.parent)


def train(con: duckdb.DuckDBPyConnection, kind: str, **options: Any) -> runs.Run:
    """Train `kind` on `features.dataset` of an open connection and register the run (see `train_with`)."""
    return _train(kind, lambda: read_inputs(con), lambda run: register_run(con, run), **options)


def train_with(open_db: Callable[[bool], duckdb.DuckDBPyConnection], kind: str, **options: Any) -> runs.Run:
    """Like `train`, but the warehouse is opened by `open_db(write)` only while needed: read-only to read the
    dataset, closed while training, then for writing only to register (other commands are not locked out)."""

    def read() -> Inputs:
        con = open_db(False)
        try:
            return read_inputs(con)
        finally:
            con.close()

    def register(run: runs.Run) -> None:
        try:
            con = open_db(True)  # waits for a busy warehouse as long as open_db does
        except WarehouseBusy as exc:
            holder = f"process {exc.pid}" if exc.pid else "another process"
            raise KiaiError(
                f"run {run.run_id} is kept in {run.path} but not registered: {holder} held the warehouse too long; "
                "`kiai compare` or the next `kiai train` registers it once the warehouse is free"
            ) from None
        except BaseException:
            shutil.rmtree(run.path, ignore_errors=True)  # Ctrl-C while waiting: no run, as if never trained
            raise
        try:
            register_run(con, run)
        finally:
            con.close()

    return _train(kind, read, register, **options)


@dataclass
class Trained:
    """A model fit on some training rows: the model, its encoder, which rows fit it and which validated it."""

    fitted: Fitted
    encoder: Encoder
    x: np.ndarray  # every dataset row, encoded
    fit_rows: np.ndarray
    valid_rows: np.ndarray
    seconds: float


def _train(
    kind: str,
    read: Callable[[], Inputs],
    register: Callable[[runs.Run], None],
    *,
    models_dir: Path,
    seed: int = 0,
    folds: int = 1,
    repeats: int = 1,
    epochs: int | None = None,
    params: dict[str, Any] | None = None,
    reporter: Reporter = NULL_REPORTER,
) -> runs.Run:
    """Train `kind` on `features.dataset` and register the run.

    `folds` 1 is one 80/20 holdout split (the model trained on the 80 % is stored); K > 1 is K-fold
    cross-validation for the metrics, then one model refit on every row is stored. `repeats` R splits R times
    (seeds seed .. seed + R - 1) for R x K test parts, and also stores a model refit on every row. `epochs` caps
    Keras epochs, LightGBM boosting rounds or logistic solver iterations. LightGBM and Keras early-stop on a
    validation part of their training rows; the baselines fit on all of them. Each trained part is reported
    (FoldDone), the rest of the run's story as notices on stderr.
    """
    model_backend = backend(kind)
    if not 1 <= folds <= MAX_FOLDS:
        raise KiaiError(f"--folds must be between 1 and {MAX_FOLDS}")
    if not 1 <= repeats <= MAX_REPEATS:
        raise KiaiError(f"--repeats must be between 1 and {MAX_REPEATS}")
    if epochs is not None and epochs < 1:
        raise KiaiError("--epochs must be at least 1")
    settings = param_settings(kind, model_backend.default_params, params)
    log = lambda text: reporter.report(Notice(text, to_stderr=True))  # noqa: E731
    inputs = read()
    frame = inputs.frame
    check_classes(frame, folds)
    assert frame.labels is not None
    labels, y = split.label_codes(frame.labels)
    groups = frame.beatmapset_ids
    parts = split.repeated_parts(y, groups, folds, repeats, seed)
    started = datetime.now(UTC).replace(tzinfo=None)
    log(f"training {kind} on {len(frame):,} rows, {len(labels)} classes ({', '.join(labels)}), "
        f"{split_label(folds, seed, repeats)}")  # fmt: skip

    fold_results: list[dict[str, Any]] = []
    importances: list[dict[str, float]] = []
    test_proba: list[np.ndarray] = []
    for part in parts:
        trained = _train_on(model_backend, frame, y, part.train, len(labels), settings, part.seed, epochs)
        x_test = trained.x[part.test]
        proba = _predict(model_backend, trained.fitted, x_test)
        result = metrics_mod.evaluate(y[part.test], proba, labels)
        result.update(
            train_seconds=trained.seconds, fold=part.fold, repeat=part.repeat, seed=part.seed,
            train_rows=len(trained.fit_rows), valid_rows=len(trained.valid_rows), **trained.fitted.info,
        )  # fmt: skip
        fold_results.append(result)
        importances.append(model_backend.importance(trained.fitted, trained.encoder, x_test, y[part.test], part.seed))
        test_proba.append(proba)
        scores = {name: float(result[name]) for name in (*metrics_mod.SUMMARY, "train_seconds")}
        reporter.report(FoldDone(_part_label(part, folds, repeats), scores))
    if len(parts) == 1:
        stored = trained
    else:
        stored = _train_on(model_backend, frame, y, np.arange(len(frame)), len(labels), settings, seed, epochs)
        stored.fitted.info = {**stored.fitted.info, "train_seconds": stored.seconds}
        log(f"  final model refit on all {len(frame):,} rows ({stored.seconds:.1f} s)")

    summary = metrics_mod.summarise(fold_results)
    run_id = f"{started:%Y%m%d-%H%M%S}-{kind}-{secrets.token_hex(2)}"
    models_dir = Path(models_dir).resolve()
    run = runs.Run(
        run_id=run_id,
        kind=kind,
        created_at=started,
        path=models_dir / run_id,
        metrics=summary,
        labels=labels,
        dataset_hash=dataset_hash(frame),
        dataset_rows=len(frame),
        n_features=len(stored.encoder.feature_names),
        feature_version=inputs.code_fps.get(FEATURE_MODEL),
        dataset_version=inputs.code_fps.get(DATASET_MODEL),
        fingerprints=inputs.data_fps,
        split_seed=seed,
        folds=folds,
        split_hash=split.split_hash(parts, frame.beatmap_ids),
        params={**settings, **({"epochs_cap": epochs} if epochs else {})},
        repeats=repeats,
        part_metrics=[{key: result[key] for key in PART_KEYS if key in result} for result in fold_results],
    )
    _write_run(run, model_backend, inputs, y, stored, fold_results, importances, parts, test_proba)
    register(run)
    log(f"run {run_id}: accuracy {summary['accuracy']['mean']:.3f}, macro-F1 {summary['macro_f1']['mean']:.3f} "
        f"-> {run.path}")  # fmt: skip
    return run


def _part_label(part: split.Part, folds: int, repeats: int) -> str:
    what = "holdout" if folds == 1 else f"fold {part.fold + 1}/{folds}"
    return what if repeats == 1 else f"{what} of repeat {part.repeat + 1}/{repeats} (seed {part.seed})"


def _train_on(
    model_backend: Backend,
    frame: Frame,
    y: np.ndarray,
    rows: np.ndarray,
    n_classes: int,
    settings: dict[str, Any],
    seed: int,
    epochs: int | None,
) -> Trained:
    """Encode with the vocabulary of `rows` and fit on them (less a validation part for early stopping)."""
    encoder = fit_encoder(frame, rows)
    x = encoder.transform(frame)
    if model_backend.early_stopping:
        fit_rows, valid_rows = split.validation(y, frame.beatmapset_ids, rows, seed)
    else:
        fit_rows, valid_rows = rows, rows[:0]
    clock = time.perf_counter()
    fitted = _fit(model_backend, x, y, fit_rows, valid_rows, n_classes, settings, seed, epochs)
    return Trained(fitted, encoder, x, fit_rows, valid_rows, time.perf_counter() - clock)


def _fit(
    model_backend: Backend,
    x: np.ndarray,
    y: np.ndarray,
    fit_rows: np.ndarray,
    valid_rows: np.ndarray,
    n_classes: int,
    settings: dict[str, Any],
    seed: int,
    epochs: int | None,
) -> Fitted:
    """`fit` with the library's complaints about the parameters as one clear line."""
    try:
        data = FitData(x[fit_rows], y[fit_rows], x[valid_rows], y[valid_rows], n_classes)
        return model_backend.fit(data, settings, seed, epochs)
    except (ValueError, TypeError, *model_backend.library_errors()) as exc:
        raise KiaiError(
            f"{model_backend.kind} training failed with these parameters: {str(exc).splitlines()[0]}"
        ) from None


def _predict(model_backend: Backend, fitted: Fitted, x: np.ndarray) -> np.ndarray:
    """Predicted probabilities; a model whose outputs are not finite diverged in training."""
    proba = model_backend.predict(fitted.model, fitted.state, x)
    if not np.isfinite(proba).all():
        hint = "lower learning_rate" if "learning_rate" in model_backend.default_params else "change its parameters"
        raise KiaiError(f"the {model_backend.kind} model diverged: its probabilities are not finite ({hint})")
    return proba


def _mean_importance(importances: list[dict[str, float]]) -> dict[str, float]:
    names = importances[0].keys() if importances else []
    means = {name: float(np.mean([imp.get(name, 0.0) for imp in importances])) for name in names}
    return dict(sorted(means.items(), key=lambda item: -item[1]))


def _write_run(
    run: runs.Run,
    model_backend: Backend,
    inputs: Inputs,
    y: np.ndarray,
    stored: Trained,
    fold_results: list[dict[str, Any]],
    importances: list[dict[str, float]],
    parts: list[split.Part],
    test_proba: list[np.ndarray],
) -> None:
    """Write everything into a hidden temp folder, then rename it to models/<run_id> in one step (marked as not
    yet registered in the warehouse read)."""
    frame = inputs.frame
    run.path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(run.path)
    tmp.mkdir()
    try:
        model_backend.save(stored.fitted.model, tmp)
        # predictions come from the model as stored, so `kiai predict` reproduces them
        as_stored = Fitted(model_backend.load(tmp), stored.fitted.state)
        proba = _predict(model_backend, as_stored, stored.x)
        part = np.full(len(frame), PartName.TEST.value, dtype=object)
        part[stored.fit_rows], part[stored.valid_rows] = PartName.TRAIN.value, PartName.VALID.value
        rows = np.arange(len(frame))
        _write_predictions(tmp / runs.PREDICTIONS, frame, run.labels, y, rows, proba, {"part": part})
        test_rows = np.concatenate([p.test for p in parts])
        where = {"fold": np.concatenate([np.full(len(p.test), p.fold) for p in parts])}
        if run.repeats > 1:
            where = {"repeat": np.concatenate([np.full(len(p.test), p.repeat) for p in parts]), **where}
        _write_predictions(tmp / runs.TEST_PREDICTIONS, frame, run.labels, y, test_rows, np.vstack(test_proba), where)
        write_json(tmp / runs.MANIFEST, _manifest(run, model_backend, inputs, y, stored))
        summed = np.sum([np.array(f["confusion"]) for f in fold_results], axis=0).tolist()
        write_json(
            tmp / runs.METRICS,
            {
                "summary": run.metrics,
                "labels": run.labels,
                "confusion": summed,
                "folds": fold_results,
                "importance": {"kind": model_backend.importance_kind, "features": _mean_importance(importances)},
            },
        )
        runs.mark_unregistered(tmp, run, inputs.warehouse)
        os.replace(tmp, run.path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _manifest(run: runs.Run, model_backend: Backend, inputs: Inputs, y: np.ndarray, stored: Trained) -> dict[str, Any]:
    frame = inputs.frame
    strategy = "StratifiedGroupKFold by label, grouped by beatmapset"
    if run.folds == 1:
        strategy += "; first of 5 folds as a 20 % test part"
    if run.repeats > 1:
        strategy += f"; repeated with seeds {run.split_seed}..{run.split_seed + run.repeats - 1}"
    validation = (
        "one sixth of the training rows (same strategy) for early stopping"
        if model_backend.early_stopping
        else "none: fit on every training row"
    )
    single = run.folds == 1 and run.repeats == 1
    return {
        "run_id": run.run_id,
        "kind": run.kind,
        "created_at": run.created_at.isoformat() + "Z",
        "model_file": model_backend.model_file,
        "labels": run.labels,
        "features": stored.encoder.feature_names,
        "encoder": stored.encoder.to_json(),
        "preprocessing": stored.fitted.state,
        "dataset": {
            "relation": DATASET,
            "hash": run.dataset_hash,
            "hash_of": "sha256 over ids, md5, label and every feature value, rows in beatmap_id order",
            "rows": run.dataset_rows,
            "beatmapsets": len(np.unique(frame.beatmapset_ids)),
            "class_counts": {label: int((y == i).sum()) for i, label in enumerate(run.labels)},
            "label_conflicts": inputs.label_conflicts,
            "ignored_columns": frame.ignored,
            "non_null_share": _non_null_shares(frame),
        },
        "model_versions": {
            "feature_version": run.feature_version,
            "dataset_version": run.dataset_version,
            "code_fingerprints": inputs.code_fps,
            "fingerprints": run.fingerprints,
        },
        "split": {
            "seed": run.split_seed,
            "folds": run.folds,
            "repeats": run.repeats,
            "strategy": strategy,
            "validation": validation,
            "hash": run.split_hash,
        },
        "stored_model": {
            "trained_on": "the training part of the holdout" if single else "all rows (refit after CV)",
            "train_rows": len(stored.fit_rows),
            "valid_rows": len(stored.valid_rows),
            **stored.fitted.info,
        },
        "params": run.params,
        "library_versions": library_versions(model_backend.versions()),
    }


def _non_null_shares(frame: Frame) -> dict[str, float]:
    """Per feature column: the share of dataset rows where it is not NULL (predict warns when a file lacks one)."""
    shares = {}
    for column in frame.columns:
        data = frame.values[column.name]
        present = ~np.isnan(data) if column.kind == "numeric" else np.array([v is not None for v in data], dtype=bool)
        shares[column.name] = round(float(present.mean()), 6) if len(data) else 0.0
    return shares


def _write_predictions(
    path: Path,
    frame: Frame,
    labels: list[str],
    y: np.ndarray,
    rows: np.ndarray,
    proba: np.ndarray,
    where: dict[str, np.ndarray],
) -> None:
    """One line per entry of `rows` (dataset row indices, with `proba`'s row of the same position): ids, true
    label, the `where` columns (part, or [repeat and] fold), predicted label, a probability per class (repr
    floats, exact round trip)."""
    header = ["beatmap_id", "beatmapset_id", "md5", "label", *where, "predicted"]
    lines = [header + [f"p_{label}" for label in labels]]
    for i, row in enumerate(rows):
        lines.append(
            [str(frame.beatmap_ids[row]), str(frame.beatmapset_ids[row]), frame.md5s[row] or "", labels[y[row]],
             *(str(column[i]) for column in where.values()), labels[int(np.argmax(proba[i]))],
             *(repr(float(p)) for p in proba[i])]
        )  # fmt: skip
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(lines)
    write_text(path, buffer.getvalue())
