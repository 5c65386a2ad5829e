"""Deterministic splits, stratified by label and grouped by beatmapset (difficulties of a set never straddle)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from kiai.ml.dataset import DatasetError

HOLDOUT_SPLITS = 5  # one fold of five: an 80/20 train/test split
VALIDATION_SPLITS = 6  # one sixth of the training part for early stopping


class PartName(StrEnum):
    """A row's part in a run's predictions.csv."""

    TRAIN = "train"
    VALID = "valid"
    TEST = "test"


def split_label(folds: int, seed: int, repeats: int = 1) -> str:
    """`5-fold seed 0`, `holdout 80/20 seed 0`, `5-fold x 3 seeds 0-2`."""
    what = "holdout 80/20" if folds == 1 else f"{folds}-fold"
    return f"{what} seed {seed}" if repeats == 1 else f"{what} x {repeats} seeds {seed}-{seed + repeats - 1}"


def _folds(y: np.ndarray, groups: np.ndarray, n_splits: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import StratifiedGroupKFold

    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "least populated class has only N members"
        return [(np.sort(a), np.sort(b)) for a, b in splitter.split(np.zeros(len(y)), y, groups)]


def splits(y: np.ndarray, groups: np.ndarray, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) row indices: one 80/20 holdout when `folds` is 1, else `folds`-fold cross-validation."""
    if folds <= 1:
        return _folds(y, groups, HOLDOUT_SPLITS, seed)[:1]
    return _folds(y, groups, folds, seed)


@dataclass(frozen=True)
class Part:
    """One (train, test) part of a split: fold `fold` of repeat `repeat`, which was split with `seed`."""

    repeat: int
    fold: int
    seed: int
    train: np.ndarray
    test: np.ndarray


def repeated_parts(y: np.ndarray, groups: np.ndarray, folds: int, repeats: int, seed: int) -> list[Part]:
    """`repeats` splits of the same kind with seeds seed, seed + 1, ...: R x K parts for K folds (R holdouts for
    `folds` 1). The same arguments give the same parts whatever model is trained on them."""
    return [
        Part(repeat, fold, seed + repeat, train, test)
        for repeat in range(repeats)
        for fold, (train, test) in enumerate(splits(y, groups, folds, seed + repeat))
    ]


def validation(y: np.ndarray, groups: np.ndarray, train: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split the training rows into (fit, validation) the same way, for early stopping: one sixth of them, or
    one part in as many as there are beatmapsets when there are fewer than six."""
    n_groups = len(np.unique(groups[train]))
    if n_groups < 2:
        raise DatasetError(
            f"the training part has {n_groups} beatmapset(s); early stopping needs at least two "
            "(label more beatmapsets)"
        )
    fit, valid = _folds(y[train], groups[train], min(VALIDATION_SPLITS, n_groups), seed + 1)[0]
    return train[fit], train[valid]


def label_codes(values: np.ndarray) -> tuple[list[str], np.ndarray]:
    """The sorted label names and each row's index into them (the classes every model is trained on)."""
    names = sorted({str(v) for v in values})
    index = {name: code for code, name in enumerate(names)}
    return names, np.array([index[str(v)] for v in values], dtype=np.int64)


def part_names(labels: np.ndarray, groups: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Each row's part in the split `kiai train` makes with the same folds and seed: "train"/"test" for the
    holdout, else "fold_K", the fold whose test part holds the row."""
    _, y = label_codes(labels)
    names = np.full(len(y), "train", dtype=object)
    for number, (_, test) in enumerate(splits(y, groups, folds, seed), start=1):
        names[test] = "test" if folds <= 1 else f"fold_{number}"
    return names


def split_hash(parts: list[Part], beatmap_ids: np.ndarray) -> str:
    """A short hash of which beatmaps are in each test part, in order: equal hashes mean the same parts."""
    import hashlib

    digest = hashlib.sha256()
    for test in (part.test for part in parts):
        digest.update(np.sort(beatmap_ids[test]).astype("<i8").tobytes() + b"|")
    return digest.hexdigest()[:12]
