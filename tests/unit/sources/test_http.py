"""The HTTP layer, OAuth, the osu! API and the downloader against the sandbox over real HTTP on 127.0.0.1.

Sleeps are recorded instead of slept, so backoff and pacing are asserted without waiting."""

from __future__ import annotations

import hashlib
import logging
import re
import time
from dataclasses import replace

import pytest

from kiai.config import Config, load_config
from kiai.errors import KiaiError
from kiai.progress import Notice, RecordingReporter
from kiai.sandbox import SandboxServer, world_from_fixtures
from kiai.sources.clients import Sources
from kiai.sources.downloads import OSU_FILE, Downloader, looks_like_osu
from kiai.sources.http import BodyTooLarge, Fetched, HttpClient, SourceError
from kiai.sources.oauth import ClientCredentials
from kiai.sources.osu_api import OsuApi, fetch_beatmaps, fetch_user_scores
from kiai.sources.settings import Pacing, RetryPolicy, Secret, load_settings
from tests.support.paths import FIXTURES

FAST = Pacing(min_gap=0.3, max_gap=0.5, failure_gap=1.0, per_minute=60)


@pytest.fixture
def server():
    with SandboxServer(world_from_fixtures(FIXTURES)) as srv:
        yield srv


class Recorder:
    """Stands in for time.sleep: remembers the delays and advances a fake clock by them."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self.notes: list[str | None] = []
        self.now = 1000.0

    def sleep(self, seconds: float) -> None:
        self.delays.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def client(
    recorder: Recorder,
    pacing: Pacing = FAST,
    retries: int = 5,
    timeout: float = 5.0,
    deadline: float = 60.0,
    max_wait: float = 300.0,
    max_bytes: int = 2**20,
) -> HttpClient:
    retry = RetryPolicy(retries, 1.0, 60.0, timeout, deadline, max_wait)
    http = HttpClient(pacing, retry, sleep=recorder.sleep, clock=recorder.clock, rng=lambda: 1.0, max_bytes=max_bytes)
    http.on_wait = recorder.notes.append
    return http


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


def test_429_uses_retry_after_or_backs_off_up_to_a_minute_and_says_until_when(server):
    rec = Recorder()
    http = client(rec, Pacing(0, 0, 0, None), retries=10, max_wait=120)
    url = f"{server.base_url}/osu/{next(iter(server.world.osu_files))}"
    server.inject("429", path="/osu/", retry_after="90")
    assert http.request("GET", url).status_code == 200
    assert rec.delays == [90.0]
    assert re.fullmatch(r"429 Too Many Requests, the server asked to wait \(Retry-After\): waiting 90 s, "
                        r"until \d\d:\d\d:\d\d", rec.notes[0]) and rec.notes[1] is None  # fmt: skip
    rec.delays.clear()
    server.inject("429", path="/osu/", times=8)
    assert http.request("GET", url).status_code == 200
    assert rec.delays == [1, 2, 4, 8, 16, 32, 60, 60]
    server.inject("429", path="/osu/", retry_after="3600")  # longer than max_wait: stop, with one line
    with pytest.raises(SourceError, match=r"asked to wait 3,600 s \(until .*\), longer than the 120 s kiai waits"):
        http.request("GET", url)
    assert rec.delays == [1, 2, 4, 8, 16, 32, 60, 60]  # nothing more was waited


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


def test_no_secret_in_any_repr_log_or_error(server, tmp_path, monkeypatch, caplog, capsys):
    secret = server.world.client_secret
    (tmp_path / "kiai.toml").write_text(
        f'[osu]\nclient_id = "{server.world.client_id}"\nclient_secret = "{secret}"\nbase_url = "{server.base_url}"\n'
        f'[other]\napi_token = "{secret}"\n'
        "[http]\nmax_retries = 2\nbackoff_base = 0.01\napi_min_gap = 0\napi_max_gap = 0\napi_failure_gap = 0\n"
    )
    monkeypatch.delenv("KIAI_OSU_CLIENT_SECRET", raising=False)
    config = load_config(config_file=tmp_path / "kiai.toml")
    caplog.set_level(logging.DEBUG)  # urllib3 and requests log every request at DEBUG
    sources = Sources(load_settings(config))
    osu = sources.osu_api()
    server.inject("429", path="/api/v2/beatmaps", retry_after="0")
    landed: list[Fetched] = []
    fetch_beatmaps(osu, [2354779], set(), landed.append)
    server.inject("expire_token", path="/api/v2/beatmaps")
    fetch_beatmaps(osu, [2906626], set(), landed.append)
    errors = []
    for wrong in ("wrong-" + secret, secret + "x"):
        with pytest.raises(SourceError) as info:
            ClientCredentials(sources.http("api"), server.base_url, server.world.client_id, Secret(wrong)).fetch()
        errors.append(str(info.value) + repr(info.value))
    server.inject("500", path="/api/v2/", times=10)
    with pytest.raises(SourceError) as info:
        fetch_beatmaps(osu, [3578277], set(), landed.append)
    errors.append(str(info.value))
    texts = [repr(config), str(config), repr(sources.settings), repr(osu.auth), repr(landed), *errors]
    texts += [caplog.text, *capsys.readouterr(), repr(server.log)]
    assert len(server.issued) >= 2 and "***" in repr(config)
    for needle in (secret, "wrong-" + secret, *server.issued):
        assert not any(needle in text for text in texts), needle


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
    first = fetch_user_scores(osu, 7562902, "firsts", landed.append, {}, page_size=2)
    total = len(server.world.user_scores[(7562902, "firsts")])
    assert first.seen == total and first.pages == total // 2 + 1 and not first.not_found
    assert [f.params["offset"] for f in landed] == list(range(0, 2 * first.pages, 2))
    resumed: list[Fetched] = []
    done = {f.params["offset"]: len(f.json()) for f in landed[:2]}
    again = fetch_user_scores(osu, 7562902, "firsts", resumed.append, done, page_size=2)
    assert again.seen == total and [f.params["offset"] for f in resumed] == [f.params["offset"] for f in landed[2:]]
    missing: list[Fetched] = []
    assert fetch_user_scores(osu, 424242, "best", missing.append, {}).not_found
    assert [f.http_status for f in missing] == [404]
    assert fetch_user_scores(osu, 424242, "best", missing.append, {0: -1}).not_found  # a stored 404: no request
    assert len(missing) == 1


@pytest.mark.parametrize("fault", ["html", "wrong_md5", "empty", "truncate", "500"])
def test_bad_downloads_never_kept_and_retried(server, tmp_path, fault):
    http = client(Recorder(), Pacing(0, 0, 0, None), retries=1)
    targets = sorted((i, server.world.beatmaps[i]["checksum"]) for i in server.world.osu_files)[:4]
    server.inject(fault, path=f"/osu/{targets[1][0]}", times=2 if fault in ("truncate", "500") else 1)
    attempts = []
    summary = Downloader(http, server.base_url, tmp_path, attempts.append, min_free_mb=0).run(targets)
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
    summary = Downloader(http, server.base_url, tmp_path, lambda a: None, 0).run(targets)
    assert (summary.skipped, summary.downloaded) == (1, 2)
    assert [p for _, p, _ in server.requests_to("/osu/")] == [f"/osu/{i}" for i, _ in targets[1:]]


def test_disk_guard_stops_before_writing(server, tmp_path):
    http = client(Recorder(), Pacing(0, 0, 0, None))
    targets = sorted((i, server.world.beatmaps[i]["checksum"]) for i in server.world.osu_files)
    said = RecordingReporter()
    summary = Downloader(http, server.base_url, tmp_path, lambda a: None, 10**12, reporter=said).run(targets)
    assert summary.stopped_low_disk and "below the limit" in summary.stopped_low_disk
    assert summary.downloaded == 0 and list(tmp_path.iterdir()) == []
    assert "MB free" in said.texts(Notice)[0]


def test_a_trickling_server_meets_the_deadline_and_counts_as_a_failure(server):
    rec = Recorder()
    http = client(rec, Pacing(0, 0, 0, None), retries=1, deadline=1.0)
    beatmap_id, data = next(iter(server.world.osu_files.items()))
    url = f"{server.base_url}/osu/{beatmap_id}"
    server.inject("trickle", path="/osu/", seconds=0.2)  # headers and body, a byte every 0.2 s
    assert http.request("GET", url).content == data  # the second try is served whole
    assert len(rec.delays) == 1 and "no complete answer within 1 s" in rec.notes[0]
    server.inject("trickle", path="/osu/", times=2, seconds=0.2)
    started = time.monotonic()
    with pytest.raises(SourceError, match=r"failed 2 times \(last: no complete answer within 1 s"):
        http.request("GET", url)
    assert time.monotonic() - started < 30  # two deadlines, not the hours the trickle would take


@pytest.mark.parametrize(
    ("fault", "options"),
    [("gzip_bomb", {"size": 64 * 2**20}), ("huge", {"size": 2**30, "declared": False}), ("huge", {"size": 2**30})],
)
def test_bodies_over_the_cap_are_refused_without_reading_them_whole(server, fault, options):
    http = client(Recorder(), Pacing(0, 0, 0, None), max_bytes=2**20)
    url = f"{server.base_url}/osu/{next(iter(server.world.osu_files))}"
    server.inject(fault, path="/osu/", times=5, **options)
    with pytest.raises(BodyTooLarge, match=r"sent more than 1 MB"):
        http.request("GET", url)
    assert len(server.requests_to("/osu/")) == 1  # refused at once, not retried
    server.faults.clear()
    assert http.request("GET", url).status_code == 200  # the connection pool is still usable


def test_wrong_shape_answers_are_one_line_errors_naming_the_endpoint(server):
    http = client(Recorder(), Pacing(0, 0, 0, None))
    landed: list[Fetched] = []
    for body in (b"[]", b'{"beatmaps": "none"}', b'{"beatmaps": [{"id": "x"}]}'):
        server.inject("wrong_shape", path="/api/v2/beatmaps", body=body)
        with pytest.raises(SourceError, match=r"osu! API /api/v2/beatmaps answered 200 with .*; nothing was landed"):
            fetch_beatmaps(api(server, http), [2354779], set(), landed.append)
    server.inject("wrong_shape", path="/api/v2/users/", body=b'{"error": null}')
    with pytest.raises(SourceError, match=r"/api/v2/users/\{user\}/scores/\{type\} answered 200"):
        fetch_user_scores(api(server, http), 7562902, "best", landed.append, {})
    assert landed == []


def _serve(server: SandboxServer, beatmap_id: int, data: bytes, checksum: str | None) -> None:
    server.world.osu_files[beatmap_id] = data
    server.world.beatmaps[beatmap_id] = {"id": beatmap_id, "checksum": checksum}


def test_bytes_matching_the_checksum_are_the_file_whatever_they_look_like(server, tmp_path):
    headerless = (FIXTURES / "osu" / "adjacent-catmull-segments.osu").read_bytes()
    assert not looks_like_osu(headerless)
    _serve(server, 91, headerless, hashlib.md5(headerless).hexdigest())
    _serve(server, 92, (FIXTURES / "osu" / "old-stacking.osu").read_bytes(), None)  # no checksum: shape decides
    _serve(server, 93, b"<!DOCTYPE html><html>Not found</html>", None)
    _serve(server, 94, headerless, hashlib.md5(b"other").hexdigest())  # neither checksum nor shape
    attempts: list = []
    targets = [
        (91, server.world.beatmaps[91]["checksum"]),
        (92, None),
        (93, None),
        (94, hashlib.md5(b"other").hexdigest()),
    ]
    http = client(Recorder(), Pacing(0, 0, 0, None), retries=0)
    summary = Downloader(http, server.base_url, tmp_path, attempts.append, 0).run(targets)
    assert summary.downloaded == 2 and summary.failed == {93: "not_osu", 94: "not_osu"}
    assert (tmp_path / "91.osu").read_bytes() == headerless
    assert sorted(p.name for p in tmp_path.iterdir()) == ["91.osu", "92.osu"]
    again = Downloader(http, server.base_url, tmp_path, attempts.append, 0).run(targets[:2])
    assert again.skipped == 2 and again.downloaded == 0


def test_a_download_over_its_kinds_cap_is_too_large_and_not_retried(server, tmp_path):
    beatmap_id, data = next(iter(server.world.osu_files.items()))
    kind = replace(OSU_FILE, max_bytes=len(data) - 1)
    attempts: list = []
    http = client(Recorder(), Pacing(0, 0, 0, None))
    targets = [(beatmap_id, server.world.beatmaps[beatmap_id]["checksum"])]
    summary = Downloader(http, server.base_url, tmp_path, attempts.append, 0, kind=kind).run(targets)
    assert summary.failed == {beatmap_id: "too_large"} and [a.outcome for a in attempts] == ["too_large"]
    assert len(server.requests_to("/osu/")) == 1 and not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:8642", True),
        ("http://127.3.4.5", True),
        ("http://[::1]:80", True),
        ("http://localhost:1", True),
        ("https://osu.ppy.sh", True),
        ("http://osu.ppy.sh", False),
        ("http://10.0.0.2", False),
        ("http://127.0.0.1.example.com", False),
    ],
)
def test_plain_http_only_for_loopback(monkeypatch, url, allowed):
    monkeypatch.setenv("KIAI_OSU_BASE_URL", url)
    if allowed:
        assert load_settings(Config()).osu_base_url == url
    else:
        with pytest.raises(KiaiError, match="plain http:// would send the client secret in clear text"):
            load_settings(Config())
        monkeypatch.setenv("KIAI_OSU_ALLOW_PLAIN_HTTP", "1")
        assert load_settings(Config()).osu_base_url == url
