"""The floor under every comparison: `majority` (the training part's class frequencies, whatever the features)
and `logistic` (standardised features, L2-regularised multinomial logistic regression, scikit-learn).

Both are fit on every training row (nothing to early-stop) and stored as JSON, like everything else in a run.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from kiai.ml.backend import FitData, Fitted, permutation_importance
from kiai.ml.encoders import Encoder
from kiai.ml.files import read_json, write_json


class Majority:
    """Predicts the class frequencies of its training rows for every map: what a model knowing nothing about
    the maps scores (its accuracy is the largest class's share, its log loss the labels' entropy)."""

    kind = "majority"
    model_file = "majority.json"
    default_params: ClassVar[dict[str, Any]] = {}
    early_stopping = False
    importance_kind = "none (the same prediction for every map)"

    def versions(self) -> dict[str, str]:
        return {}

    def fit(self, data: FitData, params: dict[str, Any], seed: int, epochs: int | None) -> Fitted:
        counts = np.bincount(data.y, minlength=data.n_classes).astype(np.float64)
        return Fitted((counts / counts.sum()).tolist())

    def predict(self, model: Any, state: dict[str, Any], x: np.ndarray) -> np.ndarray:
        return np.tile(np.asarray(model, dtype=np.float64), (len(x), 1))

    def save(self, model: Any, folder: Path) -> Path:
        target = folder / self.model_file
        write_json(target, {"class_frequencies": model})
        return target

    def load(self, folder: Path) -> Any:
        return read_json(folder / self.model_file)["class_frequencies"]

    def importance(self, fitted: Fitted, encoder: Encoder, x: np.ndarray, y: np.ndarray, seed: int) -> dict[str, float]:
        return {name: 0.0 for name, _ in encoder.groups()}

    def library_errors(self) -> tuple[type[BaseException], ...]:
        return ()


class Logistic:
    """Multinomial logistic regression on standardised features (training-part mean and standard deviation;
    NULL -> the training mean, i.e. 0 after standardising)."""

    kind = "logistic"
    model_file = "logistic.json"
    # ~70 features on a few hundred maps: strong L2 keeps it calibrated (sample world, 5 folds x 3: log loss
    # 1.16 at C 0.03 vs 1.77 at scikit-learn's default C 1, accuracy 0.50 either way)
    default_params: ClassVar[dict[str, Any]] = {"C": 0.03, "max_iter": 2000}
    early_stopping = False
    importance_kind = "permutation (rise in test log loss)"

    def versions(self) -> dict[str, str]:
        return {}  # scikit-learn is recorded for every run

    def fit(self, data: FitData, params: dict[str, Any], seed: int, epochs: int | None) -> Fitted:
        """`epochs` caps the solver's iterations."""
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NULL column: mean of nothing
            mean = np.nanmean(data.x, axis=0)
            std = np.nanstd(data.x, axis=0)
        mean = np.where(np.isfinite(mean), mean, 0.0)
        std = np.where(np.isfinite(std) & (std > 1e-12), std, 1.0)  # a constant column stays 0
        state = {"mean": mean.tolist(), "scale": std.tolist()}
        model = LogisticRegression(C=float(params["C"]), max_iter=int(epochs or params["max_iter"]), random_state=seed)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            model.fit(_standardise(data.x, state), data.y)
        converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
        coefficients = {
            "classes": model.classes_.tolist(),
            "coef": model.coef_.tolist(),
            "intercept": model.intercept_.tolist(),
            "n_classes": data.n_classes,
        }
        return Fitted(coefficients, state, {"iterations": int(np.max(model.n_iter_)), "converged": converged})

    def predict(self, model: Any, state: dict[str, Any], x: np.ndarray) -> np.ndarray:
        """Softmax of the linear scores (a two-class model: the logistic of its one score), in every class's
        column; a class absent from the training rows gets probability 0."""
        z = _standardise(x, state) @ np.asarray(model["coef"], dtype=np.float64).T + np.asarray(model["intercept"])
        if z.shape[1] == 1:
            z = np.hstack([-z, z]) / 2  # softmax of (-z/2, z/2) is (1 - sigmoid(z), sigmoid(z))
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        proba = np.zeros((len(x), int(model["n_classes"])))
        proba[:, model["classes"]] = e / e.sum(axis=1, keepdims=True)
        return proba

    def save(self, model: Any, folder: Path) -> Path:
        target = folder / self.model_file
        write_json(target, model)
        return target

    def load(self, folder: Path) -> Any:
        return read_json(folder / self.model_file)

    def importance(self, fitted: Fitted, encoder: Encoder, x: np.ndarray, y: np.ndarray, seed: int) -> dict[str, float]:
        return permutation_importance(self, fitted, encoder, x, y, seed)

    def library_errors(self) -> tuple[type[BaseException], ...]:
        return ()


def _standardise(x: np.ndarray, state: dict[str, Any]) -> np.ndarray:
    z = (x - np.asarray(state["mean"])) / np.asarray(state["scale"])
    return np.where(np.isnan(z), 0.0, z)
