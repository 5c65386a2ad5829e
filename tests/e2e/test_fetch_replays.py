"""`kiai fetch replays` end to end against the sample world served by the sandbox on 127.0.0.1 (its dump
imported, so `--sql` over `scores` works as a user's would), with faults injected, secrets searched for, and
kill -9 in the middle of `python -m kiai` in a subprocess; plus the replay endpoint's own pacing."""

from __future__ import annotations

import hashlib
import itertools
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from kiai import warehouse
from kiai.config import Config
from kiai.load import replay_queue
from kiai.osu.replay import parse_replay
from kiai.sample import generate_world
from kiai.sandbox import SandboxServer
from kiai.schema import migrations
from kiai.sources.downloads import Attempt
from kiai.sources.http import HttpClient
from kiai.sources.oauth import ClientCredentials
from kiai.sources.replays import ReplayFetcher, ReplayRequest
from kiai.sources.settings import Pacing, RetryPolicy, Secret, load_settings
from tests.support.cli import run_kiai
from tests.support.sandbox import SECRET, kiai, kill_when, project

REPLAY_HTTP = "replay_min_gap = {gap}\nreplay_max_gap = {gap}\nreplay_failure_gap = 0.05\nreplay_per_minute = 0"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The sample world (small) and a warehouse with its dump imported."""
    root = tmp_path_factory.mktemp("replay-world")
    sample = generate_world(root / "world", n_sets=12, replays_per_player=6)
    db = root / "dump.duckdb"
    run_kiai("import", "ppy-dump", str(sample.dump_path), db=db)
    return sample, db


@pytest.fixture
def server(world):
    sandbox = world[0].sandbox_world()
    sandbox.client_secret = SECRET
    with SandboxServer(sandbox) as srv:
        yield srv


def _player(world) -> int:
    """The player with the most replays in the world."""
    sample = world[0]
    owners = [p.user_id for p in sample.plays if p.score_id in sample.replays]
    return max(set(owners), key=owners.count)


def _sql(world) -> str:
    return f"SELECT id FROM scores WHERE user_id = {_player(world)} AND has_replay = 1 ORDER BY id"


def _project(tmp_path: Path, server, world, gap: float = 0.0, dump: bool = True) -> tuple[Path, dict]:
    cwd, env = project(tmp_path, server, gap=gap, extra=REPLAY_HTTP.format(gap=gap))
    if dump:
        shutil.copy(world[1], cwd / "wh.duckdb")
    return cwd, env


def snapshot(cwd: Path) -> dict:
    """What a finished fetch leaves behind, minus row ids, tries and timestamps."""
    with duckdb.connect(str(cwd / "wh.duckdb"), read_only=True) as con:
        state = {
            "raw": sorted(
                con.execute("SELECT md5, score_id, legacy_score_id, path, size_bytes FROM raw.replays").fetchall()
            ),
            "parsed": sorted(
                con.execute("SELECT md5, score_id, legacy_score_id, player, n_frames FROM parsed.replays").fetchall()
            ),
            "frames": con.execute(
                "SELECT r.md5, count(*), sum(f.time_ms), sum(f.keys) FROM parsed.replay_frames f "
                "JOIN parsed.replays r USING (replay_id) GROUP BY ALL ORDER BY 1"
            ).fetchall(),
            "queue": sorted(con.execute("SELECT score_id, ruleset, state, md5 FROM raw.replay_queue").fetchall()),
        }
    folder = cwd / "data" / "replays"
    state["files"] = sorted(
        (str(p.relative_to(folder)), hashlib.md5(p.read_bytes()).hexdigest()) for p in folder.rglob("*") if p.is_file()
    )
    return state


def test_fetch_by_sql_lands_every_replay_and_reruns_ask_nothing(server, world, tmp_path):
    sample = world[0]
    cwd, env = _project(tmp_path, server, world)
    result = kiai(cwd, env, "fetch", "replays", "--sql", _sql(world))
    mine = [p for p in sample.plays if p.user_id == _player(world) and p.has_replay]
    served = [p for p in mine if p.score_id in sample.replays]
    assert served and len(served) < len(mine), "the world has replays and scores whose replay is gone"
    assert f"--sql: {len(mine)} ids (column id)" in result.stdout
    assert f"{len(served)} landed" in result.stdout and f"{len(mine) - len(served)} missing (404)" in result.stdout
    with duckdb.connect(str(cwd / "wh.duckdb"), read_only=True) as con:
        # every replay joins its score: by scores.id, and stable ones by their legacy id too
        joined = con.execute(
            "SELECT r.score_id, r.legacy_score_id, s.legacy_score_id FROM parsed.replays r "
            "JOIN ppy.scores s ON s.id = r.score_id"
        ).fetchall()
        assert sorted(i for i, _, _ in joined) == sorted(p.score_id for p in served)
        assert all(legacy == expected for _, legacy, expected in joined)
        states = dict(con.execute("SELECT state, count(*) FROM raw.replay_queue GROUP BY ALL").fetchall())
        assert states == {"done": len(served), "missing": len(mine) - len(served)}
    for play in served:
        data = (cwd / "data" / "replays" / f"{play.score_id}.osr").read_bytes()
        assert data == sample.replays[play.score_id]
        assert parse_replay(data).beatmap_md5 == play.beatmap.md5

    asked = len(server.requests_to("/api/v2/scores/"))
    again = kiai(cwd, env, "fetch", "replays", "--sql", _sql(world))
    assert f"queue: 0 replays asked, {len(mine)} already in it" in again.stdout
    assert len(server.requests_to("/api/v2/scores/")) == asked, "nothing is asked twice"
    kiai(cwd, env, "fetch", "replays", "--retry-missing")
    assert len(server.requests_to("/api/v2/scores/")) == asked + len(mine) - len(served)

    # --sql and --ids together; the .osu downloads share raw.download_attempts with the replays
    other = next(p for p in sample.plays if p.user_id != _player(world) and p.score_id not in sample.replays)
    (cwd / "more.txt").write_text(f"{other.score_id}\n{served[0].score_id}\n")
    both = kiai(cwd, env, "fetch", "replays", "--sql", _sql(world), "--ids", str(cwd / "more.txt"))
    assert "queue: 1 replays asked" in both.stdout and "1 missing (404)" in both.stdout
    kiai(cwd, env, "fetch", "beatmaps", "--from-dump")
    kiai(cwd, env, "download", "osu-files")
    with duckdb.connect(str(cwd / "wh.duckdb"), read_only=True) as con:
        kinds = dict(
            con.execute("SELECT coalesce(kind, 'osu'), count(*) FROM raw.download_attempts GROUP BY 1").fetchall()
        )
    assert kinds["osu"] == len(sample.osu_files) and kinds["replay"] > len(mine)


def test_faults_and_refused_bodies_end_as_a_clean_run_and_no_secret_anywhere(server, world, tmp_path):
    clean_cwd, clean_env = _project(tmp_path / "clean", server, world)
    kiai(clean_cwd, clean_env, "fetch", "replays", "--sql", _sql(world))
    expected = snapshot(clean_cwd)

    cwd, env = _project(tmp_path / "faulty", server, world)
    path = "/api/v2/scores/"
    server.inject("expire_token", path=path, after=1)  # a 401 mid-run: the token is renewed
    server.inject("429", path=path, after=2, retry_after="1")
    server.inject("500", path=path, after=3, times=2)
    server.inject("truncate", path=path, after=4)
    for after, kind in enumerate(("html", "empty", "wrong_md5"), 5):
        server.inject(kind, path=path, after=after)
    result = kiai(cwd, env, "fetch", "replays", "--sql", _sql(world))
    assert all(fault.times == 0 for fault in server.faults), "every fault was hit"
    assert "Traceback" not in result.stderr
    assert snapshot(cwd) == expected
    with duckdb.connect(str(cwd / "wh.duckdb"), read_only=True) as con:
        refused = con.execute(
            "SELECT outcome, error FROM raw.download_attempts "
            "WHERE kind = 'replay' AND outcome NOT IN ('ok', 'not_found')"
        ).fetchall()
    outcomes = sorted(outcome for outcome, _ in refused)
    assert outcomes == ["empty", "not_replay", "not_replay"], refused
    errors = [error for outcome, error in refused if outcome == "not_replay"]
    assert errors[0] == "not a complete replay: unknown mode 60 (expected 0-3): not an osu! replay"  # '<' of HTML
    # one byte changed at the end: a lazer replay's score info no longer decodes, a stable one names another score
    assert "corrupt lazer score info" in errors[1] or errors[1].startswith("the replay of score")

    outputs = result.stdout + result.stderr
    blobs = b"".join(p.read_bytes() for p in cwd.rglob("*") if p.is_file())
    for secret in [SECRET, *server.issued]:
        assert secret not in outputs and secret.encode() not in blobs


def test_kill_9_and_rerun_equal_an_uninterrupted_run(server, world, tmp_path):
    clean_cwd, clean_env = _project(tmp_path / "clean", server, world)
    kiai(clean_cwd, clean_env, "fetch", "replays", "--sql", _sql(world))
    expected = snapshot(clean_cwd)
    done = sum(state == "done" for _, _, state, _ in expected["queue"])

    cwd, env = _project(tmp_path / "killed", server, world, gap=0.4)
    folder = cwd / "data" / "replays"
    asked = len(server.requests_to("/api/v2/scores/"))
    # killed right after a file is written (before it lands), then while the next one is asked
    kill_when(
        cwd, env, ["fetch", "replays", "--sql", _sql(world)], lambda: folder.is_dir() and any(folder.glob("*.osr"))
    )
    first = {p.name for p in folder.glob("*.osr")}
    mid = len(server.requests_to("/api/v2/scores/"))
    kill_when(cwd, env, ["fetch", "replays"], lambda: len(server.requests_to("/api/v2/scores/")) >= mid + 2)
    assert 1 <= len(list(folder.glob("*.osr"))) < done
    kiai(cwd, env, "fetch", "replays")
    assert snapshot(cwd) == expected
    assert not list(folder.glob(".*.part")), "no temp file is left"
    # the files the first kill left were landed, not asked for again
    requested = [path for _, path, _ in server.requests_to("/api/v2/scores/")[asked:]]
    for name in first:
        assert requested.count(f"/api/v2/scores/{name.removesuffix('.osr')}/download") == 1


def test_legacy_ids_and_replays_whose_legacy_id_is_unknown(server, world, tmp_path):
    sample = world[0]
    stable = [p for p in sample.plays if p.score_id in sample.replays and p.legacy_score_id is not None]
    assert stable
    cwd, env = _project(tmp_path / "legacy", server, world, dump=False)
    ids = cwd / "legacy.txt"
    ids.write_text("\n".join(str(p.legacy_score_id) for p in stable) + "\n")
    result = kiai(cwd, env, "fetch", "replays", "--ids", str(ids), "--legacy", "osu")
    assert f"{len(stable)} landed" in result.stdout, result.stdout
    with duckdb.connect(str(cwd / "wh.duckdb"), read_only=True) as con:
        got = sorted(con.execute("SELECT legacy_score_id FROM parsed.replays").fetchall())
    assert got == sorted((p.legacy_score_id,) for p in stable)
    assert all((cwd / "data" / "replays" / "osu" / f"{p.legacy_score_id}.osr").is_file() for p in stable)

    # by score id without the dump, a stable replay's header (its legacy id) cannot be checked: refused
    ids.write_text(f"{stable[0].score_id}\n")
    bare, bare_env = _project(tmp_path / "bare", server, world, dump=False)
    refused = kiai(bare, bare_env, "fetch", "replays", "--ids", str(ids))
    assert "1 failed" in refused.stdout and "import the dump's scores" in refused.stderr
    assert not (bare / "data" / "replays" / f"{stable[0].score_id}.osr").exists()


def test_the_replay_of_another_score_is_refused(server, world, tmp_path):
    sample = world[0]
    first, second = sorted(i for i in sample.replays)[:2]
    server.world.replays[first] = sample.replays[second]
    cwd, env = _project(tmp_path, server, world)
    ids = cwd / "ids.txt"
    ids.write_text(f"{first}\n")
    result = kiai(cwd, env, "fetch", "replays", "--ids", str(ids))
    assert "1 failed" in result.stdout
    with duckdb.connect(str(cwd / "wh.duckdb"), read_only=True) as con:
        (error,) = con.execute("SELECT error FROM raw.replay_queue").fetchall()[0]
        assert error.startswith("not_replay: the replay of score") and f"not of score {first}" in error
        assert con.execute("SELECT count(*) FROM raw.replays").fetchall() == [(0,)]


def test_sql_that_is_not_one_select_of_ids_is_one_line(server, world, tmp_path):
    cwd, env = _project(tmp_path, server, world)
    for sql, message in (
        ("DELETE FROM scores", "one SELECT statement"),
        ("SELECT rank FROM scores", "must hold score ids"),
        ("SELECT id FROM no_such_table", "no_such_table"),
    ):
        result = kiai(cwd, env, "fetch", "replays", "--sql", sql, check=False)
        assert result.returncode == 1 and message in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    with duckdb.connect(str(cwd / "wh.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM ppy.scores").fetchall()[0][0] > 0
    nothing = kiai(cwd, env, "fetch", "replays", check=False)
    assert nothing.returncode == 1 and "nothing asked yet" in nothing.stderr


class _Clock:
    """A virtual clock: sleeping advances it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)

    def time(self) -> float:
        return self.now


