"""Where `.osr` bytes come from: files, folders, globs, zip archives, and published replay dumps.

A published dump is laid out as o!rdr's on Kaggle (`skihikingkevin/ordr-replay-dump`): a folder (or its
`data/` subfolder) holding `index.csv` (one row per replay: replayHash, beatmapHash, performance-*,
beatmap-* columns), `osr/<replay hash>.osr` and `beatmaps/<beatmap md5>.osu`.

As for `.osu` files (kiai.load.osu_sources), no input stops a run: a file over the size limit, an
archive that is not one or a broken member becomes a *refused* source (its path and the reason, no bytes),
which the loader records in parsed.replay_errors while the other replays land.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kiai.config import MB, Limits
from kiai.load.osu_sources import TOO_LARGE, read_file, zip_members
from kiai.load.osu_sources import expand as expand_paths

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

    def dump_in(folder: Path) -> list[Path] | None:
        dump = find_dump(folder)
        if dump is None:
            return None
        found.dumps.append(dump)
        return dump.replays

    found.paths = expand_paths(inputs, (REPLAY_SUFFIX, ARCHIVE_SUFFIX), dump_in)
    return found


def read_sources(paths: list[Path], max_bytes: int = Limits().replay_file_bytes) -> Iterator[ReplaySource]:
    """Yield every replay in `paths` (zip archives member by member), each read up to `max_bytes`; what
    cannot be read is yielded refused, with its reason."""
    for path in paths:
        if path.suffix.lower() == ARCHIVE_SUFFIX:
            for found in zip_members(path, REPLAY_SUFFIX, max_bytes):
                yield _source(*found, max_bytes)
        else:
            yield _source(*read_file(path, max_bytes), max_bytes)


def _source(path: str, data: bytes | None, problem: str | None, max_bytes: int) -> ReplaySource:
    if problem is TOO_LARGE:
        problem = f"larger than {max_bytes / MB:g} MB, the limit for a replay ([limits] replay_file_mb)"
    return ReplaySource(path, b"", refused=problem or "unreadable") if data is None else ReplaySource(path, data)
