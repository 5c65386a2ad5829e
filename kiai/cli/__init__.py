"""The `kiai` command line: a Typer app with one module per command group."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.markup import escape

from kiai import __version__
from kiai.cli import (
    demo_cmd,
    export_cmd,
    fetch_cmd,
    import_cmd,
    ingest_cmd,
    ml_cmd,
    models_cmd,
    sql_cmd,
    warehouse_cmd,
)
from kiai.cli._common import err_console, state
from kiai.cli._help import conventional_help
from kiai.errors import KiaiError

app = typer.Typer(
    name="kiai",
    help="An embedded SQL analytics warehouse for osu! data: one DuckDB file, one CLI.",
    rich_markup_mode="rich",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"kiai {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    db: Path | None = typer.Option(
        None, "--db", envvar="KIAI_DB", help="Warehouse file [default: warehouse/kiai.duckdb]."
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    state.db_override = db
    state._config = None


warehouse_cmd.register(app)
sql_cmd.register(app)
app.add_typer(ingest_cmd.app, name="ingest")
app.add_typer(import_cmd.app, name="import")
models_cmd.register(app)
export_cmd.register(app)
fetch_cmd.register(app)
ml_cmd.register(app)


demo_cmd.register(app)


def build_command() -> typer.main.TyperGroup:
    """The app as a click command, with the options Typer cannot declare patched in."""
    command = typer.main.get_command(app)
    sql_cmd.patch_command(command.commands["sql"])
    return conventional_help(command)


def main() -> None:
    """Entry point: run the app; expected failures print one line, Ctrl-C exits 130."""
    try:
        build_command()(prog_name="kiai")
    except KiaiError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err_console.print("interrupted: nothing half-written was kept; run the same command again to finish")
        sys.exit(130)