def test_the_replay_endpoint_is_paced_on_its_own(server, world, tmp_path, monkeypatch):
    settings = load_settings(Config())
    assert settings.replay_pacing == Pacing(6.0, 6.0, 6.0, 10) and settings.api_pacing.per_minute == 60
    monkeypatch.setenv("KIAI_HTTP_REPLAY_PER_MINUTE", "30")
    assert load_settings(Config()).replay_pacing == Pacing(2.0, 2.0, 2.0, 30)

    clock = _Clock()
    http = HttpClient(settings.replay_pacing, RetryPolicy(), sleep=clock.sleep, clock=clock.time)
    sent: list[float] = []
    original = http._send

    def send(*args, **kwargs):
        reply = original(*args, **kwargs)
        sent.append(clock.now)
        return reply

    http._send = send
    token_http = HttpClient(Pacing(0, 0, 0, None), RetryPolicy())
    auth = ClientCredentials(token_http, server.base_url, server.world.client_id, Secret(SECRET))
    fetcher = ReplayFetcher(http, server.base_url, auth, tmp_path / "replays", 0)
    legacy = {p.score_id: p.legacy_score_id for p in world[0].plays}
    requests = [ReplayRequest(score_id, "", legacy[score_id]) for score_id in sorted(world[0].replays)]
    assert fetcher.eta(12).startswith("12 replays to fetch at 10 a minute: about 0 h 01 min")
    fetcher.run(requests, lambda request, attempt: None)
    assert len(sent) == len(requests) > 5 and all(b - a >= 6.0 for a, b in itertools.pairwise(sent))
    assert all(sum(t <= start < t + 60 for start in sent) <= 10 for t in sent)
    assert len(server.requests_to("/oauth/token")) == 1  # the token came through its own client


