"""kiai.warehouse: opening the DuckDB file."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from kiai import warehouse


def test_a_read_only_connection_spills_beside_the_warehouse(tmp_path: Path) -> None:
    """A sort larger than memory spills to disk; a read-only instance's default spill folder sat beside its
    throwaway anchor database, whose folder is deleted once the warehouse is open ("Failed to create directory")."""
    db = tmp_path / "kiai.duckdb"
    warehouse.connect(db).close()
    con = warehouse.connect(db, read_only=True)
    try:
        con.execute("SET memory_limit = '30MB'; SET threads = 1")
        sorted_rows = "SELECT md5(range::VARCHAR) AS m FROM range(3000000) ORDER BY m"
        assert con.execute(f"SELECT count(*) FROM ({sorted_rows})").fetchall() == [(3_000_000,)]
        assert con.execute("SELECT current_setting('temp_directory')").fetchall() == [(f"{db}.tmp",)]
    finally:
        con.close()
    assert not Path(f"{db}.tmp").exists()  # DuckDB removes its spill folder when the instance closes


def test_memory_limit_is_set_for_the_block_and_put_back_after_it_also_after_an_error() -> None:
    with duckdb.connect() as con:
        shown = "SELECT current_setting('memory_limit')"
        (default,) = con.execute(shown).fetchall()
        with pytest.raises(RuntimeError), warehouse.memory_limit(con, "64MB") as own:
            assert own == default[0]
            assert con.execute(shown).fetchall() == [("61.0 MiB",)]
            raise RuntimeError("a failed import")
        assert con.execute(shown).fetchall() == [default]
        con.execute("SET memory_limit = '1GB'")
        (users,) = con.execute(shown).fetchall()
        with warehouse.memory_limit(con, "64MB"):
            pass
        ((after,),) = con.execute(shown).fetchall()
        # a limit the user set stays theirs, as near as current_setting() shows it (0.1 MiB steps)
        assert after.endswith(" MiB") and round(abs(float(after[:-4]) - float(users[0][:-4])), 6) <= 0.1


def test_appending_keeps_the_row_groups_each_transaction_wrote_and_puts_the_vacuum_setting_back(
    tmp_path: Path,
) -> None:
    """Three transactions of 130,000 rows write two row groups each (122,880 rows, then the rest); a vacuum at a
    checkpoint would rewrite them into fewer, nearly all of the rows again."""
    db = str(tmp_path / "kiai.duckdb")
    shown = "SELECT current_setting('max_vacuum_tasks')"
    with duckdb.connect(db) as con:
        (default,) = con.execute(shown).fetchall()
        con.execute("CREATE TABLE t (i BIGINT)")
        with warehouse.appending(con):
            assert con.execute(shown).fetchall() == [(0,)]
            for _ in range(3):
                with warehouse.transaction(con):
                    con.execute("INSERT INTO t SELECT range FROM range(130000)")
        assert con.execute(shown).fetchall() == [default]
        with pytest.raises(RuntimeError), warehouse.appending(con):
            raise RuntimeError("an interrupted ingest")
        assert con.execute(shown).fetchall() == [default]
    with duckdb.connect(db) as con:
        row_groups = "SELECT count(DISTINCT row_group_id) FROM pragma_storage_info('t')"
        assert con.execute(row_groups).fetchall() == [(6,)]
        assert con.execute("SELECT count(*), count(DISTINCT i) FROM t").fetchall() == [(390_000, 130_000)]


def test_a_setting_is_set_for_the_block_and_the_connections_own_put_back_also_after_an_error() -> None:
    with duckdb.connect() as con:
        con.execute("SET threads = 3")
        with pytest.raises(RuntimeError), warehouse.setting(con, "threads", 1):
            assert con.execute("SELECT current_setting('threads')").fetchall() == [(1,)]
            raise RuntimeError("an interrupted ingest")
        assert con.execute("SELECT current_setting('threads')").fetchall() == [(3,)]
