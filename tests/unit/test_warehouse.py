"""kiai.warehouse: opening the DuckDB file."""

from __future__ import annotations

from pathlib import Path

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
