"""OAuth client credentials (scope `public`) for the osu! API: a token fetched on demand, renewed shortly
before it expires and once after any 401. The token lives only in memory and only in request headers."""

from __future__ import annotations

import time
from collections.abc import Callable

from kiai.sources.http import HttpClient, SourceError
from kiai.sources.settings import Secret

RENEW_MARGIN = 300.0  # seconds before expiry when a new token is fetched


class ClientCredentials:
    """Implements the `Auth` protocol of `HttpClient` for `POST {base}/oauth/token`."""

    def __init__(
        self,
        http: HttpClient,
        base_url: str,
        client_id: str,
        client_secret: Secret,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.http, self.token_url = http, f"{base_url}/oauth/token"
        self.client_id, self._secret = client_id, client_secret
        self.clock = clock
        self._token: Secret | None = None
        self.expires_at = self._renew_at = 0.0
        self.tokens_fetched = 0

    def __repr__(self) -> str:
        return f"ClientCredentials(client_id={self.client_id!r}, token_url={self.token_url!r})"

    def fetch(self) -> float:
        """Ask for a new token; returns its expiry as a unix time."""
        data = {
            "client_id": self.client_id,
            "client_secret": self._secret.reveal(),
            "grant_type": "client_credentials",
            "scope": "public",
        }
        response = self.http.request("POST", self.token_url, data=data, expect_json=True)
        if response.status_code != 200:
            try:
                body = response.json()
            except ValueError:
                body = None
            reason = (body.get("error") if isinstance(body, dict) else None) or response.status_code
            status = response.status_code
            raise SourceError(f"osu! token request refused ({status}, {reason}): check the client id and secret")
        body = response.json()
        if not isinstance(body, dict) or not body.get("access_token"):
            raise SourceError("osu! token response has no access_token")
        self._token = Secret(str(body["access_token"]))
        lifetime = float(body.get("expires_in", 3600))
        self.expires_at = self.clock() + lifetime
        self._renew_at = self.expires_at - min(RENEW_MARGIN, lifetime / 10)
        self.tokens_fetched += 1
        return self.expires_at

    def headers(self) -> dict[str, str]:
        if self._token is None or self.clock() >= self._renew_at:
            self.fetch()
        assert self._token is not None
        return {"Authorization": f"Bearer {self._token.reveal()}"}

    def invalidate(self) -> None:
        self._token = None
