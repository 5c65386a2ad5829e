"""`compare_rows()`: one row per training run with its versions, split and metrics (mean and std over folds)."""

from __future__ import annotations

from typing import Any

import duckdb

from kiai.ml import runs
from kiai.ml.metrics import SUMMARY
from kiai.ml.split import split_label

METRICS = (*SUMMARY, "train_seconds")
SHORT_TITLES = dict(
    zip(METRICS, ("accuracy", "macro-F1", "log loss", "top-2 acc", "ECE", "train s"), strict=True)
)  # for terminal tables; report.METRIC_TITLES has the long ones


def compare_rows(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every registered run, oldest first, as plain JSON-ready dicts."""
    rows = []
    for run in runs.list_runs(con):
        rows.append(
            {
                "run_id": run.run_id,
                "model": run.kind,
                "created_at": run.created_at.isoformat(timespec="seconds") + "Z",
                "dataset_hash": run.dataset_hash,
                "dataset_rows": run.dataset_rows,
                "labels": run.labels,
                "n_features": run.n_features,
                "feature_version": run.feature_version,
                "dataset_version": run.dataset_version,
                # every model's version with the data it read, at training time: e.g. whether score_features
                # (tier 3) had a dump's scores, which the code versions above do not tell
                "model_fingerprints": run.fingerprints,
                "split": split_label(run.folds, run.split_seed, run.repeats),
                "split_seed": run.split_seed,
                "folds": run.folds,
                "split_hash": run.split_hash,
                "metrics": {name: run.metrics[name] for name in METRICS if name in run.metrics},
                "path": str(run.path),
            }
        )
    return rows


def format_metric(value: dict[str, float] | None, folds: int, digits: int = 3) -> str:
    """`0.812` for one split, `0.812 ± 0.020` for folds."""
    if not value:
        return "-"
    text = f"{value['mean']:.{digits}f}"
    return text + f" ± {value['std']:.{digits}f}" if folds > 1 else text
