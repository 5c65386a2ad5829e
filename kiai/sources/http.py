"""One HTTP layer for every source: a `requests.Session` with timeouts, retries (exponential backoff with
jitter on 5xx, connection errors, timeouts and broken bodies), `Retry-After` on 429, polite pacing and a
failure budget. Authorization headers are passed per request and never stored, logged or raised."""

from __future__ import annotations

import email.utils
import json
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import requests

from kiai import __version__
from kiai.errors import KiaiError
from kiai.sources.settings import Pacing, RetryPolicy

USER_AGENT = f"kiai/{__version__} (+https://github.com/kiai)"
RETRY_AFTER_CAP = 600.0


class SourceError(KiaiError):
    """A request that kept failing after every retry; work landed before it is kept."""


class Auth(Protocol):
    def headers(self) -> dict[str, str]: ...
    def invalidate(self) -> None: ...


@dataclass
class Fetched:
    """One HTTP response as it lands in `raw.api_responses` (no headers: they may hold tokens)."""

    source: str
    endpoint: str
    params: dict[str, Any]
    http_status: int
    body: str
    fetched_at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(tzinfo=None))

    def json(self) -> Any:
        return json.loads(self.body)


def new_session() -> requests.Session:
    session = requests.Session()
    session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
    return session


class HttpClient:
    """Requests for one source, paced and retried. `sleep`, `clock` and `rng` are injectable for tests."""

    def __init__(
        self,
        pacing: Pacing,
        retry: RetryPolicy,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.pacing, self.retry = pacing, retry
        self.session = session or new_session()
        self.sleep, self.clock, self.rng = sleep, clock, rng
        self._last: float | None = None
        self._last_failed = False
        self._recent: deque[float] = deque()
        self.requests_sent = 0

    def _pace(self) -> None:
        """Wait the jittered gap since the last request (longer after a failure); keep the per-minute cap."""
        waits = []
        if self._last is not None:
            p = self.pacing
            gap = p.failure_gap if self._last_failed else p.min_gap + (p.max_gap - p.min_gap) * self.rng()
            waits.append(self._last + gap - self.clock())
        cap = self.pacing.per_minute
        if cap:
            now = self.clock()
            while self._recent and self._recent[0] <= now - 60.0:
                self._recent.popleft()
            if len(self._recent) >= cap:
                waits.append(self._recent[0] + 60.0 - now)
        wait = max(waits, default=0.0)
        if wait > 0:
            self.sleep(wait)

    def mark_failed(self) -> None:
        """Count the last answer as a failure for pacing (e.g. a body that failed a check)."""
        self._last_failed = True

    def backoff(self, failures: int) -> float:
        """Exponential backoff with jitter: base * 2^(failures-1), capped, times a factor in [0.5, 1]."""
        delay = min(self.retry.backoff_max, self.retry.backoff_base * 2 ** max(failures - 1, 0))
        return delay * (0.5 + 0.5 * self.rng())

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        self._pace()
        self._last = self.clock()
        if self.pacing.per_minute:
            self._recent.append(self._last)
        self.requests_sent += 1
        timeout = self.retry.timeout
        response = self.session.request(method, url, timeout=(min(timeout, 10.0), timeout), **kwargs)
        _ = response.content  # read the whole body now so a broken one fails inside the retry loop
        return response

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Any = None,
        data: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        auth: Auth | None = None,
        expect_json: bool = False,
    ) -> requests.Response:
        """Send until a final answer: 2xx, or a 4xx other than 401 (once re-authed) and 429.

        Raises `SourceError` after `max_retries` retries; its message names the URL and the last problem.
        """
        failures, reauthed = 0, False
        while True:
            problem, wait = None, None
            try:
                full_headers = {**(headers or {}), **(auth.headers() if auth else {})}
                response = self._send(method, url, params=params, data=data, headers=full_headers)
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
            ) as exc:
                problem = f"{type(exc).__name__}"
            except requests.exceptions.ContentDecodingError:
                problem = "undecodable body"
            else:
                status = response.status_code
                if status == 401 and auth is not None and not reauthed:
                    reauthed = True
                    auth.invalidate()
                    self._last_failed = True
                    continue
                if status == 429:
                    problem, wait = "429 Too Many Requests", retry_after(response)
                elif status >= 500:
                    problem = f"HTTP {status}"
                elif expect_json and status == 200 and not _is_json(response):
                    problem = "a body that is not JSON"
                else:
                    self._last_failed = False
                    return response
            self._last_failed = True
            failures += 1
            if failures > self.retry.max_retries:
                raise SourceError(f"{method} {url} failed {failures} times (last: {problem}); giving up")
            self.sleep(wait if wait is not None else self.backoff(failures))


def retry_after(response: requests.Response) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or an HTTP date), capped; None when absent."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = (when - datetime.now(UTC)).total_seconds()
    return min(max(seconds, 0.0), RETRY_AFTER_CAP)


def _is_json(response: requests.Response) -> bool:
    try:
        json.loads(response.content)
    except ValueError:
        return False
    return True
