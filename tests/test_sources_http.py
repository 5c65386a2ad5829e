"""The HTTP layer, OAuth, the osu! API and the downloader against the sandbox over real HTTP on 127.0.0.1.

Sleeps are recorded instead of slept, so backoff and pacing are asserted without waiting."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from kiai.config import Config
from kiai.sandbox import SandboxServer, world_from_fixtures
from kiai.sources.downloads import Downloader
from kiai.sources.http import Fetched, HttpClient, SourceError
from kiai.sources.oauth import ClientCredentials
from kiai.sources.osu_api import OsuApi, fetch_beatmaps, fetch_user_scores
from kiai.sources.settings import Pacing, RetryPolicy, Secret, load_settings

FIXTURES = Path(__file__).parent / "fixtures"
FAST = Pacing(min_gap=0.3, max_gap=0.5, failure_gap=1.0, per_minute=60)


@pytest.fixture
def server():
    with SandboxServer(world_from_fixtures(FIXTURES)) as srv:
        yield srv


class Recorder:
    """Stands in for time.sleep: remembers the delays and advances a fake clock by them."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self.now = 1000.0

    def sleep(self, seconds: float) -> None:
        self.delays.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def client(recorder: Recorder, pacing: Pacing = FAST, retries: int = 5, timeout: float = 5.0) -> HttpClient:
    retry = RetryPolicy(max_retries=retries, backoff_base=1.0, backoff_max=60.0, timeout=timeout)
    return HttpClient(pacing, retry, sleep=recorder.sleep, clock=recorder.clock, rng=lambda: 1.0)


def api(server: SandboxServer, http: HttpClient, secret: str | None = None) -> OsuApi:
    world = server.world
    auth = ClientCredentials(http, server.base_url, world.client_id, Secret(secret or world.client_secret))
    return OsuApi(http, server.base_url, auth)


def test_retries_5xx_with_exponential_backoff(server):
    rec = Recorder()
    http = client(rec, Pacing(0, 0, 0, None))
    server.inject("500", path="/osu/", times=3)
    beatmap_id = next(iter(server.world.osu_files))
    response = http.request("GET", f"{server.base_url}/osu/{beatmap_id}")
    assert response.status_code == 200
    assert rec.delays == [1.0, 2.0, 4.0]


def test_429_uses_retry_after_or_backs_off_up_to_a_minute(server):
    rec = Recorder()
    http = client(rec, Pacing(0, 0, 0, None), retries=10)
    url = f"{server.base_url}/osu/{next(iter(server.world.osu_files))}"
    server.inject("429", path="/osu/", retry_after="7")
    assert http.request("GET", url).status_code == 200
    assert rec.delays == [7.0]
    rec.delays.clear()
    server.inject("429", path="/osu/", times=8)
    assert http.request("GET", url).status_code == 200
    assert rec.delays == [1, 2, 4, 8, 16, 32, 60, 60]


def test_stalls_and_truncated_bodies_are_retried(server):
    rec = Recorder()
    http = client(rec, Pacing(0, 0, 0, None), timeout=0.5)
    beatmap_id, data = next(iter(server.world.osu_files.items()))
    server.inject("stall", path="/osu/", seconds=1.5)
    server.inject("truncate", path="/osu/")
    assert http.request("GET", f"{server.base_url}/osu/{beatmap_id}").content == data
    assert len(rec.delays) == 2


def test_failure_budget_gives_a_clear_error(server):
    http = client(Recorder(), Pacing(0, 0, 0, None), retries=2)
    server.inject("500", path="/osu/", times=10)
    with pytest.raises(SourceError, match=r"GET http://127\.0\.0\.1:\d+/osu/\d+ failed 3 times \(last: HTTP 500\)"):
        http.request("GET", f"{server.base_url}/osu/{next(iter(server.world.osu_files))}")


def test_pacing_gaps_failure_gap_and_per_minute_cap(server):
    rec = Recorder()
    http = client(rec, Pacing(min_gap=0.3, max_gap=0.5, failure_gap=1.0, per_minute=3))
    url = f"{server.base_url}/osu/{next(iter(server.world.osu_files))}"
    for _ in range(3):
        http.request("GET", url)
    assert rec.delays == [0.5, 0.5]  # rng() = 1.0 gives the top of the 0.3-0.5 s range
    http.request("GET", url)  # the 4th request in a minute waits for the window
    assert rec.delays[-1] == pytest.approx(60.0 - 1.0)
    server.inject("500", path="/osu/")
    rec.delays.clear()
    http.request("GET", url)
    assert rec.delays[-1] == pytest.approx(1.0)  # after the failure: the failure gap, not the usual one


def test_token_renewed_once_on_401_mid_run(server):
    http = client(Recorder(), Pacing(0, 0, 0, None))
    osu = api(server, http)
    landed: list[Fetched] = []
    fetch_beatmaps(osu, [2354779], set(), landed.append)
    server.inject("expire_token", path="/api/v2/")
    summary = fetch_beatmaps(osu, [2906626, 3578277], set(), landed.append)
    assert summary.found == 2 and summary.missing == []
    assert len(server.issued) == 2
    assert [f.http_status for f in landed] == [200, 200]


def test_token_renewed_shortly_before_expiry(server):
    server.world.token_lifetime = 1000
    rec = Recorder()
    http = client(rec, Pacing(0, 0, 0, None))
    auth = ClientCredentials(
        http, server.base_url, server.world.client_id, Secret(server.world.client_secret), rec.clock
    )
    auth.headers()
    rec.now += 850
    auth.headers()
    assert len(server.issued) == 1
    rec.now += 100  # within the last tenth of its life
    auth.headers()
    assert len(server.issued) == 2


