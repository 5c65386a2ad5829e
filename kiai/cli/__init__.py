"""The `kiai` command line: a Typer app with one module per command group."""

from __future__ import annotations

import sys

try:  # these imports take a second or more: Ctrl-C meanwhile ends in one line too, with nothing done
    from pathlib import Path

    import typer
    from rich.markup import escape

    from kiai.cli import (
        _interrupt,
        demo_cmd,
        export_cmd,
        fetch_cmd,
        import_cmd,
        ingest_cmd,
        ml_cmd,
        models_cmd,
        replay_cmd,
        sql_cmd,
        warehouse_cmd,
    )
    from kiai.cli._common import RootGroup, state
    from kiai.cli._help import conventional_help
    from kiai.errors import KiaiError
except KeyboardInterrupt:
    sys.stderr.write("interrupted before starting: nothing was done\n")
    raise SystemExit(130) from None

app = typer.Typer(
    name="kiai",
    cls=RootGroup,
    help="An embedded SQL analytics warehouse for osu! data: one DuckDB file, one CLI.",
    rich_markup_mode="rich",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


DB_HELP = "Warehouse file [default: $KIAI_DB, else warehouse/kiai.duckdb]."
WAIT_HELP = "While another process holds the warehouse, wait up to SECONDS for it [default: $KIAI_WAIT, else 0]."
INTERRUPTED = "interrupted: nothing half-written was kept; run the same command again to finish"


def _version(value: bool) -> None:
    if value:
        from kiai import __version__

        typer.echo(f"kiai {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    db: Path | None = typer.Option(None, "--db", envvar="KIAI_DB", help=DB_HELP),
    wait: float | None = typer.Option(None, "--wait", envvar="KIAI_WAIT", min=0, metavar="SECONDS", help=WAIT_HELP),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    state.db_override = db
    state.wait = wait
    state._config = None


warehouse_cmd.register(app)
sql_cmd.register(app)
app.add_typer(ingest_cmd.app, name="ingest")
app.add_typer(import_cmd.app, name="import")
models_cmd.register(app)
export_cmd.register(app)
fetch_cmd.register(app)
replay_cmd.register()
ml_cmd.register(app)


demo_cmd.register(app)


def build_command() -> typer.main.TyperGroup:
    """The app as a click command, with conventional help."""
    return conventional_help(typer.main.get_command(app))


def main() -> None:
    """The console script: `run` the command line, with Ctrl-C handled (one line, exit 130)."""
    _interrupt.install()  # here, not in run(): it takes over SIGINT for the rest of the process
    sys.exit(run(sys.argv[1:]))


def run(argv: list[str]) -> int:
    """Run one command line in this process and return its exit code: 0, 2 for a usage error, a KiaiError's
    code (1 unless it says otherwise) after one line on stderr, 130 after Ctrl-C (with `_interrupt` installed).
    Each run starts from a fresh `state` (options, config, consoles for the streams as they are now)."""
    state.reset()
    try:
        build_command()(args=argv, prog_name="kiai")
    except SystemExit as exc:
        if exc.code == 130 or _interrupt.interrupted():
            return _exit_interrupted()
        return _exit_code(exc.code)
    except KiaiError as exc:
        if _interrupt.interrupted():
            return _exit_interrupted()
        state.err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return exc.exit_code
    except BaseException:
        if _interrupt.interrupted():
            return _exit_interrupted()
        raise
    return 0  # click ends in SystemExit; a command that returns without it succeeded


def _exit_code(code: object) -> int:
    """SystemExit's code as the process's exit status, as Python has it: None is 0, other text is printed and 1."""
    if code is None or isinstance(code, int):
        return code or 0
    print(code, file=sys.stderr)
    return 1


def _exit_interrupted() -> int:
    _interrupt.ignore_more()  # a second Ctrl-C does not break the one line
    state.err_console.print(INTERRUPTED, highlight=False, soft_wrap=True)
    return 130
