"""File downloads: `GET {base}{kind.path}` into `{folder}/{id}{kind.suffix}`, checked against the API's md5.

Bytes whose md5 equals the API's checksum are the file, whatever they look like (some real .osu files have
no `osu file format` header); the kind's shape check (not HTML, an .osu header) is only for bytes that do
not match or that no checksum vouches for. A file already there that passes the same check is skipped.
Bodies are streamed up to the kind's size cap (`too_large` beyond it), written to a temp file and renamed
into place only when they pass, so a crash never leaves a file that looks valid. Bad bodies are reported
to `record` and retried once at the end of the run (and on the next run). A disk guard stops the run
cleanly when free space drops below a threshold. A kind is a value (`DownloadKind`): another kind of file
(replays) plugs in with its own path, suffix, size cap, shape check and authentication."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kiai.config import Limits
from kiai.progress import NULL_REPORTER, Notice, Reporter, task
from kiai.sources.http import Auth, BodyTooLarge, HttpClient, SourceError

CHECK_EVERY = 100
OSU_MAGIC = b"osu file format v"


def looks_like_osu(body: bytes) -> bool:
    """True when the body starts (after a BOM and blank space) with the .osu header line."""
    head = body[:256].lstrip(b"\xef\xbb\xbf").lstrip()
    return head.startswith(OSU_MAGIC)


def osu_shape_problem(body: bytes, _beatmap_id: int) -> str | None:
    return None if looks_like_osu(body) else "no 'osu file format' header"


@dataclass(frozen=True)
class DownloadKind:
    """One kind of downloaded file: where it is asked (`path` with `{id}`), its file suffix, its size cap,
    the shape check for bytes no checksum vouches for (`shape_problem(body, id)`: why they are not the file
    asked for, None when they are; and the outcome when they are not), and whether the request needs the
    API token."""

    name: str
    path: str
    suffix: str
    max_bytes: int
    shape_problem: Callable[[bytes, int], str | None]
    wrong_shape: str
    needs_auth: bool = False


OSU_FILE = DownloadKind(".osu files", "/osu/{id}", ".osu", Limits().osu_file_bytes, osu_shape_problem, "not_osu")


@dataclass
class Attempt:
    """One download outcome: ok | not_found | not_osu | empty | md5_mismatch | too_large | failed."""

    beatmap_id: int
    outcome: str
    http_status: int | None
    expected_md5: str | None
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


def _already_there(path: Path, checksum: str | None, kind: DownloadKind, item_id: int) -> bool:
    """A file in place that the download would accept: its md5 is the checksum, or without one, its shape."""
    try:
        if not 0 < path.stat().st_size <= kind.max_bytes:
            return False
        data = path.read_bytes()
    except OSError:
        return False
    if checksum:
        return hashlib.md5(data).hexdigest() == checksum.lower()
    return kind.shape_problem(data, item_id) is None


def folder_size(folder: Path, suffix: str = ".osu") -> int:
    return sum(p.stat().st_size for p in folder.glob(f"*{suffix}") if p.is_file())


def write_atomically(path: Path, body: bytes) -> None:
    """Write to a temp file next to `path`, fsync, then rename over it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    with tmp.open("wb") as handle:
        handle.write(body)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def check(body: bytes, status: int, expected: str | None, item_id: int, kind: DownloadKind = OSU_FILE) -> Attempt:
    """The outcome of one answer: the checksum decides when there is one and it matches; the shape otherwise."""
    got = hashlib.md5(body).hexdigest() if body else None
    attempt = Attempt(item_id, "ok", status, expected, got, len(body))
    if status == 404:
        attempt.outcome = "not_found"
    elif status != 200:
        attempt.outcome, attempt.error = "failed", f"HTTP {status}"
    elif expected and got == expected.lower():
        pass  # the file, whatever it looks like
    elif not body.strip():
        attempt.outcome = "empty"
    elif (problem := kind.shape_problem(body, item_id)) is not None:
        attempt.outcome, attempt.error = kind.wrong_shape, problem
    elif expected:
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
        reporter: Reporter = NULL_REPORTER,
        kind: DownloadKind = OSU_FILE,
        auth: Auth | None = None,
    ) -> None:
        self.http, self.base_url, self.folder = http, base_url, folder
        self.record, self.min_free_mb, self.reporter = record, min_free_mb, reporter
        self.kind, self.auth = kind, auth
        if kind.needs_auth and auth is None:
            raise ValueError(f"downloading {kind.name} needs the API token")

    def path_of(self, item_id: int) -> Path:
        return self.folder / f"{item_id}{self.kind.suffix}"

    def _disk_ok(self, summary: DownloadSummary, show: Callable[[str], None] | None = None) -> bool:
        """Show the folder size and free space (a Notice, or `show`: in the progress bar); False (and a reason)
        when free space is below the limit."""
        free_mb = shutil.disk_usage(self.folder).free / 2**20
        used = folder_size(self.folder, self.kind.suffix) / 2**20
        text = f"{used:,.1f} MB in {self.kind.name}, {free_mb:,.0f} MB free"
        if show is not None:
            show(text)
        else:
            self.reporter.report(Notice(f"{self.folder}: {text}"))
        if free_mb < self.min_free_mb:
            summary.stopped_low_disk = (
                f"stopped: {free_mb:,.0f} MB free on the disk of {self.folder}, below the limit of "
                f"{self.min_free_mb:,.0f} MB (KIAI_MIN_FREE_MB); free some space and run again to continue"
            )
            return False
        return True

    def _one(self, item_id: int, checksum: str | None) -> Attempt:
        url = self.base_url + self.kind.path.format(id=item_id)
        try:
            response = self.http.request(
                "GET", url, headers={"Accept": "*/*"}, auth=self.auth, max_bytes=self.kind.max_bytes
            )
        except BodyTooLarge as exc:
            self.http.mark_failed()
            return Attempt(item_id, "too_large", 200, checksum, error=str(exc))
        except SourceError as exc:
            return Attempt(item_id, "failed", None, checksum, error=str(exc))
        attempt = check(response.content, response.status_code, checksum, item_id, self.kind)
        if attempt.outcome == "ok":
            write_atomically(self.path_of(item_id), response.content)
        else:
            self.http.mark_failed()
        return attempt

    def run(self, targets: list[tuple[int, str | None]]) -> DownloadSummary:
        """Download each (id, md5 or None) whose file is missing or differs; retry failures once at the end
        (a body over the size cap is not asked again in the same run)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for stale in self.folder.glob(f".*{self.kind.suffix}.*.part"):  # left by a killed run
            stale.unlink(missing_ok=True)
        summary = DownloadSummary(wanted=len(targets))
        todo = []
        for item_id, checksum in targets:
            if _already_there(self.path_of(item_id), checksum, self.kind, item_id):
                summary.skipped += 1
                summary.valid_paths.append(self.path_of(item_id))
            else:
                todo.append((item_id, checksum))
        if todo and not self._disk_ok(summary):
            return summary
        retry: list[tuple[int, str | None]] = []
        with task(self.reporter, self.kind.name, len(todo)) as progress:

            def in_bar(text: str) -> None:  # the disk check in the bar, not across it
                progress.update(progress.completed, detail=text)

            with self.http.waits_shown(progress.note):
                for done, (item_id, checksum) in enumerate(todo, 1):
                    outcome = self._fetch(item_id, checksum, summary)
                    if outcome in ("not_found", "too_large"):
                        summary.failed[item_id] = outcome
                    elif outcome != "ok":
                        retry.append((item_id, checksum))
                    progress.advance()
                    if done % CHECK_EVERY == 0 and not self._disk_ok(summary, in_bar):
                        return summary
                for item_id, checksum in retry:
                    outcome = self._fetch(item_id, checksum, summary)
                    if outcome != "ok":
                        summary.failed[item_id] = outcome
        return summary

    def _fetch(self, item_id: int, checksum: str | None, summary: DownloadSummary) -> str:
        """Download one file, record the attempt, count it if it landed; its outcome."""
        attempt = self._one(item_id, checksum)
        self.record(attempt)
        if attempt.outcome == "ok":
            summary.downloaded += 1
            summary.valid_paths.append(self.path_of(item_id))
        return attempt.outcome