def test_bad_credentials_error_hides_the_secret(server):
    http = client(Recorder(), Pacing(0, 0, 0, None))
    with pytest.raises(SourceError) as info:
        fetch_beatmaps(api(server, http, secret="s3cr3t-value"), [2354779], set(), lambda f: None)
    assert "invalid_client" in str(info.value) and "s3cr3t-value" not in str(info.value)


def test_secret_never_shows_in_repr(monkeypatch):
    monkeypatch.setenv("KIAI_OSU_CLIENT_SECRET", "s3cr3t-value")
    monkeypatch.setenv("KIAI_OSU_CLIENT_ID", "42")
    settings = load_settings(Config())
    assert settings.client_secret.reveal() == "s3cr3t-value"
    for text in (repr(settings), str(settings.client_secret), f"{settings.client_secret}", repr(Secret("x"))):
        assert "s3cr3t" not in text and "x'" not in text


def test_beatmaps_chunked_by_50_and_matched_by_id(server):
    http = client(Recorder(), Pacing(0, 0, 0, None))
    landed: list[Fetched] = []
    known = sorted(server.world.beatmaps)
    ids = known + list(range(1, 30))  # 29 ids the API does not know
    summary = fetch_beatmaps(api(server, http), ids, {known[0]}, landed.append)
    sent = [q["ids[]"] for _, _, q in server.requests_to("/api/v2/beatmaps")]
    assert all(len(chunk) <= 50 for chunk in sent) and len(sent) == -(-(len(ids) - 1) // 50)
    assert summary.found == len(known) - 1 and sorted(summary.missing) == list(range(1, 30))
    assert summary.skipped == 1
    assert all(f.params["ids"] == [int(i) for i in chunk] for f, chunk in zip(landed, sent, strict=True))


def test_user_scores_paged_up_to_100_and_resumable(server):
    http = client(Recorder(), Pacing(0, 0, 0, None))
    osu = api(server, http)
    landed: list[Fetched] = []
    pages, seen = fetch_user_scores(osu, 7562902, "firsts", landed.append, {}, page_size=2)
    total = len(server.world.user_scores[(7562902, "firsts")])
    assert seen == total and pages == total // 2 + 1
    assert [f.params["offset"] for f in landed] == list(range(0, 2 * pages, 2))
    resumed: list[Fetched] = []
    done = {f.params["offset"]: len(f.json()) for f in landed[:2]}
    pages, seen = fetch_user_scores(osu, 7562902, "firsts", resumed.append, done, page_size=2)
    assert seen == total and [f.params["offset"] for f in resumed] == [f.params["offset"] for f in landed[2:]]
    missing: list[Fetched] = []
    fetch_user_scores(osu, 424242, "best", missing.append, {})
    assert [f.http_status for f in missing] == [404]


@pytest.mark.parametrize("fault", ["html", "wrong_md5", "empty", "truncate", "500"])
def test_bad_downloads_never_kept_and_retried(server, tmp_path, fault):
    http = client(Recorder(), Pacing(0, 0, 0, None), retries=1)
    targets = sorted((i, server.world.beatmaps[i]["checksum"]) for i in server.world.osu_files)[:4]
    server.inject(fault, path=f"/osu/{targets[1][0]}", times=2 if fault in ("truncate", "500") else 1)
    attempts = []
    summary = Downloader(http, server.base_url, tmp_path, attempts.append, min_free_mb=0, say=lambda s: None).run(
        targets
    )
    assert summary.downloaded == 4 and not summary.failed
    for beatmap_id, checksum in targets:
        assert hashlib.md5((tmp_path / f"{beatmap_id}.osu").read_bytes()).hexdigest() == checksum
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{i}.osu" for i, _ in targets)
    bad = [a for a in attempts if a.outcome != "ok"]
    assert [a.beatmap_id for a in bad] == [targets[1][0]]


def test_download_skips_valid_files_and_replaces_wrong_ones(server, tmp_path):
    http = client(Recorder(), Pacing(0, 0, 0, None))
    targets = sorted((i, server.world.beatmaps[i]["checksum"]) for i in server.world.osu_files)[:3]
    (tmp_path / f"{targets[0][0]}.osu").write_bytes(server.world.osu_files[targets[0][0]])
    (tmp_path / f"{targets[1][0]}.osu").write_bytes(b"osu file format v14\n stale")
    (tmp_path / f"{targets[2][0]}.osu").write_bytes(b"")
    summary = Downloader(http, server.base_url, tmp_path, lambda a: None, 0, say=lambda s: None).run(targets)
    assert (summary.skipped, summary.downloaded) == (1, 2)
    assert [p for _, p, _ in server.requests_to("/osu/")] == [f"/osu/{i}" for i, _ in targets[1:]]


def test_disk_guard_stops_before_writing(server, tmp_path):
    http = client(Recorder(), Pacing(0, 0, 0, None))
    targets = sorted((i, server.world.beatmaps[i]["checksum"]) for i in server.world.osu_files)
    said: list[str] = []
    summary = Downloader(http, server.base_url, tmp_path, lambda a: None, 10**12, say=said.append).run(targets)
    assert summary.stopped_low_disk and "below the limit" in summary.stopped_low_disk
    assert summary.downloaded == 0 and list(tmp_path.iterdir()) == []
    assert "MB free" in said[0]
