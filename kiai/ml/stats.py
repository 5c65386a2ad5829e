"""95 % intervals for a run's metric and for the difference between two runs on the same test parts.

Repeated K-fold (or repeated holdout): the parts' training sets overlap, so the parts' metrics are not
independent and the plain t interval over them is too narrow. The corrected resampled t-test of Nadeau and
Bengio (2003, "Inference for the generalization error") widens the variance from s²/J to (1/J + n_test/n_train)·s²
over the J parts, with J - 1 degrees of freedom (Bouckaert and Frank 2004 use the same for R x K folds).

A single holdout has one part: the interval comes from a paired bootstrap over its test maps instead, both
runs scored on the same resamples. Resamples draw whole groups (beatmapsets: the split keeps a set's
difficulties together because they are alike) and metrics are recomputed from per-group sums
(`metrics.row_statistics`), so macro-F1 and ECE are resampled exactly, not approximated per map.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kiai.ml.metrics import from_statistics, row_statistics

LEVEL = 0.95
RESAMPLES = 2000
BOOTSTRAP_SEED = 0  # fixed: the same runs give the same interval every time compare runs


@dataclass(frozen=True)
class Interval:
    """An estimate with its 95 % interval."""

    estimate: float
    low: float
    high: float

    @property
    def clear_of_zero(self) -> bool:
        return self.low > 0 or self.high < 0


def corrected_t_interval(values: np.ndarray, test_train_ratio: float, level: float = LEVEL) -> Interval:
    """Mean of per-part values with the Nadeau-Bengio interval: mean ± t(J-1) · sqrt((1/J + ratio) · s²), where
    `test_train_ratio` is n_test / n_train of a part (1/(K-1) for K folds)."""
    from scipy.stats import t

    values = np.asarray(values, dtype=np.float64)
    parts = len(values)
    mean = float(values.mean())
    if parts < 2:
        raise ValueError("the corrected t interval needs at least two parts")
    variance = (1 / parts + test_train_ratio) * float(values.var(ddof=1))
    half = float(t.ppf(0.5 + level / 2, parts - 1)) * variance**0.5
    return Interval(mean, mean - half, mean + half)


def resample_weights(n_groups: int, resamples: int = RESAMPLES, seed: int = BOOTSTRAP_SEED) -> np.ndarray:
    """(resamples, n_groups): how often each group is drawn in each bootstrap resample of n_groups draws."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(n_groups, np.full(n_groups, 1 / n_groups), size=resamples).astype(np.float64)


def group_statistics(y: np.ndarray, proba: np.ndarray, groups: np.ndarray) -> dict[str, np.ndarray]:
    """`metrics.row_statistics` summed per group, groups in sorted order of their ids: (n_groups, k) each."""
    _, index = np.unique(groups, return_inverse=True)
    n_groups = int(index.max()) + 1 if len(index) else 0
    totals = {}
    for name, values in row_statistics(y, proba).items():
        summed = np.zeros((n_groups, values.shape[1]))
        np.add.at(summed, index, values)
        totals[name] = summed
    return totals


def bootstrap_interval(
    metric: str,
    stats: dict[str, np.ndarray],
    weights: np.ndarray,
    baseline: dict[str, np.ndarray] | None = None,
    level: float = LEVEL,
) -> Interval:
    """The metric of the whole sample (minus `baseline`'s, when given: a paired difference), with the percentile
    interval of the same over the resamples; `weights` from `resample_weights`, groups as in `stats`."""

    def value(w: np.ndarray) -> np.ndarray:
        result = from_statistics(metric, {name: w @ s for name, s in stats.items()})
        if baseline is not None:
            result = result - from_statistics(metric, {name: w @ s for name, s in baseline.items()})
        return result

    estimate = float(value(np.ones((1, weights.shape[1])))[0])
    low, high = np.quantile(value(weights), [(1 - level) / 2, (1 + level) / 2])
    return Interval(estimate, float(low), float(high))
