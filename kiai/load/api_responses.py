"""`raw.api_responses`: every HTTP response body verbatim with its request; plus the download log and the
collection labels. Also the look-ups that make fetching resumable (what is already landed)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import duckdb

from kiai import schema
from kiai.catalog import BEATMAPS, COLLECTION, COLLECTION_PAGES, USER_SCORES
from kiai.sources.downloads import Attempt
from kiai.sources.http import Fetched
from kiai.warehouse import transaction, utc_now


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the API landing tables that do not exist yet (kiai/schema/api_responses.sql)."""
    con.execute(schema.ddl("api_responses"))


def land(con: duckdb.DuckDBPyConnection, fetched: Fetched) -> None:
    """Store one response in its own committed transaction (a crash loses at most the one in flight)."""
    with transaction(con):
        con.execute(
            "INSERT INTO raw.api_responses (source, endpoint, params, http_status, fetched_at, body) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                fetched.source,
                fetched.endpoint,
                json.dumps(fetched.params, sort_keys=True),
                fetched.http_status,
                fetched.fetched_at,
                fetched.body,
            ],
        )


def record_attempt(con: duckdb.DuckDBPyConnection, a: Attempt) -> None:
    con.execute(
        "INSERT INTO raw.download_attempts (beatmap_id, outcome, http_status, expected_md5, got_md5, size_bytes, "
        "error, attempted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [a.beatmap_id, a.outcome, a.http_status, a.expected_md5 or "", a.got_md5, a.size_bytes, a.error, utc_now()],
    )


def set_collection_labels(con: duckdb.DuckDBPyConnection, pairs: Iterable[tuple[str, int]]) -> None:
    """Replace the labels with the current kiai.toml mapping."""
    now = utc_now()
    with transaction(con):
        con.execute("DELETE FROM raw.collection_labels")
        con.executemany(
            "INSERT INTO raw.collection_labels VALUES (?, ?, ?, ?)",
            [(category, cid, n, now) for n, (category, cid) in enumerate(pairs)],
        )


def landed_collections(con: duckdb.DuckDBPyConnection) -> set[int]:
    rows = con.execute(
        "SELECT DISTINCT CAST(params->>'collection_id' AS BIGINT) FROM raw.api_responses "
        f"WHERE {COLLECTION.where()} AND http_status IN (200, 404)"
    ).fetchall()
    return {r[0] for r in rows}


def landed_pages(con: duckdb.DuckDBPyConnection, collection_id: int, per_page: int) -> dict[int | None, Any]:
    """cursor -> nextPageCursor of the beatmapsv2 pages already stored for this collection and page size."""
    rows = con.execute(
        f"SELECT params->>'cursor', body FROM raw.api_responses WHERE {COLLECTION_PAGES.where()} AND http_status = 200 "
        "AND CAST(params->>'collection_id' AS BIGINT) = ? AND CAST(params->>'perPage' AS INTEGER) = ? "
        "ORDER BY response_id",
        [collection_id, per_page],
    ).fetchall()
    result: dict[int | None, Any] = {}
    for cursor, body in rows:
        page = json.loads(body)
        key = None if cursor is None else json.loads(cursor) if cursor.lstrip("-").isdigit() else cursor
        result[key] = page.get("nextPageCursor") if page.get("hasMore") else None
    return result


def labelled_beatmap_ids(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Every beatmap id in the latest stored answer of each collection (labelled or not)."""
    rows = con.execute(
        f"""
        WITH latest AS (
            SELECT body FROM raw.api_responses
            WHERE {COLLECTION.where()} AND http_status = 200
            QUALIFY row_number() OVER (PARTITION BY params->>'collection_id' ORDER BY response_id DESC) = 1
        ), sets AS (SELECT unnest(CAST(body->'$.beatmapsets' AS JSON[])) AS s FROM latest)
        SELECT DISTINCT CAST(b->>'id' AS BIGINT)
        FROM (SELECT unnest(CAST(s->'$.beatmaps' AS JSON[])) AS b FROM sets)
        ORDER BY 1
        """
    ).fetchall()
    return [r[0] for r in rows if r[0] is not None]


def fetched_beatmap_ids(con: duckdb.DuckDBPyConnection) -> set[int]:
    """Ids asked for in any successful /api/v2/beatmaps call: found ones and known-missing ones alike."""
    rows = con.execute(
        "SELECT DISTINCT CAST(unnest(CAST(params->'$.ids' AS JSON[])) AS BIGINT) FROM raw.api_responses "
        f"WHERE {BEATMAPS.where()} AND http_status = 200"
    ).fetchall()
    return {r[0] for r in rows}


def landed_score_pages(con: duckdb.DuckDBPyConnection, user_id: int, score_type: str, mode: str) -> dict[int, int]:
    """offset -> number of scores for the pages of this list already stored (-1 for a 404)."""
    rows = con.execute(
        "SELECT CAST(params->>'offset' AS INTEGER), http_status, body FROM raw.api_responses "
        f"WHERE {USER_SCORES.where()} "
        "AND CAST(params->>'user_id' AS BIGINT) = ? AND params->>'type' = ? AND params->>'mode' = ? "
        "AND http_status IN (200, 404) ORDER BY response_id",
        [user_id, score_type, mode],
    ).fetchall()
    pages: dict[int, int] = {}
    for offset, status, body in rows:
        if status == 404:
            pages[offset] = -1
        else:
            items = json.loads(body)
            pages[offset] = len(items) if isinstance(items, list) else -1
    return pages


def download_targets(con: duckdb.DuckDBPyConnection, retry_missing: bool = False) -> list[tuple[int, str | None]]:
    """(beatmap_id, checksum or None) of every fetched beatmap, from the latest response that holds it; ids
    whose last download answered 404 are left out unless `retry_missing`."""
    rows = con.execute(
        f"""
        WITH maps AS (
            SELECT CAST(b->>'id' AS BIGINT) AS beatmap_id, b->>'checksum' AS checksum, r.response_id
            FROM (SELECT response_id, unnest(CAST(body->'$.beatmaps' AS JSON[])) AS b FROM raw.api_responses
                  WHERE {BEATMAPS.where()} AND http_status = 200) AS r
            QUALIFY row_number() OVER (PARTITION BY beatmap_id ORDER BY response_id DESC) = 1
        ), last_try AS (
            SELECT beatmap_id, outcome FROM raw.download_attempts
            QUALIFY row_number() OVER (PARTITION BY beatmap_id ORDER BY attempted_at DESC) = 1
        )
        SELECT m.beatmap_id, m.checksum FROM maps m LEFT JOIN last_try t USING (beatmap_id)
        WHERE ? OR t.outcome IS DISTINCT FROM 'not_found'
        ORDER BY m.beatmap_id
        """,
        [retry_missing],
    ).fetchall()
    return [(int(i), c) for i, c in rows]
