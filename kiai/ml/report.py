"""`write_report()`: one self-contained HTML file (Jinja2, PNG plots embedded as base64, no network)."""

from __future__ import annotations

import base64
import csv
import io
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from kiai.errors import KiaiError
from kiai.ml import runs
from kiai.ml.backend import BASELINE_KINDS
from kiai.ml.compare import METRICS, Comparison, RunView, compare, format_metric, run_folder
from kiai.ml.files import read_json, write_text
from kiai.ml.metrics import SUMMARY, reliability
from kiai.ml.split import split_label
from kiai.ml.versions import short

TEMPLATE = "report.html.j2"
MODEL_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#e377c2", "#17becf")  # C0-C4, C6, C9
FLOOR_COLOURS = {"majority": "#8c564b", "logistic": "#bcbd22"}  # the floor lines (matplotlib's C5 and C8)
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
    con: duckdb.DuckDBPyConnection,
    out: Path,
    *,
    models_dir: Path,
    run_ids: list[str] | None = None,
    baseline: str | None = None,
) -> Path:
    """Render the report for the given runs (default: the latest ten) into `out`, atomically; differences are
    from `baseline` (default: the best run by accuracy)."""
    chosen = [runs.get_run(con, rid) for rid in run_ids] if run_ids else runs.list_runs(con)[-MAX_RUNS:]
    if not chosen:
        raise KiaiError("no training runs yet: run `kiai train lightgbm` or `kiai train keras` first")
    present = [run for run in chosen if run_folder(run, models_dir) is not None]
    missing = [run.run_id for run in chosen if run_folder(run, models_dir) is None]
    if not present:
        raise KiaiError(f"the folders of runs {', '.join(missing)} are missing from {models_dir}")
    comparison = compare(con, models_dir=models_dir, baseline=baseline, run_ids=[run.run_id for run in present])
    entries = [_entry(view, run_folder(view.run, models_dir)) for view in comparison.views]
    html = _render(comparison, [entry for entry in entries if entry is not None], missing)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(out, html)
    return out


def _entry(view: RunView, folder: Path | None) -> dict[str, Any] | None:
    if folder is None:  # a baseline given by --baseline whose folder is gone: in the tables, not in the plots
        return None
    run = view.run
    data = read_json(folder / runs.METRICS)
    y, proba = _test_predictions(folder / runs.TEST_PREDICTIONS, run.labels)
    return {
        "run": run,
        "view": view,
        "folder": folder,
        "is_floor": run.kind in BASELINE_KINDS,
        "confusion": np.array(data["confusion"]),
        "importance": data.get("importance", {}),
        "reliability": reliability(y, proba) if len(y) else [],
        "cells": {name: _cell(view, name) for name in METRIC_TITLES},
        "split": split_label(run.folds, run.split_seed, run.repeats),
        "dataset": f"{short(run.dataset_hash)} ({run.dataset_rows:,} rows)",
        "feature_version": short(run.feature_version),
    }


def _cell(view: RunView, name: str) -> tuple[str, str]:
    """(mean ± std, its 95 % interval) as two lines of a table cell."""
    digits = 1 if name == "train_seconds" else 3
    interval = view.intervals.get(name)
    spread = f"[{interval.low:.{digits}f}, {interval.high:.{digits}f}]" if interval and name in SUMMARY else ""
    return format_metric(view.run.metrics.get(name), view.parts, digits), spread


def _test_predictions(path: Path, labels: list[str]) -> tuple[np.ndarray, np.ndarray]:
    if not path.is_file():
        return np.zeros(0, dtype=int), np.zeros((0, len(labels)))
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    y = np.array([labels.index(row["label"]) for row in rows], dtype=int)
    proba = np.array([[float(row[f"p_{label}"]) for label in labels] for row in rows]).reshape(len(rows), len(labels))
    return y, proba


