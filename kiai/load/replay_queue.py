"""The queue of `kiai fetch replays`, kept in the warehouse (`raw.replay_queue`), and the run that works it.

Each replay asked for is a row: `asked` (not fetched yet), `done` (its file landed), `missing` (the API
answered 404: no replay, or a deleted score; not asked again unless told) or `failed` (why, in `error`;
asked again by the next run). Asking again for ids already queued changes nothing, so rerunning the
same command continues where the last run stopped.

Every step can be interrupted (kill -9 included) and redone: a file is written to its place only once it
passed (kiai.sources.replays), it lands by the md5 of its bytes (kiai.load.replays, same bytes twice
add nothing), and a request is marked done after its file landed. A run first lands the files a killed
run left in place, so they are not asked for again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from kiai.errors import KiaiError
from kiai.load import api_responses, replays
from kiai.load.replay_sources import ReplaySource
from kiai.progress import NULL_REPORTER, BatchLanded, Reporter
from kiai.sources.downloads import Attempt
from kiai.sources.replays import RULESETS, ReplayFetcher, ReplayRequest
from kiai.warehouse import table_exists, transaction, utc_now

QUEUE = "raw.replay_queue"
STATES = ("asked", "done", "missing", "failed")
REPLAY_ATTEMPT = "replay"  # raw.download_attempts.kind of replay downloads (NULL: .osu files)


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """The replay tables and raw.download_attempts (idempotent; an older warehouse's download log gained its
    replay columns in schema version 2, kiai.schema.migrations)."""
    replays.ensure_tables(con)
    api_responses.ensure_tables(con)


def score_ids_from_sql(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[list[int], str]:
    """The ids in the first column of one SELECT (bare dump names such as `scores` resolve, as in
    `kiai sql`), and that column's name."""
    from kiai.query import set_search_path

    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise KiaiError(f"--sql: {str(exc).splitlines()[0]}") from None
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        raise KiaiError("--sql takes one SELECT statement whose first column is score ids")
    ((search_path,),) = con.execute("SELECT current_setting('search_path')").fetchall()
    set_search_path(con)
    try:
        result = con.execute(sql)
        column = result.description[0][0]
        values = [row[0] for row in result.fetchall()]
    except duckdb.Error as exc:
        raise KiaiError(f"--sql: {str(exc).splitlines()[0]}") from None
    finally:
        con.execute("SET search_path = ?", [search_path])
    bad = next((v for v in values if not isinstance(v, int) or isinstance(v, bool) or v <= 0), None)
    if values and bad is not None:
        raise KiaiError(f"--sql: the first column ({column}) must hold score ids (positive integers), found {bad!r}")
    return values, column


def legacy_ids_of(con: duckdb.DuckDBPyConnection, score_ids: list[int]) -> dict[int, int]:
    """score id -> legacy score id, from the dump's scores table when it was imported."""
    if not score_ids or not table_exists(con, "ppy", "scores"):
        return {}
    rows = con.execute(
        "SELECT id, legacy_score_id FROM ppy.scores WHERE legacy_score_id > 0 AND id IN (SELECT unnest($ids))",
        {"ids": score_ids},
    ).fetchall()
    return {int(score_id): int(legacy) for score_id, legacy in rows}


def enqueue(con: duckdb.DuckDBPyConnection, score_ids: Iterable[int], ruleset: str = "") -> int:
    """Add replays to the queue (by score id, or by `ruleset`'s legacy ids); returns how many were new.
    A score id's legacy id is looked up in the dump's scores (a stable replay's header carries it)."""
    if ruleset and ruleset not in RULESETS:
        raise KiaiError(f"--legacy takes one of {', '.join(RULESETS)}, not {ruleset!r}")
    ids = list(dict.fromkeys(score_ids))
    legacy = {} if ruleset else legacy_ids_of(con, ids)
    asked = pa.table(
        {
            "score_id": pa.array(ids, pa.int64()),
            "legacy_score_id": pa.array([legacy.get(i) for i in ids], pa.int64()),
        }
    )
    ((before,),) = con.execute(f"SELECT count(*) FROM {QUEUE}").fetchall()
    now = utc_now()
    con.register("_kiai_asked", asked)
    try:
        with transaction(con):
            con.execute(
                f"INSERT OR IGNORE INTO {QUEUE} SELECT score_id, $ruleset, legacy_score_id, 'asked', 0, NULL, NULL, "
                "$now, $now FROM _kiai_asked",
                {"ruleset": ruleset, "now": now},
            )
            # ids queued before the dump was imported learn their legacy id
            con.execute(
                f"UPDATE {QUEUE} AS q SET legacy_score_id = a.legacy_score_id FROM _kiai_asked AS a "
                "WHERE q.score_id = a.score_id AND q.ruleset = '' AND q.legacy_score_id IS NULL "
                "AND a.legacy_score_id IS NOT NULL"
            )
    finally:
        con.unregister("_kiai_asked")
    ((after,),) = con.execute(f"SELECT count(*) FROM {QUEUE}").fetchall()
    return after - before


