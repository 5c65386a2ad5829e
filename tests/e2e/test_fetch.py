"""A fetch or download killed with SIGKILL mid-run (`python -m kiai` in a subprocess against the sandbox on
127.0.0.1) and run again leaves what an uninterrupted run does."""

from __future__ import annotations

from tests.support.sandbox import kiai, kill_when, project
from tests.support.sandbox import server as sandbox
from tests.unit.cli.test_fetch_cmd import run_all, snapshot

server = sandbox  # the fixture: the sandbox world of tests/fixtures with two collections


def test_kill_9_and_rerun_equals_an_uninterrupted_run(server, tmp_path):
    clean_cwd, clean_env = project(tmp_path / "clean", server, gap=0.05)
    run_all(clean_cwd, clean_env)
    expected = snapshot(clean_cwd)

    cwd, env = project(tmp_path / "killed", server, gap=0.15)
    kiai(cwd, env, "fetch", "collections")
    users_before = len(server.requests_to("/api/v2/users/"))
    scores = ["fetch", "user-scores", "7562902", "--type", "firsts", "--page-size", "3"]
    kill_when(cwd, env, scores, lambda: len(server.requests_to("/api/v2/users/")) >= users_before + 1)
    kiai(cwd, env, "fetch", "beatmaps")
    folder = cwd / "data" / "beatmaps"
    kill_when(cwd, env, ["download", "osu-files"], lambda: folder.exists() and len(list(folder.glob("*.osu"))) >= 4)
    partial = len(list(folder.glob("*.osu")))
    assert 4 <= partial < len(server.world.osu_files)
    run_all(cwd, env)
    assert snapshot(cwd) == expected
