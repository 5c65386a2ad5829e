"""What a dump declared about its tables, kept beside the rows for `kiai sql --dialect mysql`.

DuckDB has no MySQL types, keys or defaults, so `SHOW COLUMNS` and `SHOW CREATE TABLE` read them
from here. The tables are kiai's own, in the `kiai` schema: a dump can never replace them. Their DDL:
kiai/schema/ppy_dump.sql.
"""

from __future__ import annotations

import duckdb

from kiai.catalog import METADATA_SCHEMA
from kiai.load.ppy_dump.schema import TableSchema
from kiai.warehouse import table_exists

SCHEMA = METADATA_SCHEMA
TABLES = f"{SCHEMA}.dump_tables"
COLUMNS = f"{SCHEMA}.dump_columns"  # both created by kiai/schema/ppy_dump.sql


def record(con: duckdb.DuckDBPyConnection, schema: TableSchema, imported_at: object) -> None:
    """Replace what is kept about `schema.name` with its declaration in this dump."""
    for table in (TABLES, COLUMNS):
        con.execute(f"DELETE FROM {table} WHERE lower(table_name) = lower(?)", [schema.name])
    con.execute(f"INSERT INTO {TABLES} VALUES (?, ?, ?)", [schema.name, schema.create_sql, imported_at])
    rows = [
        (schema.name, position, c.name, d.type, d.nullable, d.key, d.default, d.extra, d.collation, d.comment)
        for position, c in enumerate(schema.columns, start=1)
        if (d := c.declared) is not None
    ]
    con.executemany(f"INSERT INTO {COLUMNS} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def undeclared_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The dump tables imported by a kiai that kept no declaration (before kiai.dump_tables): their
    tinyint(1) flags are BOOLEAN and their text compares with case until the dump is imported again."""
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database() "
        "AND table_schema = 'ppy' AND table_name <> 'import_log' ORDER BY table_name"
    ).fetchall()
    declared: set[str] = set()
    if table_exists(con, SCHEMA, "dump_tables"):
        declared = {name.lower() for (name,) in con.execute(f"SELECT table_name FROM {TABLES}").fetchall()}
    return [name for (name,) in rows if name.lower() not in declared]