def pending(con: duckdb.DuckDBPyConnection, retry_missing: bool = False) -> list[ReplayRequest]:
    """The requests a run works on, in the order they were asked: asked and failed ones (and missing ones
    with `retry_missing`)."""
    states = ["asked", "failed", *(["missing"] if retry_missing else [])]
    rows = con.execute(
        f"SELECT score_id, ruleset, legacy_score_id FROM {QUEUE} WHERE state IN (SELECT unnest($states)) "
        "ORDER BY asked_at, ruleset, score_id",
        {"states": states},
    ).fetchall()
    return [ReplayRequest(int(i), r, None if legacy is None else int(legacy)) for i, r, legacy in rows]


def counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    rows = con.execute(f"SELECT state, count(*) FROM {QUEUE} GROUP BY state").fetchall()
    return {state: 0 for state in STATES} | {state: int(n) for state, n in rows}


def mark(
    con: duckdb.DuckDBPyConnection,
    request: ReplayRequest,
    state: str,
    error: str | None = None,
    md5: str | None = None,
    tried: bool = True,
) -> None:
    con.execute(
        f"UPDATE {QUEUE} SET state = ?, error = ?, md5 = coalesce(?, md5), tries = tries + ?, updated_at = ? "
        "WHERE score_id = ? AND ruleset = ?",
        [state, error, md5, int(tried), utc_now(), request.score_id, request.ruleset],
    )


def record_attempt(con: duckdb.DuckDBPyConnection, request: ReplayRequest, attempt: Attempt) -> None:
    """A replay download's outcome in raw.download_attempts (kind 'replay', no beatmap id, no checksum)."""
    con.execute(
        "INSERT INTO raw.download_attempts (beatmap_id, outcome, http_status, expected_md5, got_md5, size_bytes, "
        "error, attempted_at, kind, score_id, ruleset) VALUES (NULL, ?, ?, '', ?, ?, ?, ?, ?, ?, ?)",
        [
            attempt.outcome,
            attempt.http_status,
            attempt.got_md5,
            attempt.size_bytes,
            attempt.error,
            utc_now(),
            REPLAY_ATTEMPT,
            request.score_id,
            request.ruleset,
        ],
    )


@dataclass
class FetchSummary:
    worked: int = 0  # requests this run worked on
    landed: int = 0  # files that landed (downloaded, or left in place by an earlier run)
    missing: int = 0
    failed: int = 0
    frames: int = 0
    stopped_low_disk: str | None = None
    states: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)  # a few "score N: why" lines

    def line(self) -> str:
        s = self.states
        return (
            f"replays: {self.worked:,} worked on, {self.landed:,} landed ({self.frames:,} frames), "
            f"{self.missing:,} missing (404), {self.failed:,} failed; queue: {s.get('done', 0):,} done, "
            f"{s.get('asked', 0):,} asked, {s.get('missing', 0):,} missing, {s.get('failed', 0):,} failed"
        )


def fetch_replays(
    connect: Callable[[], duckdb.DuckDBPyConnection],
    fetcher: ReplayFetcher,
    retry_missing: bool = False,
    reporter: Reporter = NULL_REPORTER,
) -> FetchSummary:
    """Work the queue: land what a killed run left in place, fetch the rest, land each file as it comes.

    The warehouse is opened (`connect`) only to read the queue and to land a replay, and closed while
    requests wait for their turn, so `kiai sql` can read it during a fetch of hours."""
    summary = FetchSummary()
    outcome: dict[ReplayRequest, str] = {}  # the last outcome of each request this run worked on
    todo = []
    with closing(connect()) as con:
        ensure_tables(con)
        for request in pending(con, retry_missing):
            data = fetcher.file_in_place(request)
            if data is None:
                todo.append(request)
            else:
                frames = _land(con, fetcher, request, data, tried=False)
                reporter.report(BatchLanded("replays", 1, frames))
                summary.frames += frames
                outcome[request] = "landed"

    def record(request: ReplayRequest, attempt: Attempt) -> None:
        with closing(connect()) as con:
            record_attempt(con, request, attempt)
            if attempt.outcome == "ok":
                frames = _land(con, fetcher, request, fetcher.path_of(request).read_bytes())
                reporter.report(BatchLanded("replays", 1, frames))
                summary.frames += frames
                outcome[request] = "landed"
            elif attempt.outcome == "not_found":
                mark(con, request, "missing", "HTTP 404")
                outcome[request] = "missing"
            else:
                why = f"{attempt.outcome}: {attempt.error}" if attempt.error else attempt.outcome
                mark(con, request, "failed", why)
                outcome[request] = "failed"
                if len(summary.failures) < 5:
                    summary.failures.append(f"{request.describe()}: {why}")

    summary.stopped_low_disk = fetcher.run(todo, record).stopped_low_disk
    summary.worked = len(outcome)
    summary.landed, summary.missing, summary.failed = (
        sum(1 for o in outcome.values() if o == kind) for kind in ("landed", "missing", "failed")
    )
    with closing(connect()) as con:
        summary.states = counts(con)
    return summary


def _land(
    con: duckdb.DuckDBPyConnection, fetcher: ReplayFetcher, request: ReplayRequest, data: bytes, tried: bool = True
) -> int:
    """Land one fetched file with the ids it was asked by, then mark its request done; its frames."""
    path = str(fetcher.path_of(request))
    if request.by_legacy_id:
        source = ReplaySource(path, data, None, request.score_id)
    else:
        source = ReplaySource(path, data, request.score_id, request.legacy_score_id)
    landed = replays.ingest_sources(con, [source], workers=0)
    mark(con, request, "done", None, hashlib.md5(data).hexdigest(), tried)
    return landed.frames
