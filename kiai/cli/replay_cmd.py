"""`kiai ingest replays` and `kiai fetch replays`: thin wrappers over kiai.load.replays and
kiai.load.replay_queue."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from kiai.cli import fetch_cmd, ingest_cmd
from kiai.cli._common import console, err_console, state
from kiai.errors import KiaiError

LANDING_WAIT = 60.0  # seconds a replay waits to land while another process reads the warehouse

if TYPE_CHECKING:
    from kiai.load.replays import ReplayIngestSummary


def ingest_replays(
    inputs: list[str] = typer.Argument(
        ..., metavar="PATH...", help="Files, folders, globs, .zip archives, or a replay dump (index.csv + osr/)."
    ),
) -> None:
    """Parse .osr replays into parsed.replays and parsed.replay_frames, keeping their bytes in raw.replays.

    Example: kiai ingest replays ~/osu/Replays/
    """
    from rich.progress import TextColumn

    from kiai.config import Limits
    from kiai.load import replays
    from kiai.progress import progress_bar

    con = state.open(write=True)
    with progress_bar(TextColumn("{task.fields[rate]}")) as progress:
        task = progress.add_task("ingest .osr", total=None, rate="")

        def update(summary: ReplayIngestSummary) -> None:
            seconds = max(summary.seconds, 1e-9)
            progress.update(
                task,
                total=summary.files_total,
                completed=summary.files_seen,
                rate=f"{summary.replays_added / seconds:,.0f} replays/s {summary.frames / seconds:,.0f} frames/s "
                f"{summary.bytes_read / seconds / 1e6:,.1f} MB/s",
            )

        summary = replays.ingest_paths(con, list(inputs), update, Limits.from_config(state.config))
    con.close()
    _print_summary(summary)


def _print_summary(summary: ReplayIngestSummary) -> None:
    for line in summary.dumps:
        console.print(line, highlight=False)
    console.print(summary.line(), highlight=False)
    for example in summary.error_examples[:5]:
        err_console.print(f"  parse error: {example}", highlight=False)
    if summary.parse_errors:
        err_console.print('  (all of them: kiai sql "SELECT * FROM parsed.replay_errors")', highlight=False)


def fetch_replays(
    sql: str | None = typer.Option(
        None, "--sql", help="A SELECT whose first column is score ids, e.g. over the dump's scores [default: none]."
    ),
    ids_file: Path | None = typer.Option(None, "--ids", help="A file of score ids, one a line [default: none]."),
    legacy: str | None = typer.Option(
        None,
        "--legacy",
        metavar="RULESET",
        help="The ids are legacy score ids (osu_scores_high.score_id) of osu|taiko|fruits|mania "
        "[default: they are score ids].",
    ),
    retry_missing: bool = typer.Option(False, "--retry-missing", help="Ask again for replays that were 404."),
) -> None:
    """Fetch replays into data/replays/{score_id}.osr and ingest them: a resumable queue in the warehouse.

    Without --sql or --ids, works on what is queued (asked, or failed before).

    Example: kiai fetch replays --sql "SELECT id FROM scores WHERE user_id = 7562902 AND has_replay = 1"
    """
    from kiai.load import replay_queue

    con = state.open(write=True)
    replay_queue.ensure_tables(con)
    ids: list[int] = []
    if sql is not None:
        found, column = replay_queue.score_ids_from_sql(con, sql)
        console.print(f"--sql: {len(found):,} ids (column {column})", highlight=False)
        ids += found
    if ids_file is not None:
        ids += fetch_cmd._ids_from_file(ids_file, "score ids")
    if ids:
        added = replay_queue.enqueue(con, ids, legacy or "")
        console.print(f"queue: {added:,} replays asked, {len(set(ids)) - added:,} already in it", highlight=False)
    elif sql is None and ids_file is None and not any(replay_queue.counts(con).values()):
        raise KiaiError('nothing asked yet: pass --sql "SELECT id FROM scores WHERE ..." or --ids FILE')
    con.close()
    fetcher = fetch_cmd._sources().replays(state.config.data_dir / "replays", say=console.print)
    # a `kiai sql` reading between two replays holds the landing up to a minute (or --wait)
    landing_wait = max(state.wait or 0.0, LANDING_WAIT)
    summary = replay_queue.fetch_replays(lambda: state.open(write=True, wait=landing_wait), fetcher, retry_missing)
    console.print(summary.line(), highlight=False)
    for failure in summary.failures:
        err_console.print(f"  failed: {failure}", highlight=False)
    if summary.failed:
        err_console.print("  (failed ones are asked again by the next run; every try: raw.download_attempts)")
    if summary.stopped_low_disk:
        raise KiaiError(summary.stopped_low_disk)


def register() -> None:
    """Add `ingest replays` and `fetch replays` to their command groups."""
    ingest_cmd.app.command("replays")(ingest_replays)
    fetch_cmd.fetch_app.command("replays")(fetch_replays)
