"""`kiai init [PATH]` and `kiai tables`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from kiai.cli._common import state
from kiai.config import DEFAULT_DB
from kiai.errors import KiaiError


def init(
    path: Path | None = typer.Argument(
        None,
        metavar="PATH",
        help="Make this folder a project: kiai.toml, models/ and its warehouse [default: no project].",
    ),
    copy_models: bool = typer.Option(
        False, "--copy-models", help="With PATH: copy every shipped model into models/ and build only those."
    ),
) -> None:
    """Create the warehouse file, its schemas and tables (idempotent); with PATH, a project of your own.

    A project is a folder with a kiai.toml and a models/ folder whose SQL models are built with the ones kiai
    ships; run kiai in it. Existing files are kept.
    """
    from kiai.house import Warehouse
    from kiai.scaffold import init_project

    db_path = state.config.db_path
    if path is not None:
        result = init_project(path, copy_models=copy_models)
        verb = "wrote" if result.config_written else "kept the existing"
        state.console.print(f"{verb} {escape(str(result.config))}; SQL models go in {escape(str(result.models))}/")
        if copy_models:
            state.console.print(f"copied {len(result.copied)} shipped files, kept {len(result.kept)} already there")
        db_path = state.db_override or path / DEFAULT_DB
    elif copy_models:
        raise KiaiError(
            "--copy-models copies into a project: give its folder, e.g. `kiai init myproject --copy-models`"
        )
    Warehouse(db_path, config=state.config).create()
    state.console.print(f"warehouse ready: {escape(str(db_path))}", highlight=False)
    if path is not None:
        state.console.print(f"next: cd {escape(str(path))} && kiai build-features", highlight=False)


def migrate() -> None:
    """Bring a warehouse written by an older kiai up to date: its pending schema migrations, each all or nothing.

    Writing commands do this too, with a one-line notice; commands that only read refuse an older warehouse and
    say to run this. Nothing landed is lost: parsed rows are rebuilt from the bytes kept in raw.osu_files.
    """
    result, db_path = state.house().migrate(), escape(str(state.config.db_path))
    if not result.applied:
        state.console.print(f"nothing to do: {db_path} is at schema version {result.schema_version}")
    for step in result.applied:
        state.console.print(f"migrated {db_path} to {escape(step.line())}", highlight=False)


def tables() -> None:
    """Every table and view in the warehouse with its row count."""
    table = Table("schema", "name", "kind", "rows")
    for t in state.house().tables():
        table.add_row(t.schema, t.name, t.kind, "?" if t.rows is None else f"{t.rows:,}")
    state.console.print(table)


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("tables")(tables)
    app.command("migrate")(migrate)
