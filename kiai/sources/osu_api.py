"""osu! API v2: beatmaps in chunks of 50 and user score lists, each response handed to `land` verbatim.

A 200 answer of the wrong shape (not the object or list the endpoint returns) is not landed: it stops the
run with one line naming the endpoint, since everything downstream reads that shape."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from kiai.catalog import BEATMAPS, OSU_API, USER_SCORES
from kiai.progress import NULL_REPORTER, Reporter, task
from kiai.sources.http import Auth, Fetched, HttpClient, SourceError

SOURCE = OSU_API
BEATMAPS_ENDPOINT = BEATMAPS.path
SCORES_ENDPOINT = USER_SCORES.path
SCORE_TYPES = ("best", "firsts", "pinned", "recent")
BATCH = 50  # the API keeps the first 50 ids and silently drops the rest
SCORES_CAP = 100  # offset + limit never reaches past 100 results
API_VERSION = "20220705"  # new score format: `id` is the solo score id, joins to the dump's `scores`

Land = Callable[[Fetched], None]


class OsuApi:
    def __init__(self, http: HttpClient, base_url: str, auth: Auth) -> None:
        self.http, self.base_url, self.auth = http, base_url, auth

    def get(self, endpoint: str, path: str, query: Any, params: dict[str, Any], **headers: str) -> Fetched:
        """GET `path` and wrap the answer for landing (params = what identifies the request, no headers)."""
        response = self.http.request(
            "GET", self.base_url + path, params=query, headers=headers, auth=self.auth, expect_json=True
        )
        body = response.content.decode("utf-8", errors="replace")
        return Fetched(SOURCE, endpoint, params, response.status_code, body)


def shape_error(source: str, endpoint: str, expected: str, body: str) -> SourceError:
    """A one-line error for a 200 answer that is not what `endpoint` returns."""
    return SourceError(f"{source} {endpoint} answered 200 with {body[:60]!r}, not {expected}; nothing was landed")


def _beatmaps_of(fetched: Fetched) -> list[dict[str, Any]]:
    body = fetched.json()
    beatmaps = body.get("beatmaps") if isinstance(body, dict) else None
    if not isinstance(beatmaps, list) or not all(
        isinstance(b, dict) and isinstance(b.get("id"), int) and isinstance(b.get("checksum"), str | None)
        for b in beatmaps
    ):
        raise shape_error(
            "osu! API", BEATMAPS_ENDPOINT, "an object with a list of beatmaps (id, checksum)", fetched.body
        )
    return beatmaps


@dataclass
class BeatmapsSummary:
    requested: int = 0
    skipped: int = 0
    found: int = 0
    missing: list[int] = field(default_factory=list)


def fetch_beatmaps(
    api: OsuApi, ids: Iterable[int], skip: set[int], land: Land, reporter: Reporter = NULL_REPORTER
) -> BeatmapsSummary:
    """Fetch every id not in `skip` with `ids[]=` in chunks of 50; match results by id, not by order."""
    wanted = sorted(set(ids))
    todo = [i for i in wanted if i not in skip]
    summary = BeatmapsSummary(requested=len(todo), skipped=len(wanted) - len(todo))
    with task(reporter, "beatmaps", len(todo)) as progress, api.http.waits_shown(progress.note):
        for start in range(0, len(todo), BATCH):
            chunk = todo[start : start + BATCH]
            fetched = api.get(BEATMAPS_ENDPOINT, BEATMAPS_ENDPOINT, [("ids[]", i) for i in chunk], {"ids": chunk})
            if fetched.http_status != 200:
                raise SourceError(f"GET {BEATMAPS_ENDPOINT} answered {fetched.http_status}: {fetched.body[:200]}")
            got = {b["id"] for b in _beatmaps_of(fetched)}
            land(fetched)
            summary.found += len(got & set(chunk))
            summary.missing += [i for i in chunk if i not in got]
            progress.advance(len(chunk))
    return summary


@dataclass
class UserScoresSummary:
    user_id: int = 0
    score_type: str = "best"
    pages: int = 0  # pages fetched by this run
    seen: int = 0  # scores in the list (pages stored before included)
    not_found: bool = False  # the API answered 404: no such user


def fetch_user_scores(
    api: OsuApi,
    user_id: int,
    score_type: str,
    land: Land,
    landed: dict[int, int],
    mode: str = "osu",
    page_size: int = SCORES_CAP,
    reporter: Reporter = NULL_REPORTER,
) -> UserScoresSummary:
    """Page `/users/{id}/scores/{type}` up to the cap of 100. `landed` maps offsets already stored to their
    item counts (-1 for a 404), so a rerun continues where it stopped."""
    if score_type not in SCORE_TYPES:
        raise SourceError(f"unknown score type {score_type!r}; use one of {', '.join(SCORE_TYPES)}")
    page_size = max(1, min(page_size, SCORES_CAP))
    path = SCORES_ENDPOINT.format(user=user_id, type=score_type)
    summary = UserScoresSummary(user_id, score_type)
    scores = f"{score_type} scores of {user_id}"
    with task(reporter, scores, SCORES_CAP) as progress, api.http.waits_shown(progress.note):
        for offset in range(0, SCORES_CAP, page_size):
            limit = min(page_size, SCORES_CAP - offset)
            count = landed.get(offset)
            if count is None:
                query = {"mode": mode, "limit": limit, "offset": offset}
                if score_type == "recent":
                    query["include_fails"] = 0
                params = {"user_id": user_id, "type": score_type, **query}
                fetched = api.get(SCORES_ENDPOINT, path, query, params, **{"x-api-version": API_VERSION})
                if fetched.http_status not in (200, 404):
                    raise SourceError(f"GET {path} answered {fetched.http_status}: {fetched.body[:200]}")
                body = fetched.json() if fetched.http_status == 200 else None
                if fetched.http_status == 200 and not (
                    isinstance(body, list) and all(isinstance(score, dict) for score in body)
                ):
                    raise shape_error("osu! API", SCORES_ENDPOINT, "a list of scores", fetched.body)
                land(fetched)
                summary.pages += 1
                count = len(body) if isinstance(body, list) else -1
            progress.advance(limit)
            summary.seen += max(count, 0)
            summary.not_found = count < 0
            if count < limit:
                break
    return summary
