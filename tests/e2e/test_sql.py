"""`kiai sql` on a warehouse another process holds (a real second process: within one process DuckDB shares the
file instead), and on none at all."""

from __future__ import annotations

import duckdb
import pytest

from tests.support.cli import invoke, run_kiai
from tests.support.paths import OSU_FIXTURES


@pytest.fixture(scope="module")
def warehouse_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("sql") / "kiai.duckdb"
    invoke("ingest", "osu-files", str(OSU_FIXTURES), db=db)
    return db


def test_missing_and_locked_warehouse(tmp_path, warehouse_db):
    missing = run_kiai("sql", "SELECT 1", db=tmp_path / "none.duckdb", check=False)
    assert missing.returncode == 1 and "no warehouse at" in missing.stderr
    holder = duckdb.connect(str(warehouse_db))  # another process holds the write lock
    try:
        locked = run_kiai("sql", "SELECT 1", db=warehouse_db, check=False)
    finally:
        holder.close()
    assert locked.returncode == 1 and "in use by another process" in locked.stderr
