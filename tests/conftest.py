"""Shared test fixtures: a fresh warehouse path and a CLI runner that goes through `kiai.cli.main`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
OSU_FIXTURES = FIXTURES / "osu"
SAME_TIME_FIXTURES = FIXTURES / "osu_same_time"  # constructed: several timing lines at one timestamp


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "warehouse" / "kiai.duckdb"


def run_kiai(
    *args: str,
    db: Path | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    input_text: str | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run the real `kiai` entry point in a subprocess (as a user would) and capture its output."""
    command = [sys.executable, "-m", "kiai"]
    if db is not None:
        command += ["--db", str(db)]
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    result = subprocess.run(
        command + list(args),
        capture_output=True,
        text=True,
        cwd=cwd,
        env=full_env,
        input=input_text,
        timeout=600,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"kiai {' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The quick sample world of `kiai demo --quick --no-train` (landed and built, not trained): read it, do not
    write to it."""
    cwd = tmp_path_factory.mktemp("demo_world")
    run_kiai("demo", "--quick", "--no-train", cwd=cwd, env={"KIAI_DB": "", "KIAI_CONFIG": "", "KIAI_DATA_DIR": ""})
    return cwd / "warehouse" / "kiai.duckdb"
