"""Landing data in the warehouse. Each loader owns its tables; `ensure_tables` creates them all.

Loaders are imported where used, so importing one (`kiai.load.osu_files`) does not pull in the
others' dependencies (sqlglot, the HTTP stack): ~0.2 s of `kiai ingest` start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create every landing table that does not exist yet (idempotent)."""
    from kiai import schema
    from kiai.load import api_responses, ppy_dump

    schema.create_osu_tables(con)
    schema.create_replay_tables(con)
    api_responses.ensure_tables(con)
    ppy_dump.ensure_tables(con)
    ppy_dump.ensure_stand_ins(con)
