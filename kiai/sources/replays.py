"""Replay downloads from the osu! API v2, with the client-credentials token:

    GET /api/v2/scores/{score_id}/download                     a score id (the dump's scores.id)
    GET /api/v2/scores/{ruleset}/{legacy_score_id}/download    a stable score known by its legacy id

They go through the same HTTP layer, retries, 429/Retry-After, token renewal and size caps as every
request, on a client of their own paced for the endpoint's much lower limit (osu-web: 10 a minute).
Files land in `{folder}/{score_id}.osr`, or `{folder}/{ruleset}/{legacy_score_id}.osr`, through
kiai.sources.downloads (temp file, renamed into place only when the body passes).

No checksum vouches for a replay, so a body is accepted only when it is a complete replay: it parses to
the end with kiai.osu.replay (the LZMA frame stream decodes fully, the mode is known), a legacy request's
ruleset is the replay's mode, and where the header (or lazer's score info) carries an online score id, it
is the one asked for. osu-web serves a stable score's replay by score id with the *legacy* id in its
header, so for a score id the legacy id is accepted too when it is known (`ReplayRequest.legacy_score_id`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from kiai.config import Limits
from kiai.osu.replay import FIRST_LAZER_VERSION, MODES, ReplayError, parse_replay
from kiai.progress import NULL_REPORTER, Notice, Reporter
from kiai.sources.downloads import Attempt, Downloader, DownloadKind, DownloadSummary
from kiai.sources.http import Auth, HttpClient

SCORE_PATH = "/api/v2/scores/{id}/download"
LEGACY_PATH = "/api/v2/scores/{ruleset}/{{id}}/download"
RULESETS = MODES  # osu | taiko | fruits | mania, as the endpoint names them
NOT_A_REPLAY = "not_replay"


@dataclass(frozen=True)
class ReplayRequest:
    """One replay to fetch: by score id (`ruleset` empty), or by the legacy id of a `ruleset`'s score.
    `legacy_score_id`: a score id's legacy id, when known (a stable replay's header carries it)."""

    score_id: int
    ruleset: str = ""
    legacy_score_id: int | None = None

    @property
    def by_legacy_id(self) -> bool:
        return bool(self.ruleset)

    def describe(self) -> str:
        return f"legacy {self.ruleset} score {self.score_id}" if self.by_legacy_id else f"score {self.score_id}"


def replay_problem(body: bytes, request: ReplayRequest) -> str | None:
    """Why `body` is not the replay `request` asks for; None when it is."""
    try:
        replay = parse_replay(body)
    except ReplayError as exc:
        return f"not a complete replay: {exc}"
    if request.by_legacy_id and MODES[replay.mode] != request.ruleset:
        return f"a {MODES[replay.mode]} replay, not {request.ruleset}"
    online = replay.online_score_id
    info = (replay.score_info or {}).get("online_id")
    if online is None and isinstance(info, int) and not isinstance(info, bool) and info > 0:
        online = info
    expected = {request.score_id, request.legacy_score_id} - {None}
    if online is None or online in expected:
        return None
    hint = ""
    if not request.by_legacy_id and request.legacy_score_id is None and replay.game_version < FIRST_LAZER_VERSION:
        hint = " (a stable replay carries its legacy score id: import the dump's scores so kiai knows it)"
    return f"the replay of score {online}, not of {request.describe()}{hint}"


def replay_kind(ruleset: str, requests: dict[int, ReplayRequest], max_bytes: int) -> DownloadKind:
    """The download kind of replays asked by score id (`ruleset` empty) or by a ruleset's legacy ids."""
    if ruleset and ruleset not in RULESETS:
        raise ValueError(f"unknown ruleset {ruleset!r}; one of {', '.join(RULESETS)}")
    path = LEGACY_PATH.format(ruleset=ruleset) if ruleset else SCORE_PATH

    def problem(body: bytes, item_id: int) -> str | None:
        return replay_problem(body, requests[item_id])

    name = f"{ruleset} replays (legacy ids)" if ruleset else "replays"
    return DownloadKind(name, path, ".osr", max_bytes, problem, NOT_A_REPLAY, needs_auth=True)


class ReplayFetcher:
    """Downloads replays into `folder`; one Downloader per kind of request, all on one paced client."""

    def __init__(
        self,
        http: HttpClient,
        base_url: str,
        auth: Auth,
        folder: Path,
        min_free_mb: float = 500.0,
        max_bytes: int = Limits().replay_file_bytes,
        reporter: Reporter = NULL_REPORTER,
    ) -> None:
        self.http, self.base_url, self.auth, self.folder = http, base_url, auth, folder
        self.min_free_mb, self.max_bytes, self.reporter = min_free_mb, max_bytes, reporter

    def folder_of(self, ruleset: str) -> Path:
        return self.folder / ruleset if ruleset else self.folder

    def path_of(self, request: ReplayRequest) -> Path:
        return self.folder_of(request.ruleset) / f"{request.score_id}.osr"

    def file_in_place(self, request: ReplayRequest) -> bytes | None:
        """The bytes of a file already in place that the download would accept (left by a run killed before
        it could land it), else None."""
        path = self.path_of(request)
        try:
            if not 0 < path.stat().st_size <= self.max_bytes:
                return None
            data = path.read_bytes()
        except OSError:
            return None
        return data if replay_problem(data, request) is None else None

    def eta(self, count: int) -> str:
        """How long `count` replays take at the configured pace, and until when."""
        pacing = self.http.pacing
        per_request = max(pacing.min_gap, 60.0 / pacing.per_minute if pacing.per_minute else 0.0)
        seconds = count * per_request
        hours, minutes = divmod(round(seconds / 60), 60)
        until = datetime.now() + timedelta(seconds=seconds)
        rate = f"{pacing.per_minute} a minute" if pacing.per_minute else f"one every {per_request:g} s"
        took = f"about {hours} h {minutes:02d} min" if seconds >= 60 else "under a minute"
        return f"{count:,} replays to fetch at {rate}: {took} (until about {until:%H:%M})"

    def run(self, requests: list[ReplayRequest], record: Callable[[ReplayRequest, Attempt], None]) -> DownloadSummary:
        """Fetch each request (its file lands in place when the body passes); `record` hears every attempt.
        Failures are in the attempts (the summary's `failed` stays empty)."""
        total = DownloadSummary(wanted=len(requests))
        by_ruleset: dict[str, dict[int, ReplayRequest]] = {}
        for request in requests:
            by_ruleset.setdefault(request.ruleset, {})[request.score_id] = request
        if requests:
            self.reporter.report(Notice(self.eta(len(requests))))
        for ruleset, group in by_ruleset.items():

            def heard(attempt: Attempt, group: dict[int, ReplayRequest] = group) -> None:
                record(group[attempt.beatmap_id], attempt)

            downloader = Downloader(
                self.http,
                self.base_url,
                self.folder_of(ruleset),
                heard,
                self.min_free_mb,
                reporter=self.reporter,
                kind=replay_kind(ruleset, group, self.max_bytes),
                auth=self.auth,
            )
            summary = downloader.run([(score_id, None) for score_id in group])
            total.skipped += summary.skipped
            total.downloaded += summary.downloaded
            total.valid_paths += summary.valid_paths
            if summary.stopped_low_disk:
                total.stopped_low_disk = summary.stopped_low_disk
                break
        return total
