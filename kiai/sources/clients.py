"""Build the clients of every source from the settings, all over one `requests.Session`."""

from __future__ import annotations

from pathlib import Path

import requests

from kiai.progress import NULL_REPORTER, Reporter
from kiai.sources.collector import Collector
from kiai.sources.http import HttpClient, new_session
from kiai.sources.oauth import ClientCredentials
from kiai.sources.osu_api import OsuApi
from kiai.sources.replays import ReplayFetcher
from kiai.sources.settings import SourceSettings


class Sources:
    def __init__(self, settings: SourceSettings, session: requests.Session | None = None) -> None:
        self.settings = settings
        self.session = session or new_session()

    def http(self, kind: str) -> HttpClient:
        pacing = {
            "api": self.settings.api_pacing,
            "collector": self.settings.collector_pacing,
            "download": self.settings.download_pacing,
            "replay": self.settings.replay_pacing,
        }[kind]
        return HttpClient(
            pacing, self.settings.retry, session=self.session, max_bytes=self.settings.limits.api_body_bytes
        )

    def credentials(self, http: HttpClient | None = None) -> ClientCredentials:
        client_id, secret = self.settings.credentials()
        return ClientCredentials(http or self.http("api"), self.settings.osu_base_url, client_id, secret)

    def osu_api(self) -> OsuApi:
        http = self.http("api")
        return OsuApi(http, self.settings.osu_base_url, self.credentials(http))

    def replays(self, folder: Path, reporter: Reporter = NULL_REPORTER) -> ReplayFetcher:
        """Replay downloads on their own paced client; the token comes from an API client, so renewing it
        does not count against the replay endpoint's limit."""
        settings = self.settings
        return ReplayFetcher(
            self.http("replay"),
            settings.osu_base_url,
            self.credentials(),
            folder,
            settings.min_free_mb,
            settings.limits.replay_file_bytes,
            reporter,
        )

    def collector(self) -> Collector:
        return Collector(self.http("collector"), self.settings.collector_base_url)
