"""`compare()`: every run with its metrics and their 95 % intervals, each run's paired differences from a baseline
run on the same test parts, per-class F1 and recall, and the classes each run confuses most.

`compare_rows()` is the plain list of runs (versions, split, mean ± std); `Comparison.rows()` adds the rest,
and `to_csv()`/`to_markdown()` render the same numbers for notebooks and PR descriptions.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from kiai.ml import runs, stats
from kiai.ml.files import read_json
from kiai.ml.metrics import SUMMARY
from kiai.ml.split import split_label

METRICS = (*SUMMARY, "train_seconds")
SHORT_TITLES = dict(
    zip(METRICS, ("accuracy", "macro-F1", "log loss", "top-2 acc", "ECE", "train s"), strict=True)
)  # for terminal tables; report.METRIC_TITLES has the long ones
LOWER_IS_BETTER = {"log_loss", "ece", "train_seconds"}
TOP_CONFUSIONS = 3

__all__ = ["METRICS", "SHORT_TITLES", "Comparison", "compare", "compare_rows", "format_metric", "split_label"]


class Verdict(StrEnum):
    """Where a difference's 95 % interval lies, said from the compared run's side."""

    BETTER = "better"  # clear of zero, on the good side
    WORSE = "worse"
    UNCLEAR = "unclear"  # the interval contains zero


class Method(StrEnum):
    CORRECTED_T = "corrected resampled t-test (Nadeau-Bengio)"
    BOOTSTRAP = "paired bootstrap"


def compare_rows(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every registered run, oldest first, as plain JSON-ready dicts."""
    return [_row(run) for run in runs.list_runs(con)]


def _row(run: runs.Run) -> dict[str, Any]:
    return {
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
        "repeats": run.repeats,
        "split_hash": run.split_hash,
        "metrics": {name: run.metrics[name] for name in METRICS if name in run.metrics},
        "path": str(run.path),
    }


def format_metric(value: dict[str, float] | None, folds: int, digits: int = 3) -> str:
    """`0.812` for one split, `0.812 ± 0.020` for folds (`folds`: the number of test parts)."""
    if not value:
        return "-"
    text = f"{value['mean']:.{digits}f}"
    return text + f" ± {value['std']:.{digits}f}" if folds > 1 else text


@dataclass
class TestRows:
    """A single-holdout run's test predictions, rows in beatmap_id order (for the bootstrap)."""

    beatmap_ids: np.ndarray
    groups: np.ndarray
    y: np.ndarray
    proba: np.ndarray


@dataclass
class Evidence:
    """What a run's intervals are computed from: its per-part metrics, and for one part its test rows."""

    parts: list[dict[str, Any]]
    test: TestRows | None = None

    @property
    def test_train_ratio(self) -> float:
        return float(np.mean([p["n"] / max(p["train_rows"] + p["valid_rows"], 1) for p in self.parts]))


@dataclass
class Difference:
    """Run minus baseline for one metric over the shared parts: the mean and its 95 % interval."""

    mean: float
    low: float
    high: float
    verdict: Verdict

    def to_json(self) -> dict[str, Any]:
        return {"mean": self.mean, "low": self.low, "high": self.high, "verdict": str(self.verdict)}


@dataclass
class Pairing:
    """A run against the baseline: paired (with differences per metric) or why not."""

    baseline: str
    method: Method | None = None
    parts: int = 0
    differences: dict[str, Difference] = field(default_factory=dict)
    not_paired: str | None = None
    sample: str = ""  # what was resampled or averaged over, for people: "15 parts", "20 test beatmapsets (61 maps)"

    def to_json(self) -> dict[str, Any]:
        if self.not_paired:
            return {"baseline": self.baseline, "paired": False, "reason": self.not_paired}
        return {
            "baseline": self.baseline,
            "paired": True,
            "method": str(self.method),
            "parts": self.parts,
            "over": self.sample,
            "metrics": {name: d.to_json() for name, d in self.differences.items()},
        }

    def describe(self) -> str:
        if self.not_paired:
            return f"not paired: {self.not_paired}"
        return f"{self.method}, {self.sample}"


@dataclass
class RunView:
    """One run in a comparison."""

    run: runs.Run
    intervals: dict[str, stats.Interval]
    per_class: dict[str, dict[str, float]]
    confusions: list[tuple[str, str, int, float]]  # (true, predicted, count over all parts, share of the true class)
    pairing: Pairing | None  # None: this is the baseline
    missing: str | None = None  # why the run has no intervals or per-class view

    @property
    def parts(self) -> int:
        return self.run.folds * self.run.repeats

    def to_json(self) -> dict[str, Any]:
        row = _row(self.run)
        row["parts"] = self.parts
        row["intervals"] = {
            name: {"mean": i.estimate, "low": i.low, "high": i.high} for name, i in self.intervals.items()
        }
        row["baseline"] = self.pairing is None
        row["difference"] = self.pairing.to_json() if self.pairing else None
        row["per_class"] = self.per_class
        row["top_confusions"] = [{"true": t, "predicted": p, "count": c, "share": s} for t, p, c, s in self.confusions]
        if self.missing:
            row["missing"] = self.missing
        return row


