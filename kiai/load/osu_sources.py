"""Where `.osu` bytes come from: files, folders, globs, `.osz` archives and (streamed) tarballs.

No input stops a run: a file larger than the limit, an archive that is not one, a member with a bad CRC
or broken compressed data becomes a *refused* source (its path and the reason, no bytes), which the
loader records in parsed.parse_errors while the other files land. Reads are capped: a member that
declares 1 KB but inflates to gigabytes is read up to the limit and refused.
"""

from __future__ import annotations

import functools
import glob
import hashlib
import lzma
import re
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from kiai.config import MB, Limits
from kiai.errors import KiaiError

ID_NAME_RE = re.compile(r"^(\d+)\.osu$", re.IGNORECASE)
TAR_SUFFIXES = (".tar", ".tar.bz2", ".tbz2", ".tar.gz", ".tgz", ".tar.xz")
# what a broken archive or member raises while it is read
BROKEN = (zipfile.BadZipFile, tarfile.TarError, zlib.error, lzma.LZMAError, EOFError, OSError, ValueError)
UNSUPPORTED = (NotImplementedError, RuntimeError)  # zipfile: an unknown compression method, encryption


@dataclass(frozen=True)
class OsuSource:
    """One `.osu` file's bytes and where they came from; `refused` says why it was not read (bytes empty)."""

    path: str
    data: bytes
    refused: str | None = None

    @functools.cached_property
    def md5(self) -> str:
        """The md5 of the bytes (hex): a file's key in the warehouse."""
        return hashlib.md5(self.data).hexdigest()

    @property
    def id_from_name(self) -> int | None:
        match = ID_NAME_RE.match(self.path.replace("\\", "/").rsplit("/", 1)[-1].split("::")[-1])
        return int(match.group(1)) if match else None


def shown_path(path: str | Path) -> str:
    """A path as text the warehouse can store: bytes of a file name that are not UTF-8 become U+FFFD."""
    return str(path).encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _is_tar(path: Path) -> bool:
    return path.name.lower().endswith(TAR_SUFFIXES)


def is_archive(path: Path) -> bool:
    """An `.osz` or a tarball: how many `.osu` files it holds is unknown until read."""
    return path.name.lower().endswith(".osz") or _is_tar(path)


def expand(
    inputs: list[str | Path],
    suffixes: tuple[str, ...] = (".osu", ".osz"),
    folder: Callable[[Path], list[Path] | None] | None = None,
) -> list[Path]:
    """Files, folders (searched recursively for `suffixes`, unless `folder` says what a folder holds) and glob
    patterns → a list of paths, each folder's and pattern's sorted."""
    paths: list[Path] = []
    for item in inputs:
        text = str(item)
        if any(ch in text for ch in "*?[") and not Path(text).exists():
            matches = sorted(Path(p) for p in glob.glob(text, recursive=True))
            if not matches:
                raise KiaiError(f"no files match {text}")
            paths.extend(p for p in matches if p.is_file())
            continue
        path = Path(text)
        if path.is_dir():
            held = folder(path) if folder is not None else None
            if held is None:
                held = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)
            paths.extend(held)
        elif path.is_file():
            paths.append(path)
        else:
            raise KiaiError(f"no such file or folder: {text}")
    return paths


def read_sources(paths: list[Path], max_bytes: int = Limits().osu_file_bytes) -> Iterator[OsuSource]:
    """Yield every `.osu` in `paths` (archives member by member, tarballs as a stream), each read up to
    `max_bytes`; what cannot be read is yielded refused, with its reason."""
    for path in paths:
        name = path.name.lower()
        if name.endswith(".osz"):
            yield from _read_osz(path, max_bytes)
        elif _is_tar(path):
            yield from _read_tar(path, max_bytes)
        else:
            yield _source(*read_file(path, max_bytes), max_bytes)


def _refused(path: str | Path, reason: str) -> OsuSource:
    return OsuSource(shown_path(path), b"", refused=reason)


def _too_large(path: str, max_bytes: int) -> OsuSource:
    return _refused(path, f"larger than {max_bytes / MB:g} MB, the limit for an .osu file ([limits] osu_file_mb)")


def _source(path: str, data: bytes | None, problem: str | None, max_bytes: int) -> OsuSource:
    """An `.osu` source from what `read_file` or `zip_members` found."""
    if problem is TOO_LARGE:
        return _too_large(path, max_bytes)
    return _refused(path, problem or "unreadable") if data is None else OsuSource(path, data)


def _read_osz(path: Path, max_bytes: int) -> Iterator[OsuSource]:
    for found in zip_members(path, ".osu", max_bytes, ".osz (zip) archive"):
        yield _source(*found, max_bytes)


TOO_LARGE = "too large"
Found = tuple[str, bytes | None, str | None]  # (path as stored, its bytes, or None and why: TOO_LARGE, a reason)


def capped(handle: BinaryIO, max_bytes: int) -> bytes | None:
    """At most `max_bytes` of `handle`; None when there is more (one byte more tells a file that is too large)."""
    data = handle.read(max_bytes + 1)
    return None if len(data) > max_bytes else data


def read_file(path: Path, max_bytes: int) -> Found:
    """A file's bytes, read up to `max_bytes`."""
    try:
        with path.open("rb") as handle:
            data = capped(handle, max_bytes)
    except OSError as exc:
        return shown_path(path), None, f"cannot read: {exc.strerror or exc}"
    return shown_path(path), data, TOO_LARGE if data is None else None


def zip_members(path: Path, suffix: str, max_bytes: int, kind: str = "zip archive") -> Iterator[Found]:
    """(member path, its bytes, None) for each member of a zip archive named `*suffix`, or (path, None,
    problem) for a member or archive that cannot be read; `problem` is TOO_LARGE for a member over
    `max_bytes` (read only up to it, whatever it declares)."""
    try:
        archive = zipfile.ZipFile(path)
    except (*BROKEN, *UNSUPPORTED) as exc:
        yield shown_path(path), None, f"not a valid {kind} ({exc})"
        return
    with archive:
        for info in archive.infolist():
            if not info.filename.lower().endswith(suffix) or info.is_dir():
                continue
            member = shown_path(f"{path}::{info.filename}")
            if info.file_size > max_bytes:
                yield member, None, TOO_LARGE
                continue
            try:
                with archive.open(info) as handle:
                    data = capped(handle, max_bytes)
            except (*BROKEN, *UNSUPPORTED) as exc:  # a bad CRC is found at the end of the member
                yield member, None, f"broken archive member ({exc})"
                continue
            yield member, data, TOO_LARGE if data is None else None


def _read_tar(path: Path, max_bytes: int) -> Iterator[OsuSource]:
    """Stream a tarball (data.ppy.sh's YYYY_MM_DD_osu_files.tar.bz2): nothing is extracted to disk."""
    read = 0
    try:
        with tarfile.open(path, mode="r|*") as archive:
            for member in archive:
                if not member.isfile() or not member.name.lower().endswith(".osu"):
                    continue
                name = f"{path}::{member.name}"
                if member.size > max_bytes:
                    yield _too_large(name, max_bytes)
                    continue
                handle = archive.extractfile(member)
                if handle is not None:
                    data = capped(handle, max_bytes)
                    yield _too_large(name, max_bytes) if data is None else OsuSource(shown_path(name), data)
                    read += 1
    except BROKEN as exc:
        yield _refused(path, f"broken or truncated archive after {read:,} .osu files ({exc})")
