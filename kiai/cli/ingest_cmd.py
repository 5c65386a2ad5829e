"""`kiai ingest …`: land local files in the warehouse."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from kiai.cli._common import console, err_console, state

if TYPE_CHECKING:
    from kiai.load.osu_files import IngestSummary

app = typer.Typer(help="Land local files in the warehouse.", no_args_is_help=True)


@app.command("osu-files")
def osu_files(
    inputs: list[str] = typer.Argument(..., metavar="PATH...", help="Files, folders, globs, .osz or *.tar.bz2."),
) -> None:
    """Parse .osu files into parsed.* and keep their bytes in raw.osu_files (idempotent, resumable)."""
    from rich.progress import TextColumn

    from kiai.load.osu_files import ingest_sources
    from kiai.load.osu_sources import expand, is_archive, read_sources
    from kiai.progress import progress_bar

    paths = expand(inputs)
    archives = any(is_archive(p) for p in paths)
    con = state.open(write=True)
    rates = TextColumn("{task.fields[rate]}")
    with progress_bar(rates) as progress:
        task = progress.add_task("ingest .osu", total=None if archives else len(paths), rate="")

        def update(summary: IngestSummary) -> None:
            seconds = max(summary.seconds, 1e-9)
            progress.update(
                task,
                completed=summary.files_seen,
                rate=f"{summary.files_seen / seconds:,.0f} files/s {summary.hit_objects / seconds:,.0f} objects/s "
                f"{summary.bytes_read / seconds / 1e6:,.1f} MB/s",
            )

        summary = ingest_sources(con, read_sources(paths), on_progress=update)
    con.close()
    console.print(summary.line())
    for example in summary.error_examples[:5]:
        err_console.print(f"  parse error: {example}", highlight=False)
    if summary.parse_errors:
        err_console.print('  (all parse errors: kiai sql "SELECT * FROM parsed.parse_errors")')