@dataclass
class Comparison:
    baseline: str | None
    views: list[RunView]

    def rows(self) -> list[dict[str, Any]]:
        """One JSON-ready dict per run: `compare_rows`' keys plus parts, intervals, baseline, difference,
        per_class and top_confusions."""
        return [view.to_json() for view in self.views]

    def to_csv(self) -> str:
        """One line per run; metrics as <metric>_mean/_std/_low/_high, differences as <metric>_diff/_diff_low/
        _diff_high/_verdict, per class f1_<label> and recall_<label>."""
        labels = sorted({label for view in self.views for label in view.run.labels})
        header = ["run_id", "model", "created_at", "dataset_hash", "dataset_rows", "feature_version", "split",
                  "folds", "repeats", "split_seed", "split_hash", "parts"]  # fmt: skip
        for name in METRICS:
            header += [f"{name}_mean", f"{name}_std", f"{name}_low", f"{name}_high"]
        header += ["baseline", "pairing"]
        for name in SUMMARY:
            header += [f"{name}_diff", f"{name}_diff_low", f"{name}_diff_high", f"{name}_verdict"]
        header += [f"f1_{label}" for label in labels] + [f"recall_{label}" for label in labels]
        header.append("top_confusions")
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(header)
        for view in self.views:
            run = view.run
            line: list[Any] = [run.run_id, run.kind, _row(run)["created_at"], run.dataset_hash, run.dataset_rows,
                               run.feature_version or "", _row(run)["split"], run.folds, run.repeats,
                               run.split_seed, run.split_hash, view.parts]  # fmt: skip
            for name in METRICS:
                value, interval = run.metrics.get(name), view.intervals.get(name)
                line += [value["mean"] if value else "", value["std"] if value else ""]
                line += [interval.low, interval.high] if interval else ["", ""]
            line += [self.baseline or "", "baseline" if view.pairing is None else view.pairing.describe()]
            for name in SUMMARY:
                diff = view.pairing.differences.get(name) if view.pairing else None
                line += [diff.mean, diff.low, diff.high, str(diff.verdict)] if diff else ["", "", "", ""]
            line += [view.per_class.get(label, {}).get("f1", "") for label in labels]
            line += [view.per_class.get(label, {}).get("recall", "") for label in labels]
            line.append("; ".join(f"{t}>{p}:{c}" for t, p, c, _ in view.confusions))
            writer.writerow(line)
        return buffer.getvalue()

    def to_markdown(self) -> str:
        """The runs, the differences from the baseline and the per-class view as GitHub-flavoured tables."""
        out = _markdown_table(
            ["run", "model", "split", *(SHORT_TITLES[name] for name in METRICS)],
            [[f"`{v.run.run_id}`", v.run.kind, _row(v.run)["split"], *(metric_cell(v, n) for n in METRICS)]
             for v in self.views],
            numbers=range(3, 3 + len(METRICS)),
        )  # fmt: skip
        paired = [view for view in self.views if view.pairing is not None]
        if self.baseline and paired:
            out += ["", f"Differences from the baseline `{self.baseline}` (run - baseline, 95 % interval):", ""]
            out += _markdown_table(
                ["run", "model", "pairing", *(SHORT_TITLES[name] for name in SUMMARY)],
                [[f"`{v.run.run_id}`", v.run.kind, p.describe(), *(difference_cell(p, n) for n in SUMMARY)]
                 for v in paired if (p := v.pairing) is not None],
                numbers=range(3, 3 + len(SUMMARY)),
            )  # fmt: skip
        labels = sorted({label for view in self.views for label in view.run.labels})
        out += ["", "Per class, F1 / recall over the test parts; the most confused classes (true → predicted):", ""]
        out += _markdown_table(
            ["run", *labels, "most confused"],
            [[f"`{v.run.run_id}`", *(per_class_cell(v, label) for label in labels), confusions_cell(v)]
             for v in self.views],
            numbers=range(1, 1 + len(labels)),
        )  # fmt: skip
        return "\n".join(out) + "\n"


def _markdown_table(header: list[str], rows: list[list[str]], numbers: range) -> list[str]:
    """Lines of a table whose columns `numbers` are right-aligned."""
    align = ["---:" if i in numbers else "---" for i in range(len(header))]
    return ["| " + " | ".join(line) + " |" for line in [header, align, *rows]]


