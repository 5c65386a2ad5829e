"""`kiai import …`: bring published dumps into the warehouse."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from kiai.cli._common import state

if TYPE_CHECKING:
    from kiai.house import DumpImported

app = typer.Typer(help="Import published dumps into the warehouse.", no_args_is_help=True)


def _names(text: str | None) -> set[str] | None:
    return {t.strip() for t in text.split(",") if t.strip()} if text else None


@app.command("ppy-dump")
def ppy_dump(
    paths: list[Path] = typer.Argument(..., help="A data.ppy.sh .tar.bz2, its extracted folder, or .sql files."),
    tables: str | None = typer.Option(
        None, "--tables", help="Only these tables (comma-separated) [default: every table]."
    ),
    exclude: str | None = typer.Option(None, "--exclude", help="Skip these tables (comma-separated) [default: none]."),
    allow_incomplete: bool = typer.Option(
        False, "--allow-incomplete", help="Import a dump cut short (no mysqldump ending) with the rows it has."
    ),
) -> None:
    """Import a data.ppy.sh MySQL dump into ppy.<table>, replacing each table; all or nothing.

    Example: kiai import ppy-dump 2026_11_01_performance_osu_top_10000.tar.bz2 --tables scores,osu_beatmaps
    """
    print_imported(state.house().import_dump(paths, _names(tables), _names(exclude), allow_incomplete))


def print_imported(result: DumpImported) -> None:
    for table in result.tables:
        same = " (unchanged: same sha256 as its last import, nothing logged)" if table.unchanged else ""
        if table.incomplete:
            same = f" kept of an incomplete dump ({table.incomplete}: --allow-incomplete)"
        state.err_console.print(f"ppy.{table.name}: {table.rows:,} rows{same}", highlight=False)
    state.err_console.print(
        f"imported {len(result.tables)} tables, {result.rows:,} rows in {result.seconds:.1f} s", highlight=False
    )
