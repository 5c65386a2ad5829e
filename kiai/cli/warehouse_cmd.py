"""`kiai init` and `kiai tables`."""

from __future__ import annotations

import typer
from rich.table import Table

from kiai import warehouse
from kiai.cli._common import console, state


def init() -> None:
    """Create the warehouse file, its schemas and tables (idempotent)."""
    from kiai.load import ensure_tables

    con = state.open(write=True)
    ensure_tables(con)
    con.close()
    console.print(f"warehouse ready: {state.config.db_path}")


def tables() -> None:
    """Every table and view in the warehouse with its row count."""
    con = state.open(write=False)
    table = Table("schema", "name", "kind", "rows")
    for schema, name, kind, rows in warehouse.table_counts(con):
        table.add_row(schema, name, kind, "?" if rows is None else f"{rows:,}")
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("tables")(tables)
