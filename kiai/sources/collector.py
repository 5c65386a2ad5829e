"""osu!collector: a collection's beatmap ids and md5s, and its full beatmap objects by cursor paging.

A 200 answer of the wrong shape is not landed: one line names the endpoint (see osu_api.shape_error)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kiai.catalog import COLLECTION, COLLECTION_PAGES, COLLECTOR
from kiai.sources.http import Fetched, HttpClient, SourceError
from kiai.sources.osu_api import shape_error

SOURCE = COLLECTOR
COLLECTION_ENDPOINT = COLLECTION.path
PAGES_ENDPOINT = COLLECTION_PAGES.path

Land = Callable[[Fetched], None]


class Collector:
    def __init__(self, http: HttpClient, base_url: str) -> None:
        self.http, self.base_url = http, base_url

    def _get(self, endpoint: str, collection_id: int, query: dict[str, Any]) -> Fetched:
        path = endpoint.format(id=collection_id)
        response = self.http.request("GET", self.base_url + path, params=query, expect_json=True)
        if response.status_code not in (200, 404):
            raise SourceError(f"GET {path} answered {response.status_code}")
        body = response.content.decode("utf-8", errors="replace")
        return Fetched(SOURCE, endpoint, {"collection_id": collection_id, **query}, response.status_code, body)

    def collection(self, collection_id: int) -> Fetched:
        """`GET /api/collections/{id}`: every beatmap id and md5 in one call (404: no such collection)."""
        fetched = self._get(COLLECTION_ENDPOINT, collection_id, {})
        if fetched.http_status == 200 and not _is_collection(fetched.json()):
            expected = "a collection (beatmapsets of beatmaps with ids)"
            raise shape_error("osu!collector", COLLECTION_ENDPOINT, expected, fetched.body)
        return fetched

    def pages(self, collection_id: int, land: Land, landed: dict[int | None, Any], per_page: int = 100) -> int:
        """Walk `beatmapsv2` pages from the first cursor to the last. `landed` maps cursors already stored
        to their `nextPageCursor`, so a rerun follows them without asking again. Returns pages fetched."""
        cursor: Any = None
        fetched_pages = 0
        seen: set[Any] = set()
        while cursor not in seen:
            seen.add(cursor)
            if cursor in landed:
                cursor = landed[cursor]
            else:
                query: dict[str, Any] = {"perPage": per_page}
                if cursor is not None:
                    query["cursor"] = cursor
                fetched = self._get(PAGES_ENDPOINT, collection_id, query)
                body = fetched.json() if fetched.http_status == 200 else None
                if body is not None and not (
                    isinstance(body, dict) and isinstance(body.get("beatmaps"), list) and "hasMore" in body
                ):
                    raise shape_error("osu!collector", PAGES_ENDPOINT, "a page of beatmaps", fetched.body)
                land(fetched)
                fetched_pages += 1
                if body is None:
                    return fetched_pages
                cursor = body.get("nextPageCursor") if body.get("hasMore") else None
            if cursor is None:
                break
        return fetched_pages


def _is_collection(body: Any) -> bool:
    sets = body.get("beatmapsets") if isinstance(body, dict) else None
    return isinstance(sets, list) and all(
        isinstance(s, dict)
        and isinstance(s.get("beatmaps"), list)
        and all(isinstance(b, dict) and isinstance(b.get("id"), int) for b in s["beatmaps"])
        for s in sets
    )
