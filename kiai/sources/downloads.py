"""`.osu` downloads: `GET {base}/osu/{id}` into `{folder}/{id}.osu`, checked against the API's md5.

A file already there with the right md5 is skipped. Bodies are written to a temp file and renamed into
place only when they look like an .osu file and their md5 matches, so a crash never leaves a file that
looks valid. Bad bodies are reported to `record` and retried once at the end of the run (and on the next
run). A disk guard stops the run cleanly when free space drops below a threshold."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kiai.progress import progress_bar
from kiai.sources.http import HttpClient, SourceError

CHECK_EVERY = 100
OSU_MAGIC = b"osu file format v"


@dataclass
class Attempt:
    """One download outcome: ok | not_found | not_osu | empty | md5_mismatch | failed."""

    beatmap_id: int
    outcome: str
    http_status: int | None
    expected_md5: str
    got_md5: str | None = None
    size_bytes: int | None = None
    error: str | None = None


@dataclass
class DownloadSummary:
    wanted: int = 0
    skipped: int = 0
    downloaded: int = 0
    failed: dict[int, str] = field(default_factory=dict)
    stopped_low_disk: str | None = None
    valid_paths: list[Path] = field(default_factory=list)


def md5_of(path: Path) -> str | None:
    """md5 of a non-empty file, or None when it is missing or empty."""
    try:
        if path.stat().st_size == 0:
            return None
        return hashlib.md5(path.read_bytes()).hexdigest()
    except OSError:
        return None


def looks_like_osu(body: bytes) -> bool:
    """True when the body starts (after a BOM and blank space) with the .osu header line."""
    head = body[:256].lstrip(b"\xef\xbb\xbf").lstrip()
    return head.startswith(OSU_MAGIC)


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("*.osu") if p.is_file())


def write_atomically(path: Path, body: bytes) -> None:
    """Write to a temp file next to `path`, fsync, then rename over it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    with tmp.open("wb") as handle:
        handle.write(body)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _check(body: bytes, status: int, expected: str, beatmap_id: int) -> Attempt:
    got = hashlib.md5(body).hexdigest() if body else None
    attempt = Attempt(beatmap_id, "ok", status, expected, got, len(body))
    if status == 404:
        attempt.outcome = "not_found"
    elif status != 200:
        attempt.outcome, attempt.error = "failed", f"HTTP {status}"
    elif not body.strip():
        attempt.outcome = "empty"
    elif not looks_like_osu(body):
        attempt.outcome = "not_osu"
    elif got != expected.lower():
        attempt.outcome = "md5_mismatch"
    return attempt


class Downloader:
    def __init__(
        self,
        http: HttpClient,
        base_url: str,
        folder: Path,
        record: Callable[[Attempt], None],
        min_free_mb: float = 500.0,
        say: Callable[[str], None] = print,
    ) -> None:
        self.http, self.base_url, self.folder = http, base_url, folder
        self.record, self.min_free_mb, self.say = record, min_free_mb, say

    def _disk_ok(self, summary: DownloadSummary) -> bool:
        """Print the folder size and free space; False (and a reason) when free space is below the limit."""
        free_mb = shutil.disk_usage(self.folder).free / 2**20
        self.say(f"{self.folder}: {folder_size(self.folder) / 2**20:,.1f} MB in .osu files, {free_mb:,.0f} MB free")
        if free_mb < self.min_free_mb:
            summary.stopped_low_disk = (
                f"stopped: {free_mb:,.0f} MB free on the disk of {self.folder}, below the limit of "
                f"{self.min_free_mb:,.0f} MB (KIAI_MIN_FREE_MB); free some space and run again to continue"
            )
            return False
        return True

    def _one(self, beatmap_id: int, checksum: str) -> Attempt:
        try:
            response = self.http.request("GET", f"{self.base_url}/osu/{beatmap_id}", headers={"Accept": "*/*"})
        except SourceError as exc:
            return Attempt(beatmap_id, "failed", None, checksum, error=str(exc))
        attempt = _check(response.content, response.status_code, checksum, beatmap_id)
        if attempt.outcome == "ok":
            write_atomically(self.folder / f"{beatmap_id}.osu", response.content)
        else:
            self.http.mark_failed()
        return attempt

    def run(self, targets: list[tuple[int, str]]) -> DownloadSummary:
        """Download each (beatmap_id, md5) whose file is missing or differs; retry failures once at the end."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for stale in self.folder.glob(".*.osu.*.part"):  # left by a killed run
            stale.unlink(missing_ok=True)
        summary = DownloadSummary(wanted=len(targets))
        todo = []
        for beatmap_id, checksum in targets:
            path = self.folder / f"{beatmap_id}.osu"
            if md5_of(path) == checksum.lower():
                summary.skipped += 1
                summary.valid_paths.append(path)
            else:
                todo.append((beatmap_id, checksum))
        if todo and not self._disk_ok(summary):
            return summary
        retry: list[tuple[int, str]] = []
        with progress_bar() as bar:
            task = bar.add_task(".osu files", total=len(todo))
            for done, (beatmap_id, checksum) in enumerate(todo, 1):
                attempt = self._one(beatmap_id, checksum)
                self.record(attempt)
                if attempt.outcome == "ok":
                    summary.downloaded += 1
                    summary.valid_paths.append(self.folder / f"{beatmap_id}.osu")
                elif attempt.outcome != "not_found":
                    retry.append((beatmap_id, checksum))
                else:
                    summary.failed[beatmap_id] = attempt.outcome
                bar.advance(task)
                if done % CHECK_EVERY == 0 and not self._disk_ok(summary):
                    return summary
            for beatmap_id, checksum in retry:
                attempt = self._one(beatmap_id, checksum)
                self.record(attempt)
                if attempt.outcome == "ok":
                    summary.downloaded += 1
                    summary.valid_paths.append(self.folder / f"{beatmap_id}.osu")
                else:
                    summary.failed[beatmap_id] = attempt.outcome
        return summary
