"""Where `.osr` bytes come from: files, folders, globs, zip archives, and published replay dumps.

A published dump is laid out as o!rdr's on Kaggle (`skihikingkevin/ordr-replay-dump`): a folder (or its
`data/` subfolder) holding `index.csv` (one row per replay: replayHash, beatmapHash, performance-*,
beatmap-* columns), `osr/<replay hash>.osr` and `beatmaps/<beatmap md5>.osu`.

As for `.osu` files (kiai.load.osu_sources), no input stops a run: a file over the size limit, an
archive that is not one or a broken member becomes a *refused* source (its path and the reason, no bytes),
which the loader records in parsed.replay_errors while the other replays land.
"""

from __future__ import annotations

import glob
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from kiai.config import MB, Limits
from kiai.errors import KiaiError
from kiai.load.osu_sources import TOO_LARGE, shown_path, zip_members

REPLAY_SUFFIX = ".osr"
ARCHIVE_SUFFIX = ".zip"
DUMP_INDEX = "index.csv"


@dataclass(frozen=True)
class ReplaySource:
    """One `.osr` file's bytes and where they came from; `refused` says why it was not read (bytes empty).
    `score_id` / `legacy_score_id`: the ids it was fetched by, when it was."""

    path: str
    data: bytes
    score_id: int | None = None
    legacy_score_id: int | None = None
    refused: str | None = None


@dataclass(frozen=True)
class ReplayDump:
    """A published replay dump: `root` holds index.csv, osr/ and beatmaps/."""

    root: Path

    @property
    def index(self) -> Path:
        return self.root / DUMP_INDEX

    @property
    def replays(self) -> list[Path]:
        return sorted(p for p in (self.root / "osr").rglob("*") if p.is_file() and _is_replay_input(p))

    @property
    def beatmaps(self) -> Path:
        return self.root / "beatmaps"


@dataclass
class ReplayInputs:
    """What the paths given to `kiai ingest replays` hold: replay files and archives, and dumps."""

    paths: list[Path] = field(default_factory=list)
    dumps: list[ReplayDump] = field(default_factory=list)


def find_dump(folder: Path) -> ReplayDump | None:
    """The dump in `folder` or in its `data/` subfolder (as the Kaggle archive unpacks), if there is one."""
    for root in (folder, folder / "data"):
        if (root / DUMP_INDEX).is_file() and (root / "osr").is_dir():
            return ReplayDump(root)
    return None


def _is_replay_input(path: Path) -> bool:
    return path.suffix.lower() in (REPLAY_SUFFIX, ARCHIVE_SUFFIX)


def expand(inputs: list[str | Path]) -> ReplayInputs:
    """Files, folders (searched recursively for .osr and .zip; a dump folder is a dump) and glob patterns."""
    found = ReplayInputs()
    for item in inputs:
        text = str(item)
        if any(ch in text for ch in "*?[") and not Path(text).exists():
            matches = sorted(Path(p) for p in glob.glob(text, recursive=True))
            if not matches:
                raise KiaiError(f"no files match {text}")
            found.paths.extend(p for p in matches if p.is_file())
            continue
        path = Path(text)
        if path.is_dir():
            dump = find_dump(path)
            if dump is not None:
                found.dumps.append(dump)
                found.paths.extend(dump.replays)
            else:
                found.paths.extend(sorted(p for p in path.rglob("*") if p.is_file() and _is_replay_input(p)))
        elif path.is_file():
            found.paths.append(path)
        else:
            raise KiaiError(f"no such file or folder: {text}")
    return found


def read_sources(paths: list[Path], max_bytes: int = Limits().replay_file_bytes) -> Iterator[ReplaySource]:
    """Yield every replay in `paths` (zip archives member by member), each read up to `max_bytes`; what
    cannot be read is yielded refused, with its reason."""
    for path in paths:
        if path.suffix.lower() == ARCHIVE_SUFFIX:
            yield from _read_zip(path, max_bytes)
            continue
        try:
            with path.open("rb") as handle:
                yield _read_capped(shown_path(path), handle, max_bytes)
        except OSError as exc:
            yield _refused(path, f"cannot read: {exc.strerror or exc}")


def _refused(path: str | Path, reason: str) -> ReplaySource:
    return ReplaySource(shown_path(path), b"", refused=reason)


def _too_large(path: str, max_bytes: int) -> ReplaySource:
    return _refused(path, f"larger than {max_bytes / MB:g} MB, the limit for a replay ([limits] replay_file_mb)")


def _read_capped(path: str, handle: BinaryIO, max_bytes: int) -> ReplaySource:
    data = handle.read(max_bytes + 1)  # one byte more tells a file that is too large
    return _too_large(path, max_bytes) if len(data) > max_bytes else ReplaySource(path, data)


def _read_zip(path: Path, max_bytes: int) -> Iterator[ReplaySource]:
    for member, data, problem in zip_members(path, REPLAY_SUFFIX, max_bytes):
        if problem is TOO_LARGE:
            yield _too_large(member, max_bytes)
        else:
            yield _refused(member, problem) if data is None else ReplaySource(member, data)
