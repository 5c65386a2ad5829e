"""The sandbox speaks the osu! API and osu!collector like the real services (per FORMATS.md), over HTTP."""

from __future__ import annotations

import hashlib
import json

import pytest
import requests

from kiai.sandbox import SandboxServer, world_from_fixtures
from tests.support.paths import FIXTURES


@pytest.fixture(scope="module")
def server():
    with SandboxServer(world_from_fixtures(FIXTURES)) as srv:
        yield srv


def _token(server: SandboxServer, secret: str | None = None) -> requests.Response:
    world = server.world
    data = {
        "client_id": world.client_id,
        "client_secret": secret or world.client_secret,
        "grant_type": "client_credentials",
        "scope": "public",
    }
    return requests.post(f"{server.base_url}/oauth/token", data=data, timeout=5)


def _auth(server: SandboxServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {_token(server).json()['access_token']}"}


def test_token_endpoint_checks_the_client(server):
    good = _token(server)
    assert good.status_code == 200 and good.json()["token_type"] == "Bearer"
    assert good.json()["expires_in"] == 86400
    bad = _token(server, secret="wrong")
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"


def test_api_needs_a_token(server):
    response = requests.get(f"{server.base_url}/api/v2/beatmaps", params={"ids[]": [2354779]}, timeout=5)
    assert response.status_code == 401 and response.json() == {"authentication": "basic"}


def test_beatmaps_like_osu_web(server):
    url = f"{server.base_url}/api/v2/beatmaps"
    ids = [2906626, 2354779, 5, *range(10, 70)]  # unknown ids, more than 50, not sorted
    body = requests.get(url, params={"ids[]": ids}, headers=_auth(server), timeout=5)
    assert [b["id"] for b in body.json()["beatmaps"]] == [2354779, 2906626]
    assert "\\/" in body.text  # PHP json_encode escapes slashes
    past_50 = requests.get(url, params={"ids[]": [*range(1, 51), 2354779]}, headers=_auth(server), timeout=5)
    assert past_50.json() == {"beatmaps": []}  # only the first 50 ids count
    plain = requests.get(url, params={"ids": [2354779]}, headers=_auth(server), timeout=5)
    assert plain.json() == {"beatmaps": []}  # without the brackets PHP sees no array


def test_user_scores_pages_and_404(server):
    url = f"{server.base_url}/api/v2/users/7562902/scores/firsts"
    first = requests.get(url, params={"limit": 2}, headers=_auth(server), timeout=5).json()
    rest = requests.get(url, params={"limit": 100, "offset": 2}, headers=_auth(server), timeout=5).json()
    recorded = json.loads((FIXTURES / "api/get_user_scores_firsts_7562902_legacy_format_recorded.json").read_text())
    assert [s["id"] for s in first + rest] == [s["id"] for s in recorded]
    missing = requests.get(f"{server.base_url}/api/v2/users/1/scores/best", headers=_auth(server), timeout=5)
    assert missing.status_code == 404 and missing.json() == {"error": None}


def test_osu_files_and_collector(server):
    beatmap_id, data = next(iter(server.world.osu_files.items()))
    osu = requests.get(f"{server.base_url}/osu/{beatmap_id}", timeout=5)
    assert osu.content == data
    assert hashlib.md5(osu.content).hexdigest() == server.world.beatmaps[beatmap_id]["checksum"]
    collection = requests.get(f"{server.base_url}/api/collections/44", timeout=5).json()
    assert collection["beatmapCount"] == 50
    pages, cursor = [], None
    while True:
        params = {"perPage": 25, **({"cursor": cursor} if cursor is not None else {})}
        page = requests.get(f"{server.base_url}/api/collections/44/beatmapsv2", params=params, timeout=5).json()
        pages.append(page)
        if not page["hasMore"]:
            break
        cursor = page["nextPageCursor"]
    recorded = json.loads((FIXTURES / "collector/collection_44_beatmapsv2_perPage25_page1.json").read_text())
    assert pages[0] == recorded
    assert len(pages) == 2 and pages[1]["nextPageCursor"] is None
    assert requests.get(f"{server.base_url}/api/collections/9", timeout=5).status_code == 404


def test_faults_on_demand(server):
    beatmap_id = next(iter(server.world.osu_files))
    url = f"{server.base_url}/osu/{beatmap_id}"
    server.inject("html", path="/osu/")
    assert requests.get(url, timeout=5).text.startswith("<!DOCTYPE html>")
    server.inject("429", path="/osu/", after=1)
    assert requests.get(url, timeout=5).status_code == 200
    throttled = requests.get(url, timeout=5)
    assert throttled.status_code == 429 and "Retry-After" not in throttled.headers
    server.inject("truncate", path="/osu/")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(url, timeout=5)
    server.inject("stall", path="/osu/", seconds=1.0)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(url, timeout=0.3)
    server.inject("wrong_md5", path="/osu/")
    assert requests.get(url, timeout=5).content != server.world.osu_files[beatmap_id]
    assert requests.get(url, timeout=5).content == server.world.osu_files[beatmap_id]


def test_misbehaving_bodies_on_demand(server):
    url = f"{server.base_url}/osu/{next(iter(server.world.osu_files))}"
    server.inject("gzip_bomb", path="/osu/", size=8 * 2**20)
    bomb = requests.get(url, timeout=5)
    assert bomb.headers["Content-Encoding"] == "gzip" and int(bomb.headers["Content-Length"]) < 2**16
    assert bomb.content == bytes(8 * 2**20)
    server.inject("huge", path="/osu/", size=3 * 2**20, declared=False)
    huge = requests.get(url, timeout=5)
    assert "Content-Length" not in huge.headers and len(huge.content) == 3 * 2**20
    server.inject("wrong_shape", path="/osu/", body=b"[1]")
    assert requests.get(url, timeout=5).json() == [1]
    server.inject("trickle", path="/osu/", seconds=0.05)
    with requests.get(url, timeout=5, stream=True) as trickled:  # a per-read timeout never fires
        assert (
            trickled.status_code == 200
            and trickled.raw.read(3) == server.world.osu_files[int(url.rsplit("/", 1)[1])][:3]
        )
