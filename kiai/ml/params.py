"""`--param NAME=VALUE` for the model kinds: parsed as TOML, checked against the kind's defaults, coerced to the
default's type, range-checked; names that kiai sets itself are refused."""

from __future__ import annotations

import math
from typing import Any

from kiai.config import parse_assignments
from kiai.errors import KiaiError

# Set by kiai from the data and the command line; an override would be silently replaced.
RESERVED = {
    "seed": "set by --seed",
    "random_state": "set by --seed",
    "objective": "always multiclass",
    "num_class": "the number of categories in the dataset",
    "num_classes": "the number of categories in the dataset",
    "deterministic": "always on",
    "verbosity": "always quiet",
}

# Lower bounds: (bound, inclusive). Anything not listed only has to be finite.
BOUNDS: dict[str, tuple[float, bool]] = {
    "learning_rate": (0.0, False),
    "num_leaves": (2, True),
    "min_data_in_leaf": (0, True),
    "feature_fraction": (0.0, False),
    "bagging_fraction": (0.0, False),
    "bagging_freq": (0, True),
    "lambda_l2": (0.0, True),
    "num_boost_round": (1, True),
    "early_stopping_rounds": (1, True),
    "num_threads": (1, True),
    "C": (0.0, False),
    "max_iter": (1, True),
    "dropout": (0.0, True),
    "l2": (0.0, True),
    "batch_size": (1, True),
    "epochs": (1, True),
    "patience": (1, True),
}
UPPER = {"feature_fraction": 1.0, "bagging_fraction": 1.0, "dropout": 0.95}


def parse_params(items: list[str]) -> dict[str, Any]:
    """`--param NAME=VALUE` pairs (VALUE read as TOML when it parses, else as a string)."""
    return parse_assignments(items, "--param")


def settings(kind: str, defaults: dict[str, Any], params: dict[str, Any] | None) -> dict[str, Any]:
    """The defaults with `params` applied: unknown or reserved names and values of the wrong type or range are
    refused with one clear line."""
    result = dict(defaults)
    for name, value in (params or {}).items():
        if name in RESERVED:
            raise KiaiError(f"{kind} parameter {name!r} cannot be overridden: {RESERVED[name]}")
        if name not in defaults:
            raise KiaiError(f"unknown {kind} parameter {name!r} (known: {', '.join(defaults)})")
        result[name] = _coerce(kind, name, value, defaults[name])
    return result


def _coerce(kind: str, name: str, value: Any, default: Any) -> Any:
    where = f"{kind} parameter {name}"
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise KiaiError(f"{where} must be true or false, not {value!r}")
        return value
    if isinstance(default, list):
        if not isinstance(value, list) or not value:
            raise KiaiError(f"{where} must be a non-empty list like {default!r}, not {value!r}")
        items = [_coerce(kind, f"{name} item", item, default[0]) for item in value]
        if any(item < 1 for item in items):
            raise KiaiError(f"{where} items must be at least 1, not {value!r}")
        return items
    if isinstance(default, int):
        if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, float) and value.is_integer())):
            raise KiaiError(f"{where} must be a whole number, not {value!r}")
        value = int(value)
    elif isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise KiaiError(f"{where} must be a number, not {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise KiaiError(f"{where} must be finite, not {value!r}")
    bound = BOUNDS.get(name)
    if bound is not None and (value < bound[0] or (value == bound[0] and not bound[1])):
        raise KiaiError(f"{where} must be {'at least' if bound[1] else 'above'} {bound[0]}, not {value!r}")
    if name in UPPER and value > UPPER[name]:
        raise KiaiError(f"{where} must be at most {UPPER[name]}, not {value!r}")
    return value
