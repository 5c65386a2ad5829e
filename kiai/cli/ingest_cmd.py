"""`kiai ingest …`: land local files in the warehouse."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from kiai.cli._common import state

if TYPE_CHECKING:
    from kiai.load.osu_files import IngestSummary

app = typer.Typer(help="Land local files in the warehouse.", no_args_is_help=True)


@app.command("osu-files")
def osu_files(
    inputs: list[str] = typer.Argument(..., metavar="PATH...", help="Files, folders, globs, .osz or *.tar.bz2."),
) -> None:
    """Parse .osu files into parsed.* and keep their bytes in raw.osu_files (idempotent, resumable)."""
    print_summary(state.house().ingest(list(inputs)))


@app.command("reparse")
def reparse() -> None:
    """Parse again, from the bytes kept in raw.osu_files, every file that an older kiai parser landed."""
    summary = state.house().reparse()
    if summary is None:
        state.console.print("nothing to do: every file was parsed by this parser")
    else:
        print_summary(summary)


def print_summary(summary: IngestSummary) -> None:
    """An ingest's summary line, and the first parse errors."""
    state.console.print(summary.line())
    for example in summary.error_examples[:5]:
        state.err_console.print(f"  parse error: {example}", highlight=False)
    if summary.parse_errors:
        state.err_console.print('  (all parse errors: kiai sql "SELECT * FROM parsed.parse_errors")')