def _datasets(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One section per dataset the runs were trained on: maps and beatmapsets per label, difficulties per
    beatmapset, the model versions and the label conflicts, from the first run's folder."""
    sections = []
    for dataset_hash in dict.fromkeys(entry["run"].dataset_hash for entry in entries):
        entry = next(e for e in entries if e["run"].dataset_hash == dataset_hash)
        with (entry["folder"] / runs.PREDICTIONS).open(newline="", encoding="utf-8") as handle:
            rows = [(row["label"], row["beatmapset_id"]) for row in csv.DictReader(handle)]
        manifest = read_json(entry["folder"] / runs.MANIFEST)
        per_set = Counter(beatmapset for _, beatmapset in rows)
        labels = sorted({label for label, _ in rows})
        versions = manifest.get("model_versions", {})
        sections.append(
            {
                "hash": short(dataset_hash),
                "runs": [e["run"].run_id for e in entries if e["run"].dataset_hash == dataset_hash],
                "maps": len(rows),
                "beatmapsets": len(per_set),
                "labels": [
                    {
                        "label": label,
                        "maps": sum(1 for lab, _ in rows if lab == label),
                        "beatmapsets": len({s for lab, s in rows if lab == label}),
                    }
                    for label in labels
                ],
                "difficulties_per_set": sorted(Counter(per_set.values()).items()),
                "feature_version": versions.get("feature_version"),
                "dataset_version": versions.get("dataset_version"),
                "code_fingerprints": versions.get("code_fingerprints", {}),
                "label_conflicts": manifest.get("dataset", {}).get("label_conflicts"),
            }
        )
    return sections


def _png(figure: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _metric_plots(entries: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Per metric: each model run's mean with its 95 % interval; the baselines (majority, logistic) as
    horizontal lines with their interval shaded: the floor a model has to clear."""
    import matplotlib.pyplot as plt

    models = [e for e in entries if not e["is_floor"]]
    floors = [e for e in entries if e["is_floor"]]
    plots = []
    for name in SUMMARY:
        figure, axis = plt.subplots(figsize=(1.6 + 0.9 * max(len(models), 2), 3.2))
        for entry in floors:
            interval = entry["view"].intervals.get(name)
            mean = entry["run"].metrics.get(name, {}).get("mean")
            if mean is None:
                continue
            color = FLOOR_COLOURS.get(entry["run"].kind, "grey")
            axis.axhline(mean, color=color, linestyle="--", linewidth=2, label=f"{entry['run'].kind} (floor)")
            if interval is not None:
                axis.axhspan(interval.low, interval.high, color=color, alpha=0.12)
        for i, entry in enumerate(models):
            interval = entry["view"].intervals.get(name)
            mean = entry["run"].metrics.get(name, {}).get("mean")
            if mean is None:
                continue
            error = [[mean - interval.low], [interval.high - mean]] if interval is not None else None
            axis.errorbar([i], [mean], yerr=error, fmt="o", capsize=4, color=MODEL_COLOURS[i % len(MODEL_COLOURS)])
        axis.set_xticks(range(len(models)), [_short_run(e["run"]) for e in models], rotation=20, ha="right")
        axis.set_xlim(-0.6, max(len(models), 1) - 0.4)
        better = "lower is better" if name in ("log_loss", "ece") else "higher is better"
        axis.set(title=f"{METRIC_TITLES[name]} ({better})", ylabel=METRIC_TITLES[name])
        if floors:
            axis.legend(fontsize=7, loc="best")
        plots.append({"metric": name, "title": METRIC_TITLES[name], "src": _png(figure)})
    return plots


def _short_run(run: runs.Run) -> str:
    return f"{run.kind}\n{run.run_id[:15]}"


def _plots(entries: list[dict[str, Any]]) -> dict[str, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images: dict[str, Any] = {"confusion": [], "importance": [], "metrics": _metric_plots(entries)}
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

    labels = sorted({label for entry in entries for label in entry["run"].labels})
    figure, axis = plt.subplots(figsize=(max(6, 1.2 * len(labels) * max(1, len(entries)) / 2), 4))
    width = 0.8 / len(entries)
    for i, entry in enumerate(entries):
        per_class = entry["view"].per_class
        values = [per_class[label]["f1"] if label in per_class else np.nan for label in labels]  # no bar: no class
        axis.bar(np.arange(len(labels)) + i * width - 0.4 + width / 2, values, width, label=entry["run"].run_id)
    axis.set_xticks(np.arange(len(labels)), labels)
    axis.set(ylabel="F1 (test parts)", ylim=(0, 1), title="Per-class F1")
    axis.legend(fontsize=7)
    images["per_class_f1"] = _png(figure)

    for entry in entries:
        matrix, names = entry["confusion"], entry["run"].labels
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


def _render(comparison: Comparison, entries: list[dict[str, Any]], missing: list[str]) -> str:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["j2", "html"])
    )
    return env.get_template(TEMPLATE).render(
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        comparison=comparison,
        entries=entries,
        paired=[e for e in entries if e["view"].pairing is not None],
        missing=missing,
        metric_titles=METRIC_TITLES,
        summary_metrics=SUMMARY,
        all_labels=sorted({label for entry in entries for label in entry["run"].labels}),
        datasets=_datasets(entries),
        top_features=TOP_FEATURES,
        images=_plots(entries),
    )
