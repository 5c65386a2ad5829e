"""The sandbox world of tests/fixtures with two collections on 127.0.0.1, a working folder whose kiai.toml points
at it, and `kiai` run there: in this process (`kiai`), or in a subprocess killed with SIGKILL once a condition holds
(`kill_when`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kiai.sandbox import SandboxServer, world_from_fixtures
from kiai.sandbox.world import collection_body
from tests.support.cli import Invoked, invoke
from tests.support.paths import FIXTURES

SECRET = "kiai-TEST-secret-5f0c9e1d"


@pytest.fixture
def server():
    world = world_from_fixtures(FIXTURES)
    world.client_secret = SECRET
    osu_ids = sorted(world.osu_files)
    world.collections[1001] = collection_body(1001, "streams", [world.beatmaps[i] for i in osu_ids[::2]])
    world.collections[1002] = collection_body(1002, "jumps", [world.beatmaps[i] for i in osu_ids[1::2]])
    with SandboxServer(world) as srv:
        yield srv


def project(tmp_path: Path, server: SandboxServer, gap: float = 0.0, extra: str = "") -> tuple[Path, dict]:
    """A working folder with kiai.toml pointing at the sandbox, and the env holding the credentials."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "kiai.toml").write_text(
        f"""
[paths]
db = "wh.duckdb"
[osu]
base_url = "{server.base_url}"
[collector]
base_url = "{server.base_url}"
[collections]
stream = [1001]
jump = [1002, 999]
[http]
api_min_gap = {gap}
api_max_gap = {gap}
api_failure_gap = 0.05
collector_min_gap = {gap}
collector_max_gap = {gap}
collector_failure_gap = 0.05
download_min_gap = {gap}
download_max_gap = {gap}
download_failure_gap = 0.05
backoff_base = 0.05
timeout = 1.0
{extra}
"""
    )
    env = {"KIAI_OSU_CLIENT_ID": server.world.client_id, "KIAI_OSU_CLIENT_SECRET": SECRET, "KIAI_CONFIG": ""}
    return tmp_path, env


def kiai(cwd: Path, env: dict, *args: str, check: bool = True) -> Invoked:
    return invoke(*args, cwd=cwd, env=env, check=check)


def kill_when(cwd: Path, env: dict, args: list[str], ready) -> None:
    command = [sys.executable, "-m", "kiai", *args]
    proc = subprocess.Popen(
        command, cwd=cwd, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while not ready() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
