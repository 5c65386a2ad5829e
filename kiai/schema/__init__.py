"""The warehouse's tables as DDL: the .sql files beside this module (package data in a wheel) create every landing
and metadata table: `.osu` and `.osr` files, API answers, the dump importer's log, the model runner's metadata.
The parsed tables' names and columns are read from that DDL, so that they are written once; schema and endpoint
names are in kiai.catalog.

How a warehouse written by an older layout is brought up to date: `kiai.schema.migrations`.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

FILES = "parsed.beatmap_files"  # one row per parsed file: md5 <-> file_id, and its metadata
PER_FILE = ("parsed.hit_objects", "parsed.timing_points", "parsed.breaks")  # keyed by file_id
PARSED_TABLES = (FILES, *PER_FILE)
PARSE_ERRORS = "parsed.parse_errors"
RAW_FILES = "raw.osu_files"
FILE_IDS = "parsed.file_ids"  # the sequence file ids come from
OSU_DDL = "osu_files"
REPLAYS = "parsed.replays"  # one row per parsed replay: md5 <-> replay_id, and its header
PER_REPLAY = ("parsed.replay_frames",)  # keyed by replay_id
REPLAY_DDL = "replays"  # raw.replays, parsed.replays, parsed.replay_frames, parsed.replay_errors, raw.replay_queue


def ddl(name: str) -> str:
    """The text of kiai/schema/<name>.sql."""
    return resources.files(__package__).joinpath(f"{name}.sql").read_text(encoding="utf-8")


def create_osu_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the `.osu` landing tables that do not exist yet (idempotent)."""
    con.execute(ddl(OSU_DDL))


def create_replay_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the replay landing tables that do not exist yet (idempotent)."""
    con.execute(ddl(REPLAY_DDL))


@functools.cache
def columns(table: str) -> tuple[str, ...]:
    """A landing table's columns in order, as its DDL declares them."""
    import duckdb

    schema, name = table.split(".")
    with duckdb.connect() as con:
        con.execute("CREATE SCHEMA raw; CREATE SCHEMA parsed")
        create_osu_tables(con)
        rows = con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE schema_name = ? AND table_name = ? ORDER BY column_index",
            [schema, name],
        ).fetchall()
    if not rows:
        raise KeyError(f"{table} is not a landing table of {OSU_DDL}.sql")
    return tuple(column for (column,) in rows)
