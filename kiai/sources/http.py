"""One HTTP layer for every source: a `requests.Session` with timeouts, retries (exponential backoff with
jitter on 5xx, connection errors, timeouts and broken bodies), `Retry-After` on 429, polite pacing and a
failure budget. Authorization headers are passed per request and never stored, logged or raised.

No server can hang a run or fill memory: every try has a total deadline (connect, headers and body; a
server trickling one byte a second is cut off there, which counts as a failure), bodies are streamed and
refused beyond a size cap (gzip and deflate inflated chunk by chunk, so a small bomb stops at the cap),
and a `Retry-After` longer than the configured maximum wait stops the run with one line. Every wait is
announced (`on_wait`) with the time it ends."""

from __future__ import annotations

import contextlib
import email.utils
import json
import random
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import requests
import urllib3
from requests.adapters import HTTPAdapter

from kiai import __version__
from kiai.config import MB, Limits
from kiai.errors import KiaiError
from kiai.sources.settings import Pacing, RetryPolicy

USER_AGENT = f"kiai/{__version__} (+https://github.com/kiai)"
CHUNK = 64 * 1024  # bytes read (and, for encoded bodies, inflated) at a time


class SourceError(KiaiError):
    """A request that kept failing after every retry; work landed before it is kept."""


class BodyTooLarge(SourceError):
    """A body over its size cap: refused as soon as the cap is passed, and not asked again."""

    def __init__(self, url: str, limit: int) -> None:
        super().__init__(f"{url} sent more than {limit / MB:g} MB, the limit for this kind of body ([limits])")
        self.limit = limit


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


@dataclass(frozen=True)
class Reply:
    """A final HTTP answer, its body read whole (and within its cap)."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content)


class _Deadline:
    """A total deadline for one try: when it passes, the socket of the connection the try is using is shut
    down, which wakes any blocked read (a per-read timeout never fires on a server that trickles)."""

    _active = threading.local()  # the deadline of the try this thread is sending

    def __init__(self, seconds: float) -> None:
        self.seconds, self.expired, self._done = seconds, False, False
        self._connection: Any = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        _Deadline._active.current = self
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._done = True
        self._timer.cancel()
        _Deadline._active.current = None

    @classmethod
    def watch(cls, connection: Any) -> None:
        """Called by a connection about to send: the current try's deadline will shut it down."""
        deadline = getattr(cls._active, "current", None)
        if deadline is not None:
            with deadline._lock:
                deadline._connection = connection

    def _expire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            sock = getattr(self._connection, "sock", None)
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


