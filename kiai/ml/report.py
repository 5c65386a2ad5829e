"""`write_report()`: one self-contained HTML file (Jinja2, PNG plots embedded as base64, no network)."""

from __future__ import annotations

import base64
import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from kiai.errors import KiaiError
from kiai.ml import runs
from kiai.ml.compare import METRICS, format_metric, split_label
from kiai.ml.files import read_json, write_text
from kiai.ml.metrics import SUMMARY, reliability
from kiai.ml.versions import short

TEMPLATE = "report.html.j2"
MAX_RUNS = 10
TOP_FEATURES = 15
METRIC_TITLES = dict(
    zip(
        METRICS,
        ("accuracy", "macro-F1", "log loss", "top-2 accuracy", "calibration error (ECE)", "train time (s)"),
        strict=True,
    )
)


def write_report(
    con: duckdb.DuckDBPyConnection, out: Path, *, models_dir: Path, run_ids: list[str] | None = None
) -> Path:
    """Render the report for the given runs (default: the latest ten) into `out`, atomically."""
    chosen = [runs.get_run(con, rid) for rid in run_ids] if run_ids else runs.list_runs(con)[-MAX_RUNS:]
    if not chosen:
        raise KiaiError("no training runs yet: run `kiai train lightgbm` or `kiai train keras` first")
    entries, missing = [], []
    for run in chosen:
        folder = run.path if run.path.is_dir() else Path(models_dir) / run.run_id
        if not (folder / runs.METRICS).is_file():
            missing.append(run.run_id)
            continue
        entries.append(_entry(run, folder))
    if not entries:
        raise KiaiError(f"the folders of runs {', '.join(missing)} are missing from {models_dir}")
    html = _render(entries, missing)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(out, html)
    return out


def _entry(run: runs.Run, folder: Path) -> dict[str, Any]:
    data = read_json(folder / runs.METRICS)
    labels = data["labels"]
    y, proba = _test_predictions(folder / "test_predictions.csv", labels)
    per_class = {
        label: float(np.mean([f["per_class_f1"][label] for f in data["folds"] if label in f["per_class_f1"]]))
        for label in labels
    }
    return {
        "run": run,
        "labels": labels,
        "confusion": np.array(data["confusion"]),
        "per_class_f1": per_class,
        "importance": data.get("importance", {}),
        "reliability": reliability(y, proba) if len(y) else [],
        "cells": {name: format_metric(run.metrics.get(name), run.folds) for name in METRIC_TITLES},
        "split": split_label(run.folds, run.split_seed),
        "dataset": f"{short(run.dataset_hash)} ({run.dataset_rows:,} rows)",
        "feature_version": short(run.feature_version),
    }


def _test_predictions(path: Path, labels: list[str]) -> tuple[np.ndarray, np.ndarray]:
    if not path.is_file():
        return np.zeros(0, dtype=int), np.zeros((0, len(labels)))
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    y = np.array([labels.index(row["label"]) for row in rows], dtype=int)
    proba = np.array([[float(row[f"p_{label}"]) for label in labels] for row in rows]).reshape(len(rows), len(labels))
    return y, proba


def _png(figure: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _plots(entries: list[dict[str, Any]]) -> dict[str, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images: dict[str, Any] = {"confusion": [], "importance": []}
    figure, axis = plt.subplots(figsize=(5.5, 5))
    axis.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    for entry in entries:
        points = entry["reliability"]
        if points:
            axis.plot([p["confidence"] for p in points], [p["accuracy"] for p in points], marker="o",
                      label=entry["run"].run_id)  # fmt: skip
    axis.set(xlabel="confidence (top probability)", ylabel="accuracy", xlim=(0, 1), ylim=(0, 1.02),
             title="Calibration on test parts")  # fmt: skip
    axis.legend(fontsize=7)
    images["calibration"] = _png(figure)

    labels = sorted({label for entry in entries for label in entry["labels"]})
    figure, axis = plt.subplots(figsize=(max(6, 1.2 * len(labels) * max(1, len(entries)) / 2), 4))
    width = 0.8 / len(entries)
    for i, entry in enumerate(entries):
        values = [entry["per_class_f1"].get(label, np.nan) for label in labels]  # no bar where a run lacks it
        axis.bar(np.arange(len(labels)) + i * width - 0.4 + width / 2, values, width, label=entry["run"].run_id)
    axis.set_xticks(np.arange(len(labels)), labels)
    axis.set(ylabel="F1 (test parts)", ylim=(0, 1), title="Per-class F1")
    axis.legend(fontsize=7)
    images["per_class_f1"] = _png(figure)

    for entry in entries:
        matrix, names = entry["confusion"], entry["labels"]
        figure, axis = plt.subplots(figsize=(1.0 + 0.7 * len(names), 0.8 + 0.7 * len(names)))
        rows = matrix.sum(axis=1, keepdims=True)
        axis.imshow(matrix / np.maximum(rows, 1), cmap="Blues", vmin=0, vmax=1)
        for (r, c), count in np.ndenumerate(matrix):
            share = count / max(rows[r, 0], 1)
            axis.text(c, r, str(count), ha="center", va="center", color="white" if share > 0.6 else "black")
        axis.set_xticks(range(len(names)), names, rotation=45, ha="right")
        axis.set_yticks(range(len(names)), names)
        axis.set(xlabel="predicted", ylabel="true", title=entry["run"].run_id)
        images["confusion"].append(_png(figure))

        features = list(entry["importance"].get("features", {}).items())[:TOP_FEATURES]
        figure, axis = plt.subplots(figsize=(6, 0.3 * max(len(features), 1) + 1))
        axis.barh([name for name, _ in reversed(features)], [value for _, value in reversed(features)])
        axis.set(title=f"{entry['run'].run_id}: {entry['importance'].get('kind', 'importance')}")
        images["importance"].append(_png(figure))
    return images


def _render(entries: list[dict[str, Any]], missing: list[str]) -> str:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["j2", "html"])
    )
    return env.get_template(TEMPLATE).render(
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        entries=entries,
        missing=missing,
        metric_titles=METRIC_TITLES,
        summary_metrics=SUMMARY,
        all_labels=sorted({label for entry in entries for label in entry["labels"]}),
        top_features=TOP_FEATURES,
        images=_plots(entries),
    )
