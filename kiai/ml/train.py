"""`train()`: split, encode, fit, evaluate, and store a run under `models/<run_id>/` plus `kiai.training_runs`."""

from __future__ import annotations

import csv
import os
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import duckdb
import numpy as np

from kiai.errors import KiaiError
from kiai.files import temp_path
from kiai.ml import metrics as metrics_mod
from kiai.ml import runs, split
from kiai.ml.dataset import DATASET, Frame, check_classes, dataset_hash, load_dataset
from kiai.ml.encoders import Encoder, fit_encoder
from kiai.ml.files import write_json, write_text
from kiai.ml.params import settings as param_settings
from kiai.ml.versions import DATASET_MODEL, FEATURE_MODEL, fingerprints, library_versions
from kiai.warehouse import WarehouseBusy

KINDS = ("lightgbm", "keras")
MAX_FOLDS = 20
PERMUTATION_REPEATS = 2
# Seconds a finished run waits for a busy warehouse to register itself, unless --wait/KIAI_WAIT says otherwise.
REGISTER_WAIT = 120.0


def backend(kind: str) -> ModuleType:
    """The module implementing a model kind (imported lazily: each pulls in a heavy library)."""
    if kind == "lightgbm":
        from kiai.ml import lgbm

        return lgbm
    if kind == "keras":
        from kiai.ml import keras_mlp

        return keras_mlp
    raise KiaiError(f"unknown model kind {kind!r}; choose one of: {', '.join(KINDS)}")


@dataclass
class Inputs:
    """What training reads from the warehouse: the dataset and the model fingerprints at that moment."""

    frame: Frame
    data_fps: dict[str, str]
    code_fps: dict[str, str]
    warehouse: Path  # the file read, where the run is registered


def read_inputs(con: duckdb.DuckDBPyConnection) -> Inputs:
    frame = load_dataset(con)
    data_fps, code_fps = fingerprints(con)
    return Inputs(frame, data_fps, code_fps, runs.warehouse_path(con))


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


class _Log:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._console: Any = None

    def __call__(self, text: str) -> None:
        if self.enabled:
            if self._console is None:
                from rich.console import Console

                self._console = Console(stderr=True)
            self._console.print(text, highlight=False, soft_wrap=True)


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


def _train(
    kind: str,
    read: Callable[[], Inputs],
    register: Callable[[runs.Run], None],
    *,
    models_dir: Path,
    seed: int = 0,
    folds: int = 1,
    epochs: int | None = None,
    params: dict[str, Any] | None = None,
    progress: bool = True,
) -> runs.Run:
    """Train `kind` on `features.dataset` and register the run.

    `folds` 1 is one 80/20 holdout split (the model trained on the 80 % is stored); K > 1 is K-fold
    cross-validation for the metrics, then one model refit on every row is stored. `epochs` caps Keras
    epochs or LightGBM boosting rounds. Both models early-stop on a validation part of their training rows.
    """
    module = backend(kind)
    if not 1 <= folds <= MAX_FOLDS:
        raise KiaiError(f"--folds must be between 1 and {MAX_FOLDS}")
    if epochs is not None and epochs < 1:
        raise KiaiError("--epochs must be at least 1")
    settings = param_settings(kind, module.DEFAULT_PARAMS, params)
    log = _Log(progress)
    inputs = read()
    frame, data_fps, code_fps = inputs.frame, inputs.data_fps, inputs.code_fps
    check_classes(frame, folds)
    assert frame.labels is not None
    labels, y = split.label_codes(frame.labels)
    groups = frame.beatmapset_ids
    parts = split.splits(y, groups, folds, seed)
    started = datetime.now(UTC).replace(tzinfo=None)
    log(f"training {kind} on {len(frame):,} rows, {len(labels)} classes ({', '.join(labels)}), "
        f"{'80/20 holdout' if folds == 1 else f'{folds}-fold cross-validation'}, seed {seed}")  # fmt: skip

    fold_results: list[dict[str, Any]] = []
    importances: list[dict[str, float]] = []
    test_rows: list[tuple[int, np.ndarray, np.ndarray]] = []
    final: tuple[Any, dict[str, Any], Encoder, np.ndarray, np.ndarray, dict[str, Any]] | None = None
    for number, (train_rows, test) in enumerate(parts):
        encoder = fit_encoder(frame, train_rows)
        x = encoder.transform(frame)
        fit_rows, valid_rows = split.validation(y, groups, train_rows, seed)
        clock = time.perf_counter()
        model, state, info = _fit(module, x, y, fit_rows, valid_rows, len(labels), settings, seed, epochs)
        seconds = time.perf_counter() - clock
        proba = _predict(module, model, state, x[test])
        result = metrics_mod.evaluate(y[test], proba, labels)
        result.update(train_seconds=seconds, fold=number, train_rows=len(fit_rows), valid_rows=len(valid_rows), **info)
        fold_results.append(result)
        importances.append(_importance(module, model, state, encoder, x[test], y[test], seed))
        test_rows.append((number, test, proba))
        log(f"  {'holdout' if folds == 1 else f'fold {number + 1}/{folds}'}: accuracy {result['accuracy']:.3f}, "
            f"macro-F1 {result['macro_f1']:.3f}, log loss {result['log_loss']:.3f} ({seconds:.1f} s)")  # fmt: skip
        if folds == 1:
            final = (model, state, encoder, fit_rows, valid_rows, info)
    if final is None:
        everything = np.arange(len(frame))
        encoder = fit_encoder(frame, everything)
        x = encoder.transform(frame)
        fit_rows, valid_rows = split.validation(y, groups, everything, seed)
        clock = time.perf_counter()
        model, state, info = _fit(module, x, y, fit_rows, valid_rows, len(labels), settings, seed, epochs)
        info = {**info, "train_seconds": time.perf_counter() - clock}
        log(f"  final model refit on all {len(frame):,} rows ({info['train_seconds']:.1f} s)")
        final = (model, state, encoder, fit_rows, valid_rows, info)

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
        n_features=len(final[2].feature_names),
        feature_version=code_fps.get(FEATURE_MODEL),
        dataset_version=code_fps.get(DATASET_MODEL),
        fingerprints=data_fps,
        split_seed=seed,
        folds=folds,
        split_hash=split.split_hash(parts, frame.beatmap_ids),
        params={**settings, **({"epochs_cap": epochs} if epochs else {})},
    )
    _write_run(run, module, frame, y, final, fold_results, importances, test_rows, code_fps, inputs.warehouse)
    register(run)
    log(f"run {run_id}: accuracy {summary['accuracy']['mean']:.3f}, macro-F1 {summary['macro_f1']['mean']:.3f} "
        f"-> {run.path}")  # fmt: skip
    return run


