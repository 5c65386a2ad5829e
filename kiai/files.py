"""Atomic file writes and scratch folders.

Atomic writes: a uniquely named temp file beside the target, renamed onto it in one step. Two runs writing
the same target never share a temp file, a failed write leaves no temp file behind and an existing target
as it was, and no write replaces a DuckDB database file or its WAL (the warehouse least of all).

Scratch folders (ingest spools, dump work folders) live beside the warehouse, in `<warehouse>.scratch/`:
on the warehouse's disk, and found again after a kill -9. Each is held by a lock its process keeps (an
flock, released by the kernel when the process dies), so the next run sweeps exactly the abandoned ones.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kiai.errors import KiaiError

try:
    import fcntl
except ImportError:  # Windows: scratch folders are removed by their own run only
    fcntl = None  # type: ignore[assignment]

LOCK_SUFFIX = ".lock"
_held: dict[Path, int] = {}  # scratch folder -> the open, locked descriptor of its lock file

DUCKDB_MAGIC = b"DUCK"  # bytes 8-11 of every DuckDB database file
WAL_SUFFIX = ".wal"


def is_duckdb_file(path: Path) -> bool:
    """Whether `path` is a DuckDB database file, or the write-ahead log beside one."""
    try:
        with path.open("rb") as handle:
            if handle.read(12)[8:12] == DUCKDB_MAGIC:
                return True
    except OSError:
        pass
    if path.name.endswith(WAL_SUFFIX):
        return is_duckdb_file(path.with_name(path.name[: -len(WAL_SUFFIX)]))
    return False


def refuse_database_target(target: Path) -> None:
    """Refuse to write onto a DuckDB database file or its WAL: an output path that names the warehouse
    (a typo, a swapped argument) would otherwise destroy it."""
    if is_duckdb_file(target):
        raise KiaiError(
            f"refusing to write to {target}: it is a DuckDB database file (or its WAL); choose another path"
        )


def temp_path(target: Path, suffix: str = "") -> Path:
    """A fresh hidden name in `target`'s folder (ending in `suffix`, for writers that go by the suffix)."""
    return target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.tmp{suffix}")


@contextmanager
def atomic_path(target: Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temp path beside `target`; renamed onto `target` if the block succeeds (a failed rename is a
    KiaiError), removed either way. A target that is a DuckDB database file or its WAL is refused."""
    refuse_database_target(target)
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


def database_file(con: Any) -> Path | None:
    """The file of a DuckDB connection's current database (None in memory)."""
    rows = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchall()
    return Path(rows[0][0]) if rows and rows[0][0] else None


def scratch_root(warehouse: Path | None) -> Path:
    """`<warehouse>.scratch/` beside the warehouse file; for an in-memory one, kiai-scratch/ in the temp folder."""
    if warehouse is None:
        return Path(tempfile.gettempdir()) / "kiai-scratch"
    return warehouse.with_name(f".{warehouse.name}.scratch")


def make_scratch(warehouse: Path | None, kind: str) -> Path:
    """A new scratch folder for this process (named `kind-…`), after sweeping the abandoned ones.

    Its lock file is locked under a temporary name and renamed into place before the folder is made, so
    a lock a sweep can take is never a live one. Remove the folder with `remove_scratch`.
    """
    root = scratch_root(warehouse)
    sweep_scratch(root)
    folder = root / f"{kind}-{os.getpid()}-{uuid.uuid4().hex[:12]}"
    for attempt in range(3):
        root.mkdir(parents=True, exist_ok=True)
        try:
            _lock(folder)
            break
        except FileNotFoundError:  # another run removed the empty root between our mkdir and our lock
            if attempt == 2:
                raise
    folder.mkdir()
    return folder


def _lock(folder: Path) -> None:
    if fcntl is None:
        return
    lock = folder.with_name(folder.name + LOCK_SUFFIX)
    pending = temp_path(lock)
    descriptor = os.open(pending, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600)
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    os.replace(pending, lock)
    _held[folder] = descriptor


def remove_scratch(folder: Path) -> None:
    """Remove a scratch folder made by `make_scratch`, its lock, and the scratch root once it is empty."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.with_name(folder.name + LOCK_SUFFIX).unlink(missing_ok=True)
    descriptor = _held.pop(folder, None)
    if descriptor is not None:
        os.close(descriptor)
    with contextlib.suppress(OSError):
        folder.parent.rmdir()


def sweep_scratch(root: Path) -> list[Path]:
    """Remove the scratch folders in `root` whose process is gone (their lock can be taken); return them.

    Lock files still under their temporary name are swept the same way (a run killed while making one).
    """
    if fcntl is None or not root.is_dir():
        return []
    swept = []
    for lock in root.iterdir():
        if not lock.is_file():
            continue
        try:
            descriptor = os.open(lock, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            continue  # swept by another run meanwhile
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # held: a live run
        finally:
            os.close(descriptor)
        if lock.name.endswith(LOCK_SUFFIX):
            folder = lock.with_name(lock.name[: -len(LOCK_SUFFIX)])
            shutil.rmtree(folder, ignore_errors=True)
            swept.append(folder)
        lock.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        root.rmdir()  # only when empty
    return swept
