"""Landing data in the warehouse. Each loader owns its tables; `ensure_tables` creates them all."""

from __future__ import annotations

import duckdb

from kiai.load import api_responses, osu_tables, ppy_dump


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create every landing table that does not exist yet (idempotent)."""
    osu_tables.ensure_tables(con)
    api_responses.ensure_tables(con)
    ppy_dump.ensure_tables(con)
