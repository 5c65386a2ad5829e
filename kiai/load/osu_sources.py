"""Where `.osu` bytes come from: files, folders, globs, `.osz` archives and (streamed) tarballs."""

from __future__ import annotations

import glob
import re
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kiai.errors import KiaiError

ID_NAME_RE = re.compile(r"^(\d+)\.osu$", re.IGNORECASE)
TAR_SUFFIXES = (".tar", ".tar.bz2", ".tbz2", ".tar.gz", ".tgz", ".tar.xz")
MAX_OSU_BYTES = 64 * 1024 * 1024  # a bigger "beatmap" is not one; refuse rather than fill memory


@dataclass(frozen=True)
class OsuSource:
    """One `.osu` file's bytes and where they came from."""

    path: str
    data: bytes

    @property
    def id_from_name(self) -> int | None:
        match = ID_NAME_RE.match(self.path.replace("\\", "/").rsplit("/", 1)[-1].split("::")[-1])
        return int(match.group(1)) if match else None


def _is_tar(path: Path) -> bool:
    return path.name.lower().endswith(TAR_SUFFIXES)


def is_archive(path: Path) -> bool:
    """An `.osz` or a tarball: how many `.osu` files it holds is unknown until read."""
    return path.name.lower().endswith(".osz") or _is_tar(path)


def expand(inputs: list[str | Path]) -> list[Path]:
    """Files, folders (searched recursively for .osu/.osz) and glob patterns → a sorted list of paths."""
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
            paths.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in (".osu", ".osz")))
        elif path.is_file():
            paths.append(path)
        else:
            raise KiaiError(f"no such file or folder: {text}")
    return paths


def read_sources(paths: list[Path]) -> Iterator[OsuSource]:
    """Yield every `.osu` in `paths`; archives are read member by member (tarballs as a stream)."""
    for path in paths:
        name = path.name.lower()
        try:
            if name.endswith(".osz"):
                yield from _read_osz(path)
            elif _is_tar(path):
                yield from _read_tar(path)
            else:
                if path.stat().st_size > MAX_OSU_BYTES:
                    raise KiaiError(f"{path}: {path.stat().st_size:,} bytes is too big for an .osu file")
                yield OsuSource(str(path), path.read_bytes())
        except OSError as exc:
            raise KiaiError(f"cannot read {path}: {exc.strerror or exc}") from None


def _read_osz(path: Path) -> Iterator[OsuSource]:
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if info.filename.lower().endswith(".osu") and not info.is_dir():
                    if info.file_size > MAX_OSU_BYTES:
                        raise KiaiError(f"{path}::{info.filename}: too big for an .osu file")
                    yield OsuSource(f"{path}::{info.filename}", archive.read(info))
    except zipfile.BadZipFile as exc:
        raise KiaiError(f"{path}: not a valid .osz (zip) archive ({exc})") from None


def _read_tar(path: Path) -> Iterator[OsuSource]:
    """Stream a tarball (data.ppy.sh's YYYY_MM_DD_osu_files.tar.bz2): nothing is extracted to disk."""
    try:
        with tarfile.open(path, mode="r|*") as archive:
            for member in archive:
                if not member.isfile() or not member.name.lower().endswith(".osu"):
                    continue
                if member.size > MAX_OSU_BYTES:
                    raise KiaiError(f"{path}::{member.name}: too big for an .osu file")
                handle = archive.extractfile(member)
                if handle is not None:
                    yield OsuSource(f"{path}::{member.name}", handle.read())
    except (tarfile.TarError, EOFError) as exc:
        raise KiaiError(f"{path}: broken or truncated archive ({exc})") from None
