"""What a run records about the code and data it used: model fingerprints and library versions."""

from __future__ import annotations

import platform
from importlib import metadata
from typing import Any

import duckdb

FEATURE_MODEL = "beatmap_features"
DATASET_MODEL = "dataset"


def fingerprints(con: duckdb.DuckDBPyConnection) -> tuple[dict[str, str], dict[str, str]]:
    """(current_fingerprints, current_code_fingerprints) of the warehouse; the second is {} where unsupported."""
    from kiai import transform

    data = transform.current_fingerprints(con)
    code_fn = getattr(transform, "current_code_fingerprints", None)
    code = code_fn(con) if code_fn is not None else {}
    return dict(data), dict(code or {})


def library_versions(extra: dict[str, str]) -> dict[str, str]:
    result = {"python": platform.python_version()}
    for name in ("kiai", "numpy", "scikit-learn", "duckdb"):
        try:
            result[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            result[name] = "unknown"
    result.update(extra)
    return result


def short(value: Any, width: int = 12) -> str:
    return str(value)[:width] if value else "-"
