"""`kiai ingest …`: land local files in the warehouse."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer

from kiai.cli._common import console, err_console, state

if TYPE_CHECKING:
    from collections.abc import Callable

    from kiai.load.osu_files import IngestSummary, ProgressCallback

app = typer.Typer(help="Land local files in the warehouse.", no_args_is_help=True)


@app.command("osu-files")
def osu_files(
    inputs: list[str] = typer.Argument(..., metavar="PATH...", help="Files, folders, globs, .osz or *.tar.bz2."),
) -> None:
    """Parse .osu files into parsed.* and keep their bytes in raw.osu_files (idempotent, resumable)."""
    from kiai.config import Limits
    from kiai.load.osu_files import ingest_sources
    from kiai.load.osu_sources import expand, is_archive, read_sources

    paths = expand(inputs)
    limits = Limits.from_config(state.config)
    con = state.open(write=True)
    total = None if any(is_archive(p) for p in paths) else len(paths)
    sources = read_sources(paths, limits.osu_file_bytes)
    run_with_progress(lambda update: ingest_sources(con, sources, on_progress=update, limits=limits), total)
    con.close()


@app.command("reparse")
def reparse() -> None:
    """Parse again, from the bytes kept in raw.osu_files, every file that an older kiai parser landed."""
    from kiai.load.osu_files import reparse_stale, stale_md5s

    con = state.open(write=True)
    stale = stale_md5s(con)
    if not stale:
        console.print("nothing to do: every file was parsed by this parser")
    else:
        run_with_progress(lambda update: reparse_stale(con, on_progress=update, md5s=stale), len(stale))
    con.close()


def run_with_progress(run: Callable[[ProgressCallback], IngestSummary], total: int | None) -> IngestSummary:
    """Run an ingest under a progress bar (files, files/s, hit objects/s, MB/s), then print its summary."""
    with ingest_progress("ingest .osu", total) as update:
        summary = run(update)
    console.print(summary.line())
    for example in summary.error_examples[:5]:
        err_console.print(f"  parse error: {example}", highlight=False)
    if summary.parse_errors:
        err_console.print('  (all parse errors: kiai sql "SELECT * FROM parsed.parse_errors")')
    return summary


@contextmanager
def ingest_progress(description: str, total: int | None) -> Iterator[ProgressCallback]:
    """A progress bar of files parsed (files/s, hit objects/s, MB/s); yields the callback that advances it."""
    from rich.progress import TextColumn

    from kiai.progress import progress_bar

    with progress_bar(TextColumn("{task.fields[rate]}")) as progress:
        task = progress.add_task(description, total=total, rate="")

        def update(summary: IngestSummary) -> None:
            seconds = max(summary.seconds, 1e-9)
            progress.update(
                task,
                completed=summary.files_seen,
                rate=f"{summary.files_seen / seconds:,.0f} files/s {summary.hit_objects / seconds:,.0f} objects/s "
                f"{summary.bytes_read / seconds / 1e6:,.1f} MB/s",
            )

        yield update
