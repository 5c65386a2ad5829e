"""The `.sql` files of a dump, read as streams: plain files, folders, or a `.tar.bz2` never unpacked to disk.

bzip2 is the slow part of reading an archive: about 35 MB/s of output per CPU-second whichever
decompressor runs it (measured here with bench/import_dump.py on the 780 MB benchmark dump: Python's
bz2 36, indexed_bzip2 34, lbzip2 through a pipe 13 with both cores busy). indexed_bzip2 (PyPI) spreads
the work over every idle core, so it comes first; Python's bz2 is the fallback; lbzip2 (a Debian
package) only when asked for. `KIAI_BZ2=python|indexed_bzip2|lbzip2` forces one.
"""

from __future__ import annotations

import bz2
import contextlib
import os
import shutil
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from kiai.errors import KiaiError

ORDER = ("indexed_bzip2", "python", "lbzip2")
CHUNK = 1 << 20


@dataclass
class DumpFile:
    """One `.sql` file: where it came from, its name, and a stream of its bytes."""

    source: Path  # the file, folder or archive the user named
    name: str  # file or archive member name
    stream: BinaryIO


class Meter:
    """Counts input bytes consumed (compressed bytes for archives) for the progress bar."""

    def __init__(self) -> None:
        self.done = 0

    def add(self, n: int) -> None:
        self.done += n


def total_size(paths: list[Path]) -> int:
    return sum(file.stat().st_size for _, file in expand(paths))


def expand(paths: list[Path]) -> list[tuple[Path, Path]]:
    """(named path, file): files named directly, and the `.sql` files (else archives) of named folders."""
    files: list[tuple[Path, Path]] = []
    for path in paths:
        if path.is_dir():
            found = sorted(path.glob("*.sql")) or sorted(path.glob("*.tar.bz2"))
            if not found:
                raise KiaiError(f"{path} holds no .sql files or .tar.bz2 archives")
            files.extend((path, file) for file in found)
        elif path.is_file():
            if not (path.name.endswith(".sql") or path.name.endswith((".tar.bz2", ".tbz2"))):
                raise KiaiError(f"{path} is not a .sql file, a .tar.bz2 archive or a folder of them")
            files.append((path, path))
        else:
            raise KiaiError(f"no such file or folder: {path}")
    return files


def available_decompressors() -> list[str]:
    found = []
    for name in ORDER:
        if name == "lbzip2" and shutil.which("lbzip2"):
            found.append(name)
        elif name == "indexed_bzip2":
            try:
                import indexed_bzip2  # noqa: F401
            except ImportError:
                continue
            found.append(name)
        elif name == "python":
            found.append(name)
    return found


def choose_decompressor() -> str:
    wanted = os.environ.get("KIAI_BZ2", "").strip()
    found = available_decompressors()
    if wanted:
        if wanted not in found:
            raise KiaiError(f"KIAI_BZ2={wanted} is not available here; available: {', '.join(found)}")
        return wanted
    return found[0]  # lbzip2 only when forced: it is never ahead of python in ORDER


class _Counting:
    """A read-only file wrapper that reports bytes read to a Meter."""

    def __init__(self, raw: BinaryIO, meter: Meter) -> None:
        self.raw, self.meter = raw, meter

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.meter.add(len(data))
        return data

    def readable(self) -> bool:
        return True


class _Positioned:
    """Reports an indexed_bzip2 reader's compressed position (in bits) to a Meter."""

    def __init__(self, stream, meter: Meter, base: int) -> None:
        self.stream, self.meter, self.base = stream, meter, base

    def read(self, n: int = -1) -> bytes:
        data = self.stream.read(n)
        self.meter.done = self.base + self.stream.tell_compressed() // 8
        return data

    def readable(self) -> bool:
        return True


