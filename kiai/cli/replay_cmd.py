"""`kiai ingest replays` and `kiai fetch replays`: thin shells over kiai.Warehouse's replay methods."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from kiai.cli import fetch_cmd, ingest_cmd
from kiai.cli._common import state
from kiai.errors import KiaiError

if TYPE_CHECKING:
    from kiai.house import ReplaysQueued
    from kiai.load.replay_queue import FetchSummary


def ingest_replays(
    inputs: list[str] = typer.Argument(
        ..., metavar="PATH...", help="Files, folders, globs, .zip archives, or a replay dump (index.csv + osr/)."
    ),
) -> None:
    """Parse .osr replays into parsed.replays and parsed.replay_frames, keeping their bytes in raw.replays.

    Example: kiai ingest replays ~/osu/Replays/
    """
    summary = state.house().ingest_replays(list(inputs))
    for line in summary.dumps:
        state.console.print(line, highlight=False)
    state.console.print(summary.line(), highlight=False)
    for example in summary.error_examples[:5]:
        state.err_console.print(f"  parse error: {example}", highlight=False)
    if summary.parse_errors:
        state.err_console.print('  (all of them: kiai sql "SELECT * FROM parsed.replay_errors")', highlight=False)


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
    from kiai.house import ids_from_file

    house = state.house()
    ids = ids_from_file(ids_file, "score ids") if ids_file is not None else None
    print_queued(house.queue_replays(sql, ids, legacy or ""))
    print_fetched(house.fetch_replays(retry_missing))


def print_queued(queued: ReplaysQueued) -> None:
    if queued.asked:
        state.console.print(
            f"queue: {queued.added:,} replays asked, {queued.asked - queued.added:,} already in it", highlight=False
        )


def print_fetched(summary: FetchSummary) -> None:
    """The queue's outcome and its failures; a run stopped for low disk space is an error."""
    state.console.print(summary.line(), highlight=False)
    for failure in summary.failures:
        state.err_console.print(f"  failed: {failure}", highlight=False)
    if summary.failed:
        state.err_console.print("  (failed ones are asked again by the next run; every try: raw.download_attempts)")
    if summary.stopped_low_disk:
        raise KiaiError(summary.stopped_low_disk)


def register() -> None:
    """Add `ingest replays` and `fetch replays` to their command groups."""
    ingest_cmd.app.command("replays")(ingest_replays)
    fetch_cmd.fetch_app.command("replays")(fetch_replays)
