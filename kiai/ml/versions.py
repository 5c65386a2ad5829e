"""What a run records about the code and data it used: model fingerprints and library versions."""

from __future__ import annotations

import platform
from importlib import metadata
from typing import Any

import duckdb

FEATURE_MODEL = "beatmap_features"
DATASET_MODEL = "dataset"


def fingerprints(con: duckdb.DuckDBPyConnection) -> tuple[dict[str, str], dict[str, str]]:
    """(current_fingerprints, current_code_fingerprints) of the warehouse."""
    from kiai import transform

    return dict(transform.current_fingerprints(con)), dict(transform.current_code_fingerprints(con))


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
