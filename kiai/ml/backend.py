"""The model kinds `kiai train` knows: a `Backend` protocol and a registry of its implementations.

A backend is a small class (fit, predict, save, load, importance); the train flow, the run folder, predict and
compare are the same for every kind. The registry names each class by its import path, so a kind's library
(TensorFlow, LightGBM, scikit-learn) is imported only when that kind is used.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np

from kiai.errors import KiaiError
from kiai.ml.encoders import Encoder

PERMUTATION_REPEATS = 2


@dataclass(frozen=True)
class FitData:
    """The rows a model is fit on, and the validation rows it may early-stop on (none for the baselines)."""

    x: np.ndarray
    y: np.ndarray
    x_valid: np.ndarray
    y_valid: np.ndarray
    n_classes: int


@dataclass
class Fitted:
    """A trained model, what its predictions need besides the model (stored in the manifest), and facts about
    the training (epochs run, best iteration...)."""

    model: Any
    state: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


class Backend(Protocol):
    """One model kind. `early_stopping` False: the model is fit on every training row (no validation part)."""

    kind: ClassVar[str]
    model_file: ClassVar[str]
    default_params: ClassVar[dict[str, Any]]
    early_stopping: ClassVar[bool]
    importance_kind: ClassVar[str]

    def versions(self) -> dict[str, str]: ...

    def fit(self, data: FitData, params: dict[str, Any], seed: int, epochs: int | None) -> Fitted:
        """Train on `data` with `params` (the defaults with --param applied); `epochs` caps iterations."""
        ...

    def predict(self, model: Any, state: dict[str, Any], x: np.ndarray) -> np.ndarray: ...

    def save(self, model: Any, folder: Path) -> Path: ...

    def load(self, folder: Path) -> Any: ...

    def importance(self, fitted: Fitted, encoder: Encoder, x: np.ndarray, y: np.ndarray, seed: int) -> dict[str, float]:
        """Per raw column of `encoder`: how much the model relies on it (on the test rows `x`, `y`)."""
        ...

    def library_errors(self) -> tuple[type[BaseException], ...]:
        """The library's exceptions meaning 'these parameters do not work' (reported as one line)."""
        ...


REGISTRY: dict[str, str] = {
    "majority": "kiai.ml.baselines:Majority",
    "logistic": "kiai.ml.baselines:Logistic",
    "lightgbm": "kiai.ml.lgbm:LightGBM",
    "keras": "kiai.ml.keras_mlp:KerasMLP",
}
KINDS = tuple(REGISTRY)
BASELINE_KINDS = ("majority", "logistic")  # the floor every comparison shows (the report draws them as lines)


def backend(kind: str) -> Backend:
    """The backend of a model kind, its module imported now."""
    target = REGISTRY.get(kind)
    if target is None:
        raise KiaiError(f"unknown model kind {kind!r}; choose one of: {', '.join(KINDS)}")
    module, name = target.split(":")
    return getattr(importlib.import_module(module), name)()


def permutation_importance(
    backend: Backend, fitted: Fitted, encoder: Encoder, x: np.ndarray, y: np.ndarray, seed: int
) -> dict[str, float]:
    """Per raw column: the mean rise in test log loss when its encoded features are shuffled together."""
    groups = encoder.groups()
    if len(x) < 2:
        return {name: 0.0 for name, _ in groups}
    base = _log_loss(y, backend.predict(fitted.model, fitted.state, x))
    rng = np.random.default_rng(seed)
    result = {}
    for name, idx in groups:
        rises = []
        for _ in range(PERMUTATION_REPEATS):
            shuffled = x.copy()
            shuffled[:, idx] = x[rng.permutation(len(x))][:, idx]
            rises.append(_log_loss(y, backend.predict(fitted.model, fitted.state, shuffled)) - base)
        result[name] = float(np.mean(rises))
    return result


def _log_loss(y: np.ndarray, proba: np.ndarray) -> float:
    """scikit-learn's log_loss (probabilities clipped to [eps, 1 - eps]; equal to 1e-12) without its input
    validation, which took 20 ms a call: 2 x columns calls per test part."""
    eps = np.finfo(proba.dtype).eps
    return float(np.mean(-np.log(np.clip(proba[np.arange(len(y)), y], eps, 1 - eps))))