def metric_cell(view: RunView, name: str) -> str:
    """`0.640 ± 0.045 [0.601, 0.679]`: mean ± std over the parts and the 95 % interval of the mean."""
    digits = 1 if name == "train_seconds" else 3
    text = format_metric(view.run.metrics.get(name), view.parts, digits)
    interval = view.intervals.get(name)
    if interval is not None and name != "train_seconds":
        text += f" [{interval.low:.{digits}f}, {interval.high:.{digits}f}]"
    return text


def difference_cell(pairing: Pairing, name: str) -> str:
    """`+0.120 [+0.080, +0.160] better`."""
    diff = pairing.differences.get(name)
    if diff is None:
        return "-"
    return f"{diff.mean:+.3f} [{diff.low:+.3f}, {diff.high:+.3f}] {diff.verdict}"


def per_class_cell(view: RunView, label: str) -> str:
    values = view.per_class.get(label)
    return f"{values['f1']:.2f} / {values['recall']:.2f}" if values else "-"


def confusions_cell(view: RunView) -> str:
    return ", ".join(f"{t} → {p} {share:.0%}" for t, p, _, share in view.confusions) or "-"


def compare(
    con: duckdb.DuckDBPyConnection,
    *,
    models_dir: Path | None = None,
    baseline: str | None = None,
    run_ids: list[str] | None = None,
) -> Comparison:
    """Compare the registered runs (or `run_ids`), oldest first, against `baseline` (a run id or unique prefix,
    or a model kind: its latest run; default: `_best`). A run folder not at its registered path is looked for in
    `models_dir`."""
    chosen = [runs.get_run(con, rid) for rid in run_ids] if run_ids else runs.list_runs(con)
    if not chosen:
        return Comparison(None, [])
    of_kind = [run for run in chosen if run.kind == baseline]
    if of_kind:  # a model kind: its latest run
        base = of_kind[-1]
    elif baseline is not None:
        base = runs.get_run(con, baseline)
        if base.run_id not in {run.run_id for run in chosen}:
            chosen.append(base)
    else:
        base = _best(chosen)
    evidence = {run.run_id: _evidence(run, models_dir) for run in chosen}
    views = []
    for run in chosen:
        found = evidence[run.run_id]
        pairing = None if run.run_id == base.run_id else _pair(run, found, base, evidence[base.run_id])
        if isinstance(found, str):
            views.append(RunView(run, {}, {}, [], pairing, missing=found))
            continue
        views.append(RunView(run, _intervals(found), *_per_class(run, found), pairing))
    return Comparison(base.run_id, views)


def _best(chosen: list[runs.Run]) -> runs.Run:
    """The run with the best mean accuracy (then log loss, then the latest), among the runs that share their
    test parts with another run when any do: a baseline nothing can be paired with would show nothing."""
    shared = Counter((run.dataset_hash, run.split_hash) for run in chosen)
    candidates = [run for run in chosen if shared[(run.dataset_hash, run.split_hash)] > 1] or chosen
    return max(candidates, key=lambda run: (_mean(run, "accuracy"), -_mean(run, "log_loss", np.inf), run.created_at))


def _mean(run: runs.Run, name: str, default: float = -np.inf) -> float:
    value = run.metrics.get(name)
    return float(value["mean"]) if value else default


def run_folder(run: runs.Run, models_dir: Path | None) -> Path | None:
    """The run's folder: where it was registered, else models_dir/<run_id>; None when neither has metrics."""
    for folder in (run.path, Path(models_dir) / run.run_id if models_dir else None):
        if folder is not None and (folder / runs.METRICS).is_file():
            return folder
    return None


def _evidence(run: runs.Run, models_dir: Path | None) -> Evidence | str:
    """The run's per-part metrics (from the registry; from metrics.json for runs registered before it kept
    them) and, for a single part, its test rows; a string saying what is missing otherwise."""
    folder = run_folder(run, models_dir)
    parts = run.part_metrics
    if not parts:
        if folder is None:
            return "its per-part metrics are not registered and its run folder is missing"
        parts = read_json(folder / runs.METRICS)["folds"]
    if len(parts) > 1:
        return Evidence(parts)
    if folder is None or not (folder / runs.TEST_PREDICTIONS).is_file():
        return "a single holdout needs its test predictions for the bootstrap, and its run folder is missing"
    return Evidence(parts, _test_rows(folder / runs.TEST_PREDICTIONS, run.labels))


