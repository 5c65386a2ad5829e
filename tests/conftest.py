"""Shared test fixtures: a fresh warehouse path and the demo's sample world; every test under tests/e2e/ is slow."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import run_kiai

E2E = Path(__file__).parent / "e2e"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the end-to-end tests slow (`-m "not slow"` is the quick loop; CI runs them all)."""
    for item in items:
        if E2E in item.path.parents:
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "warehouse" / "kiai.duckdb"


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The quick sample world of `kiai demo --quick --no-train` (landed and built, not trained): read it, do not
    write to it."""
    cwd = tmp_path_factory.mktemp("demo_world")
    run_kiai("demo", "--quick", "--no-train", cwd=cwd, env={"KIAI_DB": "", "KIAI_CONFIG": "", "KIAI_DATA_DIR": ""})
    return cwd / "warehouse" / "kiai.duckdb"
