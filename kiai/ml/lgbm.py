"""The LightGBM baseline: multiclass gradient boosting on the raw matrix (NaN = missing), early stopping."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from kiai.ml.backend import Fitted
from kiai.ml.encoders import Encoder
from kiai.ml.files import atomic_path

KIND = "lightgbm"
MODEL_FILE = "lightgbm.txt"
DEFAULT_PARAMS: dict[str, Any] = {
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_data_in_leaf": 5,
    "feature_fraction": 0.9,
    "bagging_fraction": 0.9,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "num_boost_round": 400,
    "early_stopping_rounds": 30,
    "num_threads": 1,  # small matrices: threads cost more than they give (measured 0.1 s vs 0.8-3.7 s a fold)
}


def versions() -> dict[str, str]:
    import lightgbm

    return {"lightgbm": lightgbm.__version__}


def fit(
    x_fit: np.ndarray,
    y_fit: np.ndarray,
    x_valid: np.ndarray,
    y_valid: np.ndarray,
    n_classes: int,
    params: dict[str, Any],
    seed: int,
    epochs: int | None = None,
) -> Fitted:
    """Train; `epochs` caps the boosting rounds (early stopping on the validation rows picks the best)."""
    import lightgbm as lgb

    settings = dict(params)
    rounds = int(epochs or settings.pop("num_boost_round"))
    settings.pop("num_boost_round", None)
    patience = int(settings.pop("early_stopping_rounds"))
    settings.update(
        objective="multiclass",
        num_class=n_classes,
        seed=seed,
        deterministic=True,
        force_row_wise=True,
        verbosity=-1,
    )
    names = [f"f{i}" for i in range(x_fit.shape[1])]  # real names live in the manifest (LightGBM rejects some)
    train = lgb.Dataset(x_fit, label=y_fit, feature_name=names, free_raw_data=False)
    valid = lgb.Dataset(x_valid, label=y_valid, reference=train)
    booster = lgb.train(
        settings,
        train,
        num_boost_round=rounds,
        valid_sets=[valid],
        callbacks=[lgb.early_stopping(patience, verbose=False)],
    )
    best = booster.best_iteration or booster.current_iteration()
    return Fitted(booster, {}, {"best_iteration": int(best), "rounds": int(booster.current_iteration())})


def predict(model: Any, state: dict[str, Any], x: np.ndarray) -> np.ndarray:
    best = getattr(model, "best_iteration", 0) or None
    return np.asarray(model.predict(x, num_iteration=best), dtype=np.float64)


def save(model: Any, path: Path) -> Path:
    target = path / MODEL_FILE
    with atomic_path(target) as tmp:
        model.save_model(str(tmp), num_iteration=model.best_iteration or None)
    return target


def load(path: Path) -> Any:
    import lightgbm as lgb

    return lgb.Booster(model_file=str(path / MODEL_FILE))


def gain_importance(model: Any) -> np.ndarray:
    return np.asarray(model.feature_importance(importance_type="gain"), dtype=np.float64)


class LightGBM:
    """The `lightgbm` backend (see kiai.ml.backend)."""

    kind = KIND
    model_file = MODEL_FILE
    default_params = DEFAULT_PARAMS
    early_stopping = True
    importance_kind = "gain"
    versions = staticmethod(versions)
    fit = staticmethod(fit)
    predict = staticmethod(predict)
    save = staticmethod(save)
    load = staticmethod(load)

    def importance(self, fitted: Fitted, encoder: Encoder, x: np.ndarray, y: np.ndarray, seed: int) -> dict[str, float]:
        """Total gain over the trees, one-hot columns summed into their source column."""
        gain = gain_importance(fitted.model)
        return {name: float(gain[idx].sum()) for name, idx in encoder.groups()}

    def library_errors(self) -> tuple[type[BaseException], ...]:
        import lightgbm

        return (lightgbm.basic.LightGBMError,)
