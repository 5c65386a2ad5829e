"""`kiai import …`: bring published dumps into the warehouse."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from kiai.cli._common import err_console, state

if TYPE_CHECKING:
    from kiai.load.ppy_dump import Stats
    from kiai.load.ppy_dump.streams import Meter

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
    from rich.progress import TextColumn

    from kiai.load import ensure_tables
    from kiai.load.ppy_dump import import_dump
    from kiai.load.ppy_dump.streams import total_size
    from kiai.progress import progress_bar

    total = total_size(paths)
    con = state.open(write=True)
    ensure_tables(con)
    started = time.monotonic()
    with progress_bar(TextColumn("{task.fields[rate]}")) as bar:
        task = bar.add_task("ppy dump", total=total, rate="")

        def report(meter: Meter, stats: Stats) -> None:
            elapsed = max(time.monotonic() - started, 1e-9)
            rate = f"{stats.bytes_read / elapsed / 1e6:,.0f} MB/s · {stats.rows / elapsed:,.0f} rows/s"
            bar.update(task, completed=min(meter.done, total), rate=rate)

        results = import_dump(con, paths, _names(tables), _names(exclude), report, allow_incomplete)
        bar.update(task, completed=total)
    elapsed = time.monotonic() - started
    rows = sum(r.rows for r in results)
    for result in results:
        same = " (unchanged: same sha256 as its last import, nothing logged)" if result.unchanged else ""
        if result.incomplete:
            same = f" kept of an incomplete dump ({result.incomplete}: --allow-incomplete)"
        err_console.print(f"ppy.{result.name}: {result.rows:,} rows{same}", highlight=False)
    err_console.print(f"imported {len(results)} tables, {rows:,} rows in {elapsed:.1f} s", highlight=False)