class _WatchedHTTPConnection(urllib3.connection.HTTPConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _Deadline.watch(self)
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(urllib3.connection.HTTPSConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _Deadline.watch(self)
        super().request(*args, **kwargs)


class _WatchedHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_WATCHED_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class _DeadlineAdapter(HTTPAdapter):
    """requests' adapter with connections a `_Deadline` can shut down (also through an HTTP proxy)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _WATCHED_POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = _WATCHED_POOLS
        return manager


def new_session() -> requests.Session:
    session = requests.Session()
    session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
    for prefix in ("http://", "https://"):
        session.mount(prefix, _DeadlineAdapter())
    return session


def _read_body(response: requests.Response, max_bytes: int) -> bytes:
    """The body, inflated chunk by chunk (urllib3 bounds each inflate step), refused past `max_bytes`."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes and not response.headers.get("Content-Encoding"):
        raise BodyTooLarge(response.url, max_bytes)
    chunks, size = [], 0
    for chunk in response.iter_content(CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise BodyTooLarge(response.url, max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


def say_on_stderr(note: str | None) -> None:
    """The default `on_wait`: each wait as one line on stderr."""
    if note:
        print(f"kiai: {note}", file=sys.stderr, flush=True)


class HttpClient:
    """Requests for one source, paced and retried. `sleep`, `clock` and `rng` are injectable for tests.

    Bodies are capped at `max_bytes` unless a request asks for another cap. `on_wait` is told about every
    wait for a retry (a text saying why and until when) and called with None when it is over.
    """

    def __init__(
        self,
        pacing: Pacing,
        retry: RetryPolicy,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
        max_bytes: int = Limits().api_body_bytes,
    ) -> None:
        self.pacing, self.retry, self.max_bytes = pacing, retry, max_bytes
        self.session = session or new_session()
        self.sleep, self.clock, self.rng = sleep, clock, rng
        self.on_wait: Callable[[str | None], None] = say_on_stderr
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

    @contextlib.contextmanager
    def waits_shown(self, on_wait: Callable[[str | None], None]) -> Iterator[None]:
        """Tell `on_wait` (e.g. a progress line) about waits inside the block."""
        previous, self.on_wait = self.on_wait, on_wait
        try:
            yield
        finally:
            self.on_wait = previous

    def mark_failed(self) -> None:
        """Count the last answer as a failure for pacing (e.g. a body that failed a check)."""
        self._last_failed = True

    def backoff(self, failures: int) -> float:
        """Exponential backoff with jitter: base * 2^(failures-1), capped, times a factor in [0.5, 1]."""
        delay = min(self.retry.backoff_max, self.retry.backoff_base * 2 ** max(failures - 1, 0))
        return delay * (0.5 + 0.5 * self.rng())

    def _send(self, method: str, url: str, max_bytes: int, **kwargs: Any) -> Reply:
        """One try, read whole within the deadline (a broken or late body fails inside the retry loop)."""
        self._pace()
        self._last = self.clock()
        if self.pacing.per_minute:
            self._recent.append(self._last)
        self.requests_sent += 1
        timeout = self.retry.timeout
        with _Deadline(self.retry.deadline) as deadline:
            try:
                with self.session.request(
                    method, url, timeout=(min(timeout, 10.0), timeout), stream=True, **kwargs
                ) as response:
                    return Reply(response.status_code, response.headers, _read_body(response, max_bytes))
            except requests.RequestException:
                if deadline.expired:
                    raise _DeadlinePassed(deadline.seconds) from None
                raise

    def _wait(self, seconds: float, why: str) -> None:
        self.on_wait(f"{why}: waiting {seconds:,.0f} s, until {_until(seconds):%H:%M:%S}")
        try:
            self.sleep(seconds)
        finally:
            self.on_wait(None)

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
        max_bytes: int | None = None,
    ) -> Reply:
        """Send until a final answer: 2xx, or a 4xx other than 401 (once re-authed) and 429.

        Raises `SourceError` after `max_retries` retries (its message names the URL and the last problem),
        `BodyTooLarge` for a body over `max_bytes` (default: the client's cap), and `SourceError` at once
        when the server asks to wait longer than the policy's `max_wait`.
        """
        failures, reauthed = 0, False
        while True:
            problem, wait = None, None
            try:
                full_headers = {**(headers or {}), **(auth.headers() if auth else {})}
                response = self._send(
                    method, url, max_bytes or self.max_bytes, params=params, data=data, headers=full_headers
                )
            except _DeadlinePassed as exc:
                problem = str(exc)
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
                    if wait is not None and wait > self.retry.max_wait:
                        raise SourceError(
                            f"{method} {url}: the server asked to wait {wait:,.0f} s "
                            f"(until {_until(wait):%Y-%m-%d %H:%M}), "
                            f"longer than the {self.retry.max_wait:g} s kiai waits "
                            "([http] max_wait, KIAI_HTTP_MAX_WAIT); run the same command again later"
                        )
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
            if wait is not None:
                self._wait(wait, f"{problem}, the server asked to wait (Retry-After)")
            else:
                self._wait(self.backoff(failures), f"{problem}, retry {failures} of {self.retry.max_retries}")


def _until(seconds: float) -> datetime:
    """The local time `seconds` from now (a date far beyond any run for absurd waits)."""
    return datetime.now() + timedelta(seconds=min(seconds, 10**9))


class _DeadlinePassed(Exception):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"no complete answer within {seconds:g} s ([http] deadline)")
        self.seconds = seconds


def retry_after(response: Reply | requests.Response) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or an HTTP date); None when absent."""
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
        seconds = (when.replace(tzinfo=when.tzinfo or UTC) - datetime.now(UTC)).total_seconds()
    return max(seconds, 0.0) if seconds == seconds else None


def _is_json(response: Reply) -> bool:
    try:
        json.loads(response.content)
    except ValueError:
        return False
    return True