def _fit(
    module: ModuleType,
    x: np.ndarray,
    y: np.ndarray,
    fit_rows: np.ndarray,
    valid_rows: np.ndarray,
    n_classes: int,
    settings: dict[str, Any],
    seed: int,
    epochs: int | None,
) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """`module.fit` with the library's complaints about the parameters as one clear line."""
    try:
        return module.fit(x[fit_rows], y[fit_rows], x[valid_rows], y[valid_rows], n_classes, settings, seed, epochs)
    except (ValueError, TypeError) as exc:
        raise KiaiError(f"{module.KIND} training failed with these parameters: {str(exc).splitlines()[0]}") from None
    except Exception as exc:
        if type(exc).__name__ != "LightGBMError":
            raise
        raise KiaiError(f"{module.KIND} training failed with these parameters: {str(exc).splitlines()[0]}") from None


def _predict(module: ModuleType, model: Any, state: dict[str, Any], x: np.ndarray) -> np.ndarray:
    """Predicted probabilities; a model whose outputs are not finite diverged in training."""
    proba = module.predict(model, state, x)
    if not np.isfinite(proba).all():
        hint = "lower learning_rate" if "learning_rate" in module.DEFAULT_PARAMS else "change its parameters"
        raise KiaiError(f"the {module.KIND} model diverged: its probabilities are not finite ({hint})")
    return proba


def _importance(
    module: ModuleType, model: Any, state: dict[str, Any], encoder: Encoder, x: np.ndarray, y: np.ndarray, seed: int
) -> dict[str, float]:
    """Per raw column: LightGBM total gain, or for Keras the mean rise in test log loss when it is shuffled."""
    groups = encoder.groups()
    if module.KIND == "lightgbm":
        gain = module.gain_importance(model)
        return {name: float(gain[idx].sum()) for name, idx in groups}
    from sklearn.metrics import log_loss

    classes = list(range(int(model.output_shape[-1])))
    if len(x) < 2:
        return {name: 0.0 for name, _ in groups}
    base = log_loss(y, module.predict(model, state, x), labels=classes)
    rng = np.random.default_rng(seed)
    result = {}
    for name, idx in groups:
        rises = []
        for _ in range(PERMUTATION_REPEATS):
            shuffled = x.copy()
            shuffled[:, idx] = x[rng.permutation(len(x))][:, idx]
            rises.append(log_loss(y, module.predict(model, state, shuffled), labels=classes) - base)
        result[name] = float(np.mean(rises))
    return result


def _mean_importance(importances: list[dict[str, float]]) -> dict[str, float]:
    names = importances[0].keys() if importances else []
    means = {name: float(np.mean([imp.get(name, 0.0) for imp in importances])) for name in names}
    return dict(sorted(means.items(), key=lambda item: -item[1]))