def _test_rows(path: Path, labels: list[str]) -> TestRows:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = sorted(csv.DictReader(handle), key=lambda row: int(row["beatmap_id"]))
    index = {label: i for i, label in enumerate(labels)}
    return TestRows(
        beatmap_ids=np.array([int(row["beatmap_id"]) for row in rows], dtype=np.int64),
        groups=np.array([int(row["beatmapset_id"]) for row in rows], dtype=np.int64),
        y=np.array([index[row["label"]] for row in rows], dtype=np.int64),
        proba=np.array([[float(row[f"p_{label}"]) for label in labels] for row in rows]).reshape(len(rows), -1),
    )


def _intervals(evidence: Evidence) -> dict[str, stats.Interval]:
    """Each metric's 95 % interval: corrected t over the parts, or the bootstrap over one holdout's test sets."""
    if evidence.test is None:
        return {
            name: stats.corrected_t_interval([p[name] for p in evidence.parts], evidence.test_train_ratio)
            for name in SUMMARY
        }
    test = evidence.test
    group_stats = stats.group_statistics(test.y, test.proba, test.groups)
    weights = stats.resample_weights(len(np.unique(test.groups)))
    return {name: stats.bootstrap_interval(name, group_stats, weights) for name in SUMMARY}


def _pair(run: runs.Run, found: Evidence | str, base: runs.Run, base_found: Evidence | str) -> Pairing:
    """The run's differences from the baseline, part by part, or why they cannot be paired."""
    pairing = Pairing(base.run_id)
    if run.dataset_hash != base.dataset_hash:
        pairing.not_paired = "another dataset"
    elif run.split_hash != base.split_hash or run.labels != base.labels:
        pairing.not_paired = "other test parts"
    elif isinstance(found, str) or isinstance(base_found, str):
        pairing.not_paired = found if isinstance(found, str) else f"baseline: {base_found}"
    if pairing.not_paired:
        return pairing
    assert isinstance(found, Evidence) and isinstance(base_found, Evidence)
    pairing.parts = len(found.parts)
    if found.test is None:
        pairing.method, pairing.sample = Method.CORRECTED_T, f"{pairing.parts} parts"
        for name in SUMMARY:
            diffs = np.array([a[name] - b[name] for a, b in zip(found.parts, base_found.parts, strict=True)])
            pairing.differences[name] = _difference(name, stats.corrected_t_interval(diffs, found.test_train_ratio))
        return pairing
    test, base_test = found.test, base_found.test
    assert base_test is not None
    if not np.array_equal(test.beatmap_ids, base_test.beatmap_ids):
        pairing.not_paired = "other test maps"  # the split hash matched, but the stored predictions do not
        return pairing
    n_groups = len(np.unique(test.groups))
    pairing.method, pairing.sample = Method.BOOTSTRAP, f"{n_groups} test beatmapsets ({len(test.y)} maps)"
    weights = stats.resample_weights(n_groups)
    ours = stats.group_statistics(test.y, test.proba, test.groups)
    theirs = stats.group_statistics(base_test.y, base_test.proba, base_test.groups)
    for name in SUMMARY:
        pairing.differences[name] = _difference(name, stats.bootstrap_interval(name, ours, weights, theirs))
    return pairing


def _difference(name: str, interval: stats.Interval) -> Difference:
    verdict = Verdict.UNCLEAR
    if interval.clear_of_zero:
        good = (interval.estimate < 0) == (name in LOWER_IS_BETTER)
        verdict = Verdict.BETTER if good else Verdict.WORSE
    return Difference(interval.estimate, interval.low, interval.high, verdict)


def _per_class(
    run: runs.Run, evidence: Evidence
) -> tuple[dict[str, dict[str, float]], list[tuple[str, str, int, float]]]:
    """F1, recall and support per class from the confusion matrix summed over the parts, and the largest
    off-diagonal cells."""
    matrices = [np.array(p["confusion"]) for p in evidence.parts if "confusion" in p]
    if not matrices:
        return {}, []
    matrix = np.sum(matrices, axis=0)
    tp = np.diag(matrix).astype(np.float64)
    true_counts, predicted_counts = matrix.sum(axis=1), matrix.sum(axis=0)
    per_class = {}
    for i, label in enumerate(run.labels):
        denominator = true_counts[i] + predicted_counts[i]
        per_class[label] = {
            "f1": float(2 * tp[i] / denominator) if denominator else 0.0,
            "recall": float(tp[i] / true_counts[i]) if true_counts[i] else 0.0,
            "support": int(true_counts[i]) // max(run.repeats, 1),
        }
    cells = [
        (run.labels[t], run.labels[p], int(matrix[t, p]), float(matrix[t, p] / true_counts[t]))
        for t in range(len(run.labels))
        for p in range(len(run.labels))
        if t != p and matrix[t, p] > 0
    ]
    cells.sort(key=lambda cell: (-cell[2], cell[0], cell[1]))
    return per_class, cells[:TOP_CONFUSIONS]
