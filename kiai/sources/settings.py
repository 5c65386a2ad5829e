"""Source settings: base URLs, credentials, pacing; via `Config.setting` (env > kiai.toml > default)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from kiai.config import Config, Limits
from kiai.errors import KiaiError

DEFAULT_OSU_BASE_URL = "https://osu.ppy.sh"
DEFAULT_COLLECTOR_BASE_URL = "https://osucollector.com"


class Secret:
    """A string that never shows itself in repr/str/format; call `reveal()` where it must be sent."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return "***"

    def __reduce__(self) -> Any:
        raise TypeError("secrets are not picklable")


@dataclass(frozen=True)
class Pacing:
    """Gaps between requests of one source: a jittered gap, a longer one after a failure, a per-minute cap."""

    min_gap: float = 0.3
    max_gap: float = 0.5
    failure_gap: float = 1.0
    per_minute: int | None = 60


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a failing request (exponential backoff with jitter); `timeout` is per
    read, `deadline` for a whole try (connect, headers, body), `max_wait` the longest Retry-After obeyed."""

    max_retries: int = 5
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    timeout: float = 30.0
    deadline: float = 300.0
    max_wait: float = 300.0


@dataclass(frozen=True)
class SourceSettings:
    osu_base_url: str = DEFAULT_OSU_BASE_URL
    collector_base_url: str = DEFAULT_COLLECTOR_BASE_URL
    client_id: str | None = None
    client_secret: Secret | None = field(default=None, repr=False)
    retry: RetryPolicy = RetryPolicy()
    api_pacing: Pacing = Pacing()
    collector_pacing: Pacing = Pacing(min_gap=1.0, max_gap=1.5, failure_gap=2.0, per_minute=None)
    download_pacing: Pacing = Pacing(min_gap=0.3, max_gap=0.3, failure_gap=1.0, per_minute=None)
    # osu-web throttles replay downloads to 10 a minute: one every 6 s
    replay_pacing: Pacing = Pacing(min_gap=6.0, max_gap=6.0, failure_gap=6.0, per_minute=10)
    min_free_mb: float = 500.0
    limits: Limits = field(default_factory=Limits)

    def credentials(self) -> tuple[str, Secret]:
        """The client id and secret, or a clear error naming where to put them."""
        if not self.client_id or self.client_secret is None:
            raise KiaiError(
                "osu! API credentials missing: set KIAI_OSU_CLIENT_ID and KIAI_OSU_CLIENT_SECRET "
                "or [osu] client_id / client_secret in kiai.toml"
            )
        return self.client_id, self.client_secret


def _number(config: Config, env: str, key: str, default: float) -> float:
    return config.number(env, "http", key, default)


def _pacing(config: Config, prefix: str, default: Pacing) -> Pacing:
    env = f"KIAI_HTTP_{prefix.upper()}_"
    per_minute = _number(config, env + "PER_MINUTE", f"{prefix}_per_minute", default.per_minute or 0)
    return Pacing(
        min_gap=_number(config, env + "MIN_GAP", f"{prefix}_min_gap", default.min_gap),
        max_gap=_number(config, env + "MAX_GAP", f"{prefix}_max_gap", default.max_gap),
        failure_gap=_number(config, env + "FAILURE_GAP", f"{prefix}_failure_gap", default.failure_gap),
        per_minute=int(per_minute) or None,
    )


def _replay_pacing(config: Config, default: Pacing) -> Pacing:
    """The replay endpoint's pacing: `replay_per_minute` (default 10) spreads requests evenly, one every
    60 / rate seconds, unless the gaps are set too."""
    rate = _number(config, "KIAI_HTTP_REPLAY_PER_MINUTE", "replay_per_minute", default.per_minute or 0)
    gap = 60.0 / rate if rate else 0.0
    return _pacing(config, "replay", Pacing(gap, gap, max(gap, 1.0), int(rate) or None))


def _url(config: Config, env: str, section: str, default: str) -> str:
    value = str(config.setting(env, section, "base_url", default)).rstrip("/")
    if not value.startswith(("http://", "https://")):
        raise KiaiError(f"{env} / [{section}] base_url must start with http:// or https://, got {value!r}")
    return value


def is_loopback(url: str) -> bool:
    """Whether a URL's host is this machine (127.0.0.0/8, ::1, localhost), where plain HTTP never leaves it."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _osu_url(config: Config, default: str) -> str:
    """The osu! API base URL: plain http:// only on loopback (the sandbox) or when explicitly allowed, since
    the client secret and the tokens would cross the network in clear text."""
    url = _url(config, "KIAI_OSU_BASE_URL", "osu", default)
    allowed = str(config.setting("KIAI_OSU_ALLOW_PLAIN_HTTP", "osu", "allow_plain_http", False)).lower()
    if url.startswith("http://") and not is_loopback(url) and allowed not in ("1", "true", "yes"):
        raise KiaiError(
            f"refusing the osu! API at {url}: plain http:// would send the client secret in clear text; use "
            "https://, or set [osu] allow_plain_http = true (KIAI_OSU_ALLOW_PLAIN_HTTP=1) if you must"
        )
    return url


def load_settings(config: Config) -> SourceSettings:
    """Resolve every source setting; see kiai.toml.example for the names."""
    base = SourceSettings()
    secret = config.setting("KIAI_OSU_CLIENT_SECRET", "osu", "client_secret")
    client_id = config.setting("KIAI_OSU_CLIENT_ID", "osu", "client_id")
    retry = RetryPolicy(
        max_retries=int(_number(config, "KIAI_HTTP_MAX_RETRIES", "max_retries", base.retry.max_retries)),
        backoff_base=_number(config, "KIAI_HTTP_BACKOFF_BASE", "backoff_base", base.retry.backoff_base),
        backoff_max=_number(config, "KIAI_HTTP_BACKOFF_MAX", "backoff_max", base.retry.backoff_max),
        timeout=_number(config, "KIAI_HTTP_TIMEOUT", "timeout", base.retry.timeout),
        deadline=_number(config, "KIAI_HTTP_DEADLINE", "deadline", base.retry.deadline),
        max_wait=_number(config, "KIAI_HTTP_MAX_WAIT", "max_wait", base.retry.max_wait),
    )
    return SourceSettings(
        osu_base_url=_osu_url(config, base.osu_base_url),
        collector_base_url=_url(config, "KIAI_COLLECTOR_BASE_URL", "collector", base.collector_base_url),
        client_id=str(client_id) if client_id not in (None, "") else None,
        client_secret=Secret(str(secret)) if secret not in (None, "") else None,
        retry=retry,
        api_pacing=_pacing(config, "api", base.api_pacing),
        collector_pacing=_pacing(config, "collector", base.collector_pacing),
        download_pacing=_pacing(config, "download", base.download_pacing),
        replay_pacing=_replay_pacing(config, base.replay_pacing),
        min_free_mb=_number(config, "KIAI_MIN_FREE_MB", "min_free_mb", base.min_free_mb),
        limits=Limits.from_config(config),
    )


def collection_categories(config: Config) -> list[tuple[str, int]]:
    """`[collections] stream = [1234]` as (category, collection_id) pairs, in file order."""
    pairs = []
    for category, ids in config.section("collections").items():
        values = ids if isinstance(ids, list) else [ids]
        for value in values:
            if not isinstance(value, int) or isinstance(value, bool):
                raise KiaiError(f"[collections] {category}: collection ids must be integers, got {value!r}")
            pairs.append((category, value))
    return pairs
