"""File writes for run folders: JSON and text through kiai.files' atomic writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kiai.files import atomic_path, atomic_write

__all__ = ["atomic_path", "read_json", "write_json", "write_text"]


def write_text(target: Path, text: str) -> None:
    atomic_write(target, text)


def write_json(target: Path, data: Any) -> None:
    write_text(target, json.dumps(data, indent=2, sort_keys=False, allow_nan=False) + "\n")


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