def _write_run(
    run: runs.Run,
    module: ModuleType,
    frame: Frame,
    y: np.ndarray,
    final: tuple[Any, dict[str, Any], Encoder, np.ndarray, np.ndarray, dict[str, Any]],
    fold_results: list[dict[str, Any]],
    importances: list[dict[str, float]],
    test_rows: list[tuple[int, np.ndarray, np.ndarray]],
    code_fps: dict[str, str],
    warehouse: Path,
) -> None:
    """Write everything into a hidden temp folder, then rename it to models/<run_id> in one step (marked as not
    yet registered in `warehouse`)."""
    model, state, encoder, fit_rows, valid_rows, info = final
    run.path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(run.path)
    tmp.mkdir()
    try:
        module.save(model, tmp)
        stored = module.load(tmp)  # predictions come from the model as stored, so `kiai predict` reproduces them
        proba = _predict(module, stored, state, encoder.transform(frame))
        part = np.full(len(frame), "test", dtype=object)
        part[fit_rows], part[valid_rows] = "train", "valid"
        _write_predictions(tmp / runs.PREDICTIONS, frame, run.labels, y, proba, part, None)
        test_index = np.concatenate([rows for _, rows, _ in test_rows])
        test_proba = np.vstack([p for _, _, p in test_rows])
        test_fold = np.concatenate([np.full(len(rows), number) for number, rows, _ in test_rows])
        _write_predictions(
            tmp / "test_predictions.csv", frame, run.labels, y, test_proba, None, (test_index, test_fold)
        )
        class_counts = {label: int((y == i).sum()) for i, label in enumerate(run.labels)}
        manifest = {
            "run_id": run.run_id,
            "kind": run.kind,
            "created_at": run.created_at.isoformat() + "Z",
            "model_file": module.MODEL_FILE,
            "labels": run.labels,
            "features": encoder.feature_names,
            "encoder": encoder.to_json(),
            "preprocessing": state,
            "dataset": {
                "relation": DATASET,
                "hash": run.dataset_hash,
                "hash_of": "sha256 over ids, md5, label and every feature value, rows in beatmap_id order",
                "rows": run.dataset_rows,
                "class_counts": class_counts,
                "ignored_columns": frame.ignored,
                "non_null_share": _non_null_shares(frame),
            },
            "model_versions": {
                "feature_version": run.feature_version,
                "dataset_version": run.dataset_version,
                "code_fingerprints": code_fps,
                "fingerprints": run.fingerprints,
            },
            "split": {
                "seed": run.split_seed,
                "folds": run.folds,
                "strategy": "StratifiedGroupKFold by label, grouped by beatmapset"
                + ("; first of 5 folds as a 20 % test part" if run.folds == 1 else ""),
                "validation": "one sixth of the training rows (same strategy) for early stopping",
                "hash": run.split_hash,
            },
            "stored_model": {
                "trained_on": "the training part of the holdout" if run.folds == 1 else "all rows (refit after CV)",
                "train_rows": len(fit_rows),
                "valid_rows": len(valid_rows),
                **info,
            },
            "params": run.params,
            "library_versions": library_versions(module.versions()),
        }
        write_json(tmp / runs.MANIFEST, manifest)
        summed = np.sum([np.array(f["confusion"]) for f in fold_results], axis=0).tolist()
        write_json(
            tmp / runs.METRICS,
            {
                "summary": run.metrics,
                "labels": run.labels,
                "confusion": summed,
                "folds": fold_results,
                "importance": {
                    "kind": "gain" if run.kind == "lightgbm" else "permutation (rise in test log loss)",
                    "features": _mean_importance(importances),
                },
            },
        )
        runs.mark_unregistered(tmp, run, warehouse)
        os.replace(tmp, run.path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


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
    proba: np.ndarray,
    part: np.ndarray | None,
    folds: tuple[np.ndarray, np.ndarray] | None,
) -> None:
    """One row per beatmap: ids, true label, part (or fold), predicted label, a probability per class
    (repr floats, exact round trip)."""
    rows = np.arange(len(frame)) if folds is None else folds[0]
    lines = []
    header = ["beatmap_id", "beatmapset_id", "md5", "label", "fold" if folds else "part", "predicted"]
    lines.append(header + [f"p_{label}" for label in labels])
    for i, row in enumerate(rows):
        where = str(int(folds[1][i])) if folds else str(part[row])
        probs = proba[i] if folds else proba[row]
        lines.append(
            [str(frame.beatmap_ids[row]), str(frame.beatmapset_ids[row]), frame.md5s[row] or "", labels[y[row]],
             where, labels[int(np.argmax(probs))], *(repr(float(p)) for p in probs)]
        )  # fmt: skip
    import io

    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(lines)
    write_text(path, buffer.getvalue())
