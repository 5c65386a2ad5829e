"""The Keras model: an MLP with a Normalization layer inside the model, NaN imputed with training means,
early stopping on a validation split, seeded and deterministic on CPU."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from kiai.ml.backend import FitData, Fitted, permutation_importance
from kiai.ml.encoders import Encoder
from kiai.ml.files import atomic_path


def keras_module() -> Any:
    """Import Keras on TensorFlow with TF's C++ start-up logs (oneDNN, CPU features) silenced."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # also: the same numbers on every CPU
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    try:
        # a small MLP: one thread is as fast as two here and leaves the other core free (measured)
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass  # already initialised in this process
    return keras


def _prepare(x: np.ndarray, state: dict[str, Any]) -> np.ndarray:
    """The fixed transform (if any), then NaN -> the training mean of the column, as float32."""
    if state.get("signed_log"):
        x = np.sign(x) * np.log1p(np.abs(x))
    filled = np.where(np.isnan(x), np.asarray(state["impute"], dtype=np.float64)[None, :], x)
    return filled.astype(np.float32)


def _network(keras: Any, fit_x: np.ndarray, n_classes: int, params: dict[str, Any], seed: int) -> Any:
    """Normalization (fixed to the training rows), the hidden Dense + Dropout layers, a softmax output."""
    # Mean and variance of the training part only; a constant column gets variance 1 (Keras would divide by
    # ~1e-7 and turn any other value at prediction time into a huge input).
    variance = fit_x.astype(np.float64).var(axis=0)
    variance = np.where(variance > 1e-12, variance, 1.0)
    normalization = keras.layers.Normalization(
        mean=fit_x.astype(np.float64).mean(axis=0), variance=variance, name="normalization"
    )
    inputs = keras.Input(shape=(fit_x.shape[1],), name="features")
    hidden = normalization(inputs)
    for width in params["hidden"]:
        hidden = keras.layers.Dense(
            int(width), activation="relu", kernel_regularizer=keras.regularizers.l2(float(params["l2"]))
        )(hidden)
        if params["dropout"]:
            hidden = keras.layers.Dropout(float(params["dropout"]), seed=seed)(hidden)
    outputs = keras.layers.Dense(n_classes, activation="softmax", name="probabilities")(hidden)
    return keras.Model(inputs, outputs, name="kiai_mlp")


class KerasMLP:
    """The `keras` backend (see kiai.ml.backend)."""

    kind = "keras"
    model_file = "model.keras"
    default_params: ClassVar[dict[str, Any]] = {
        "hidden": [64, 32],
        "dropout": 0.1,
        "l2": 1e-4,
        "learning_rate": 2e-3,
        "batch_size": 32,
        "epochs": 200,
        "patience": 20,
        "signed_log": True,  # x -> sign(x) * log1p(|x|) before imputation: tames heavy tails (variances, lengths)
    }
    early_stopping = True
    importance_kind = "permutation (rise in test log loss)"

    def versions(self) -> dict[str, str]:
        keras = keras_module()
        import tensorflow as tf

        return {"keras": keras.__version__, "tensorflow": tf.__version__}

    def fit(self, data: FitData, params: dict[str, Any], seed: int, epochs: int | None) -> Fitted:
        """Train; state {"signed_log", "impute": training means}, info {"epochs_run", "best_epoch"}."""
        x_fit, y_fit, x_valid, y_valid = data.x, data.y, data.x_valid, data.y_valid
        keras = keras_module()
        import tensorflow as tf

        keras.utils.set_random_seed(seed)
        tf.config.experimental.enable_op_determinism()
        state: dict[str, Any] = {"signed_log": bool(params["signed_log"])}
        base = np.sign(x_fit) * np.log1p(np.abs(x_fit)) if state["signed_log"] else x_fit
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NULL column: mean of nothing
            means = np.nanmean(base, axis=0)
        state["impute"] = np.where(np.isfinite(means), means, 0.0).tolist()
        fit_x, valid_x = _prepare(x_fit, state), _prepare(x_valid, state)
        model = _network(keras, fit_x, data.n_classes, params, seed)
        model.compile(
            optimizer=keras.optimizers.Adam(float(params["learning_rate"])),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        stop = keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=int(params["patience"]), restore_best_weights=True
        )
        history = model.fit(
            fit_x,
            y_fit,
            validation_data=(valid_x, y_valid),
            epochs=int(epochs or params["epochs"]),
            batch_size=int(params["batch_size"]),
            shuffle=True,
            callbacks=[stop],
            verbose=0,
        )
        losses = history.history["val_loss"]
        info = {"epochs_run": len(losses), "best_epoch": int(np.argmin(losses)) + 1}
        return Fitted(model, state, info)

    def predict(self, model: Any, state: dict[str, Any], x: np.ndarray) -> np.ndarray:
        if len(x) == 0:
            return np.zeros((0, int(model.output_shape[-1])))
        keras = keras_module()
        proba = np.asarray(keras.ops.convert_to_numpy(model(_prepare(x, state), training=False)), dtype=np.float64)
        return proba / proba.sum(axis=1, keepdims=True)  # float32 softmax rows sum to 1 only within ~1e-7

    def save(self, model: Any, folder: Path) -> Path:
        target = folder / self.model_file
        with atomic_path(target, suffix=".keras") as tmp, warnings.catch_warnings():
            # Keras 3 on TF under numpy 2 warns about __array__(copy=...) while saving; nothing we can act on
            warnings.simplefilter("ignore", DeprecationWarning)
            model.save(tmp)
        return target

    def load(self, folder: Path) -> Any:
        keras = keras_module()
        return keras.models.load_model(folder / self.model_file, compile=False)

    def importance(self, fitted: Fitted, encoder: Encoder, x: np.ndarray, y: np.ndarray, seed: int) -> dict[str, float]:
        return permutation_importance(self, fitted, encoder, x, y, seed)

    def library_errors(self) -> tuple[type[BaseException], ...]:
        return ()