def test_a_version_1_warehouse_keeps_its_download_log_and_gains_the_replay_columns(tmp_path):
    """Schema version 2: raw.download_attempts of an older warehouse (NOT NULL beatmap_id, no replay columns)
    is widened in place by the first writing connection; its rows stay."""
    db = tmp_path / "v1.duckdb"
    con = warehouse.connect(db)
    con.execute("DROP TABLE IF EXISTS raw.download_attempts")
    con.execute(
        "CREATE TABLE raw.download_attempts (beatmap_id BIGINT NOT NULL, outcome VARCHAR NOT NULL, http_status "
        "INTEGER, expected_md5 VARCHAR NOT NULL, got_md5 VARCHAR, size_bytes BIGINT, error VARCHAR, "
        "attempted_at TIMESTAMP NOT NULL)"
    )
    con.execute("INSERT INTO raw.download_attempts VALUES (42, 'ok', 200, 'abc', 'abc', 10, NULL, now())")
    con.execute("UPDATE kiai.schema_migrations SET version = 1, name = 'lean parsed schema'")  # as kiai left it
    con.close()
    reading = run_kiai("sql", "SELECT 1", db=db, check=False)
    assert reading.returncode == 1 and "schema version 1" in reading.stderr and "kiai --db" in reading.stderr
    con = warehouse.connect(db)  # a writing connection migrates
    try:
        replay_queue.record_attempt(con, ReplayRequest(7, "osu"), Attempt(7, "not_found", 404, None))
        rows = con.execute(
            "SELECT beatmap_id, outcome, kind, score_id, ruleset FROM raw.download_attempts ORDER BY attempted_at"
        ).fetchall()
        assert rows == [(42, "ok", None, None, None), (None, "not_found", "replay", 7, "osu")]
        assert con.execute("SELECT max(version) FROM kiai.schema_migrations").fetchall() == [(migrations.LATEST,)]
    finally:
        con.close()


def test_the_warehouse_can_be_read_while_a_fetch_waits_its_turn(server, world, tmp_path):
    cwd, env = _project(tmp_path, server, world, gap=0.6)
    fetch = subprocess.Popen(
        [sys.executable, "-m", "kiai", "fetch", "replays", "--sql", _sql(world)],
        cwd=cwd,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    folder = cwd / "data" / "replays"
    deadline = time.monotonic() + 60
    while not (folder.is_dir() and len(list(folder.glob("*.osr"))) >= 2) and time.monotonic() < deadline:
        time.sleep(0.05)
    read = kiai(cwd, env, "sql", "--wait", "10", "--format", "csv", "SELECT count(*) AS n FROM parsed.replays")
    assert fetch.poll() is None, "the fetch was still running while kiai sql read"
    assert int(read.stdout.split()[1]) >= 1
    out, err = fetch.communicate(timeout=120)
    assert fetch.returncode == 0 and "landed" in out, err