@contextmanager
def bz2_stream(path: Path, meter: Meter, method: str | None = None) -> Iterator[BinaryIO]:
    """The decompressed bytes of a .bz2 file as a stream, with the fastest decompressor available."""
    method = method or choose_decompressor()
    with path.open("rb") as raw:
        counted = _Counting(raw, meter)
        if method == "python":
            with bz2.BZ2File(counted) as stream:  # type: ignore[arg-type]
                yield stream
        elif method == "indexed_bzip2":
            import indexed_bzip2

            # It reads the file itself (in parallel); progress comes from its compressed position.
            base = meter.done
            with indexed_bzip2.open(str(path), parallelization=os.cpu_count() or 1) as stream:
                yield _Positioned(stream, meter, base)  # type: ignore[misc]
            meter.done = base + path.stat().st_size
        else:
            with _lbzip2(counted) as stream:
                yield stream


@contextmanager
def _lbzip2(counted: _Counting) -> Iterator[BinaryIO]:
    proc = subprocess.Popen(
        ["lbzip2", "-d", "-c", f"-n{os.cpu_count() or 1}"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )

    def feed() -> None:
        try:
            while data := counted.read(CHUNK):
                proc.stdin.write(data)  # type: ignore[union-attr]
        except (BrokenPipeError, ValueError, OSError):
            pass
        finally:
            with contextlib.suppress(OSError):
                proc.stdin.close()  # type: ignore[union-attr]

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        yield proc.stdout  # type: ignore[misc]
        # Drain what the reader left so that lbzip2 checks the whole stream.
        while proc.stdout.read(CHUNK):  # type: ignore[union-attr]
            pass
    finally:
        if proc.poll() is None and not proc.stdout.closed:  # type: ignore[union-attr]
            proc.stdout.close()  # type: ignore[union-attr]
        rc = proc.wait()
        feeder.join()
    if rc != 0:
        message = proc.stderr.read().decode("utf-8", "replace").strip().splitlines()  # type: ignore[union-attr]
        raise OSError(f"lbzip2: {message[-1] if message else f'exit status {rc}'}")


def dump_files(paths: list[Path], meter: Meter) -> Iterator[DumpFile]:
    """Every `.sql` file in `paths`, in order, each as a stream to be read before asking for the next."""
    for named, path in expand(paths):
        if path.name.endswith(".sql"):
            with path.open("rb") as raw:
                yield DumpFile(named, path.name, _Counting(raw, meter))  # type: ignore[arg-type]
            continue
        found = 0
        member_name = None
        try:
            with bz2_stream(path, meter) as stream, tarfile.open(fileobj=stream, mode="r|", bufsize=CHUNK) as archive:
                for member in archive:
                    if member.isfile() and member.name.endswith(".sql"):
                        handle = archive.extractfile(member)
                        if handle is not None:
                            found += 1
                            member_name = member.name
                            yield DumpFile(path, member.name, _Checked(handle, path, member.name))  # type: ignore[arg-type]
                            member_name = None
        except (tarfile.TarError, EOFError, OSError, RuntimeError) as exc:  # indexed_bzip2 raises RuntimeError
            raise ArchiveError(_truncated(path, member_name, exc)) from None
        if not found:
            raise ArchiveError(f"{path} is not a data.ppy.sh dump: the archive holds no .sql file")


class ArchiveError(KiaiError):
    """An archive that cannot be read to its end."""


def _truncated(path: Path, member: str | None, exc: BaseException) -> str:
    where = f" inside {member}" if member else ""
    detail = str(exc).strip() or type(exc).__name__
    return f"{path}: the archive is truncated{where} ({detail}); nothing was imported"


class _Checked:
    """An archive member's stream: a decompressor's or tar's error while reading it becomes one line."""

    def __init__(self, raw: BinaryIO, path: Path, member: str) -> None:
        self.raw, self.path, self.member = raw, path, member

    def read(self, n: int = -1) -> bytes:
        try:
            return self.raw.read(n)
        except (tarfile.TarError, EOFError, OSError, RuntimeError) as exc:
            raise ArchiveError(_truncated(self.path, self.member, exc)) from None

    def readable(self) -> bool:
        return True
