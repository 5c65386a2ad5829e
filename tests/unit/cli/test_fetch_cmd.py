"""The fetch/download commands, in-process against the sandbox on 127.0.0.1, with faults injected and secrets
searched for in every output and in the warehouse bytes (kill -9 resumes: tests/e2e/test_fetch.py)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb

from tests.support.cli import Invoked
from tests.support.sandbox import SECRET, kiai, project
from tests.support.sandbox import server as sandbox

server = sandbox  # the fixture: the sandbox world of tests/fixtures with two collections


def snapshot(cwd: Path) -> dict:
    """What a finished run leaves behind, minus ids and timestamps."""
    con = duckdb.connect(str(cwd / "wh.duckdb"), read_only=True)
    try:
        responses = sorted(
            con.execute(
                "SELECT source, endpoint, CAST(params AS VARCHAR), http_status, body FROM raw.api_responses"
            ).fetchall()
        )
        files = sorted(con.execute("SELECT md5, beatmap_id, size_bytes FROM raw.osu_files").fetchall())
        parsed = con.execute("SELECT count(*) FROM parsed.hit_objects").fetchone()
    finally:
        con.close()
    folder = cwd / "data" / "beatmaps"
    data = (
        sorted((p.name, hashlib.md5(p.read_bytes()).hexdigest()) for p in folder.iterdir()) if folder.exists() else []
    )
    return {"responses": responses, "osu_files": files, "hit_objects": parsed, "data": data}


def run_all(cwd: Path, env: dict) -> list[Invoked]:
    return [
        kiai(cwd, env, "auth", "check"),
        kiai(cwd, env, "fetch", "collections"),
        kiai(cwd, env, "fetch", "beatmaps"),
        kiai(cwd, env, "fetch", "user-scores", "7562902", "--type", "firsts", "--page-size", "3"),
        kiai(cwd, env, "fetch", "user-scores", "1", "--type", "best"),
        kiai(cwd, env, "download", "osu-files"),
    ]


def test_complete_under_faults_and_no_secret_anywhere(server, tmp_path):
    cwd, env = project(tmp_path / "faulty", server)
    server.inject("expire_token", path="/api/v2/beatmaps")  # 401 mid-run
    server.inject("429", path="/api/v2/users/", after=1)
    server.inject("500", path="/api/collections/", times=2)
    server.inject("stall", path="/api/v2/beatmaps", after=1, seconds=2.5)
    server.inject("truncate", path="/api/v2/users/")
    server.inject("html", path="/osu/", after=1)
    server.inject("wrong_md5", path="/osu/", after=3)
    server.inject("empty", path="/osu/", after=5)
    server.inject("truncate", path="/osu/", after=7)
    faulty = run_all(cwd, env)
    assert "token valid until" in faulty[0].stdout
    assert "not found (404)" in faulty[4].stdout
    assert all(f.times == 0 for f in server.faults), "every fault was hit"
    issued = list(server.issued)
    assert len(issued) >= 2  # renewed after the 401

    server.faults.clear()
    clean_cwd, clean_env = project(tmp_path / "clean", server)
    run_all(clean_cwd, clean_env)
    assert snapshot(cwd) == snapshot(clean_cwd)
    state = snapshot(cwd)
    assert len(state["data"]) == len(server.world.osu_files)
    assert len(state["osu_files"]) in (0, len(server.world.osu_files))  # 0 only if the ingest is absent

    outputs = "".join(r.stdout + r.stderr for r in faulty)
    blobs = b"".join(p.read_bytes() for p in cwd.rglob("*") if p.is_file())
    for secret in [SECRET, *issued]:
        assert secret not in outputs
        assert secret.encode() not in blobs, "a secret reached the warehouse or the data folder"


def test_reruns_add_nothing(server, tmp_path):
    cwd, env = project(tmp_path, server)
    run_all(cwd, env)
    before, requests_before = snapshot(cwd), len(server.log)
    again = kiai(cwd, env, "fetch", "beatmaps")
    assert "already fetched" in again.stdout
    kiai(cwd, env, "fetch", "collections")
    kiai(cwd, env, "download", "osu-files")
    assert snapshot(cwd) == before
    assert all(
        path != "/api/v2/beatmaps" and not path.startswith("/osu/") for _, path, _ in server.log[requests_before:]
    )


def test_wrong_secret_is_a_one_line_error(server, tmp_path):
    cwd, env = project(tmp_path, server)
    env["KIAI_OSU_CLIENT_SECRET"] = "wrong-" + SECRET
    result = kiai(cwd, env, "auth", "check", check=False)
    assert result.returncode == 1 and "invalid_client" in result.stderr and "Traceback" not in result.stderr
    assert SECRET not in result.stdout + result.stderr
    env.pop("KIAI_OSU_CLIENT_SECRET")
    missing = kiai(cwd, {**env, "KIAI_OSU_CLIENT_SECRET": ""}, "auth", "check", check=False)
    assert missing.returncode == 1 and "KIAI_OSU_CLIENT_SECRET" in missing.stderr


def test_disk_guard_stops_cleanly(server, tmp_path):
    cwd, env = project(tmp_path, server, extra="min_free_mb = 1e12")
    kiai(cwd, env, "fetch", "collections")
    kiai(cwd, env, "fetch", "beatmaps")
    result = kiai(cwd, env, "download", "osu-files", check=False)
    assert result.returncode == 1 and "below the limit" in result.stderr and "Traceback" not in result.stderr
    assert "MB free" in result.stdout
    assert not list((cwd / "data" / "beatmaps").iterdir())
    assert not server.requests_to("/osu/")


def test_a_hostile_server_neither_hangs_nor_fills_a_download(server, tmp_path):
    cwd, env = project(tmp_path, server, extra="deadline = 1.0\n[limits]\nosu_file_mb = 1")
    kiai(cwd, env, "fetch", "collections")
    kiai(cwd, env, "fetch", "beatmaps")
    # the 1st request trickles (its retry, the 2nd, is served), the 4th is a gzip bomb, the 6th a 1 GB body
    server.inject("trickle", path="/osu/", seconds=0.3)
    server.inject("gzip_bomb", path="/osu/", after=3, size=256 * 2**20)
    server.inject("huge", path="/osu/", after=5, size=2**30, declared=False)
    result = kiai(cwd, env, "download", "osu-files")
    assert "Traceback" not in result.stderr and "no complete answer within 1 s ([http] deadline)" in result.stderr
    wanted = len(server.world.osu_files)
    assert f"{wanted} wanted, {wanted - 2} downloaded" in result.stdout, result.stdout
    with duckdb.connect(str(cwd / "wh.duckdb"), read_only=True) as con:
        outcomes = con.execute("SELECT outcome, count(*) FROM raw.download_attempts GROUP BY ALL ORDER BY 1").fetchall()
    assert outcomes == [("ok", wanted - 2), ("too_large", 2)]


def test_wrong_shape_and_plain_http_are_one_line_errors(server, tmp_path):
    cwd, env = project(tmp_path, server)
    kiai(cwd, env, "fetch", "collections")
    server.inject("wrong_shape", path="/api/v2/beatmaps", body=b'{"beatmaps": {"id": 1}}')
    result = kiai(cwd, env, "fetch", "beatmaps", check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "/api/v2/beatmaps answered 200 with" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    insecure = kiai(cwd, {**env, "KIAI_OSU_BASE_URL": "http://osu.example.com"}, "auth", "check", check=False)
    assert insecure.returncode == 1 and "plain http:// would send the client secret in clear text" in insecure.stderr
    assert SECRET not in insecure.stdout + insecure.stderr
