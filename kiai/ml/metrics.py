"""Classification metrics on predicted probabilities: accuracy, macro-F1, log loss, top-2, calibration."""

from __future__ import annotations

from typing import Any

import numpy as np

SUMMARY = ("accuracy", "macro_f1", "log_loss", "top2_accuracy", "ece")
ECE_BINS = 10


def evaluate(y: np.ndarray, proba: np.ndarray, labels: list[str]) -> dict[str, Any]:
    """Every metric of `SUMMARY`, plus the confusion matrix, per-class F1 (every class, 0 where absent) and
    reliability bins."""
    from sklearn.metrics import confusion_matrix, f1_score, log_loss

    classes = list(range(len(labels)))
    predicted = proba.argmax(axis=1)
    top2 = np.argsort(-proba, axis=1, kind="stable")[:, :2]
    per_class = f1_score(y, predicted, labels=classes, average=None, zero_division=0)
    # Macro-F1 over the classes that occur (truly or predicted) in this part: a class absent from a test fold
    # and never predicted there has no F1, and counting it as 0 would punish the model for the split.
    present = sorted(set(np.unique(y).tolist()) | set(np.unique(predicted).tolist()))
    clipped = np.clip(proba, 1e-15, 1.0)
    return {
        "accuracy": float(np.mean(predicted == y)),
        "macro_f1": float(np.mean(per_class[present])) if present else 0.0,
        "log_loss": float(log_loss(y, clipped / clipped.sum(axis=1, keepdims=True), labels=classes)),
        "top2_accuracy": float(np.mean((top2 == y[:, None]).any(axis=1))),
        "ece": expected_calibration_error(y, proba),
        "n": len(y),
        "confusion": confusion_matrix(y, predicted, labels=classes).tolist(),
        "per_class_f1": {label: float(f) for label, f in zip(labels, per_class, strict=True)},
        "reliability": reliability(y, proba),
    }


def _bins(confidence: np.ndarray) -> np.ndarray:
    return np.minimum((confidence * ECE_BINS).astype(int), ECE_BINS - 1)


def expected_calibration_error(y: np.ndarray, proba: np.ndarray) -> float:
    """Top-label ECE: the row-weighted gap between confidence and accuracy over 10 equal-width bins."""
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y
    bins = _bins(confidence)
    total = 0.0
    for b in range(ECE_BINS):
        mask = bins == b
        if mask.any():
            total += mask.sum() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(total / max(len(y), 1))


def reliability(y: np.ndarray, proba: np.ndarray) -> list[dict[str, float]]:
    """Per non-empty confidence bin: mean confidence, accuracy and row count (for the calibration plot)."""
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y
    bins = _bins(confidence)
    return [
        {
            "confidence": float(confidence[bins == b].mean()),
            "accuracy": float(correct[bins == b].mean()),
            "count": int((bins == b).sum()),
        }
        for b in range(ECE_BINS)
        if (bins == b).any()
    ]


def row_statistics(y: np.ndarray, proba: np.ndarray) -> dict[str, np.ndarray]:
    """Per test row, the additive parts every metric of `SUMMARY` is a function of ((rows, k) arrays): summed
    over any set of rows, `from_statistics` gives that set's metrics exactly as `evaluate` would (compare's
    bootstrap resamples these sums)."""
    n, classes = proba.shape
    predicted = proba.argmax(axis=1)
    top2 = np.argsort(-proba, axis=1, kind="stable")[:, :2]
    clipped = np.clip(proba, 1e-15, 1.0)
    clipped /= clipped.sum(axis=1, keepdims=True)
    truth, guess = np.eye(classes)[y], np.eye(classes)[predicted]
    correct = (predicted == y).astype(np.float64)
    confidence = proba.max(axis=1)
    in_bin = np.eye(ECE_BINS)[_bins(confidence)]
    return {
        "n": np.ones((n, 1)),
        "correct": correct[:, None],
        "top2": (top2 == y[:, None]).any(axis=1).astype(np.float64)[:, None],
        "loss": -np.log(clipped[np.arange(n), y])[:, None],
        "tp": truth * guess,
        "fp": (1 - truth) * guess,
        "fn": truth * (1 - guess),
        "bin_correct": in_bin * correct[:, None],
        "bin_confidence": in_bin * confidence[:, None],
    }


def from_statistics(name: str, totals: dict[str, np.ndarray]) -> np.ndarray:
    """A metric of `SUMMARY` from summed `row_statistics`, each (resamples, k): one value per resample."""
    n = totals["n"][:, 0]
    if name == "accuracy":
        return totals["correct"][:, 0] / n
    if name == "top2_accuracy":
        return totals["top2"][:, 0] / n
    if name == "log_loss":
        return totals["loss"][:, 0] / n
    if name == "ece":
        return np.abs(totals["bin_correct"] - totals["bin_confidence"]).sum(axis=1) / n
    if name == "macro_f1":  # over the classes present (truly or predicted), as `evaluate`
        tp, fp, fn = totals["tp"], totals["fp"], totals["fn"]
        denominator = 2 * tp + fp + fn
        present = denominator > 0
        f1 = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=present)
        return f1.sum(axis=1) / np.maximum(present.sum(axis=1), 1)
    raise ValueError(f"unknown metric {name!r}")


def summarise(folds: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean and sample standard deviation (0 for one fold) of each summary metric over folds."""
    result = {}
    for name in (*SUMMARY, "train_seconds"):
        values = np.array([fold[name] for fold in folds if name in fold], dtype=np.float64)
        if len(values):
            std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
            result[name] = {"mean": float(values.mean()), "std": std}
    return result
