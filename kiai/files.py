"""Atomic file writes: a uniquely named temp file beside the target, renamed onto it in one step.

Two runs writing the same target never share a temp file, and a failed write leaves no temp file behind.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kiai.errors import KiaiError


def temp_path(target: Path, suffix: str = "") -> Path:
    """A fresh hidden name in `target`'s folder (ending in `suffix`, for writers that go by the suffix)."""
    return target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.tmp{suffix}")


@contextmanager
def atomic_path(target: Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temp path beside `target`; renamed onto `target` if the block succeeds (a failed rename is a
    KiaiError), removed either way."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(target, suffix)
    try:
        yield tmp
        try:
            os.replace(tmp, target)
        except OSError as exc:
            raise KiaiError(f"cannot write {target}: {exc.strerror}") from None
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(target: Path, data: bytes | str) -> Path:
    """Write `data` (str as UTF-8) to `target` atomically; returns `target`."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return target
