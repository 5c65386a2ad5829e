"""`kiai auth check`, `kiai fetch collections|beatmaps|user-scores` and `kiai download osu-files`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from kiai.cli._common import state
from kiai.errors import KiaiError

if TYPE_CHECKING:
    from kiai.house import CollectionsFetched, OsuFilesDownloaded
    from kiai.sources.osu_api import BeatmapsSummary, UserScoresSummary

auth_app = typer.Typer(help="osu! API credentials.", no_args_is_help=True)
fetch_app = typer.Typer(help="Fetch from the osu! API and osu!collector into raw.api_responses.", no_args_is_help=True)
download_app = typer.Typer(help="Download files (e.g. .osu) into the data folder.", no_args_is_help=True)


@auth_app.command("check")
def auth_check() -> None:
    """Get a token with the configured client credentials and print its expiry (never the token)."""
    result = state.house().auth_check()
    when = result.expires_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    state.console.print(f"osu! API credentials ok (client {result.client_id}): token valid until {when}")


@fetch_app.command("collections")
def fetch_collections(
    refresh: bool = typer.Option(False, "--refresh", help="Ask again for collections already stored."),
    pages: bool = typer.Option(False, "--pages", help="Also page full beatmap objects (beatmapsv2)."),
    per_page: int = typer.Option(100, "--per-page", min=1, max=5000, help="Page size for --pages."),
) -> None:
    """Fetch the collections of kiai.toml [collections] (category = [ids]) and store their labels."""
    print_collections(state.house().fetch_collections(refresh, pages, per_page))


def print_collections(result: CollectionsFetched) -> None:
    state.console.print(
        f"collections: {result.configured} configured, {result.fetched} fetched, {result.already_stored} already "
        f"stored, {result.not_found} not found; {result.beatmaps_listed} beatmaps listed"
    )


@fetch_app.command("beatmaps")
def fetch_beatmaps(
    ids_file: Path | None = typer.Option(
        None, "--ids", help="A file of beatmap ids (whitespace or commas) [default: every labelled beatmap]."
    ),
    from_dump: bool = typer.Option(False, "--from-dump", help="Every beatmap id of ppy.osu_beatmaps."),
    refresh: bool = typer.Option(False, "--refresh", help="Ask again for ids already fetched."),
) -> None:
    """Fetch beatmaps from /api/v2/beatmaps in batches of 50 (default: every labelled beatmap)."""
    from kiai.house import ids_from_file

    ids = ids_from_file(ids_file) if ids_file is not None else None
    print_beatmaps(state.house().fetch_beatmaps(ids, from_dump, refresh))


def print_beatmaps(summary: BeatmapsSummary) -> None:
    state.console.print(
        f"beatmaps: {summary.requested} requested, {summary.found} found, {len(summary.missing)} unknown "
        f"to the API, {summary.skipped} already fetched"
    )


@fetch_app.command("user-scores")
def fetch_user_scores(
    user_id: int = typer.Argument(..., help="osu! user id."),
    score_type: str = typer.Option("best", "--type", help="best | firsts | pinned | recent"),
    mode: str = typer.Option("osu", "--mode", help="osu | taiko | fruits | mania"),
    page_size: int = typer.Option(100, "--page-size", min=1, max=100, help="Scores per request."),
    refresh: bool = typer.Option(False, "--refresh", help="Ask again for pages already stored."),
) -> None:
    """Fetch a user's score list, paged up to the API's cap of 100."""
    print_user_scores(state.house().fetch_user_scores(user_id, score_type, mode, page_size, refresh))


def print_user_scores(summary: UserScoresSummary) -> None:
    if summary.not_found:
        state.console.print(f"user {summary.user_id}: not found (404)")
    else:
        state.console.print(
            f"{summary.score_type} scores of user {summary.user_id}: {summary.seen} scores, {summary.pages} pages "
            "fetched"
        )


@download_app.command("osu-files")
def download_osu_files(
    retry_missing: bool = typer.Option(False, "--retry-missing", help="Ask again for files that were 404."),
) -> None:
    """Download the .osu of every fetched beatmap into data/beatmaps/{id}.osu (md5-checked), then ingest."""
    print_downloaded(state.house().download_osu_files(retry_missing))


def print_downloaded(result: OsuFilesDownloaded) -> None:
    """The download's line and the ingest's; a download stopped for low disk space is an error."""
    summary = result.download
    failed = list(summary.failed.items())
    state.console.print(
        f".osu files: {summary.wanted} wanted, {summary.downloaded} downloaded, {summary.skipped} already there, "
        f"{len(failed)} failed" + (f" ({', '.join(f'{i}: {o}' for i, o in failed[:5])})" if failed else "")
    )
    if result.ingested is not None:
        added, unchanged = result.ingested.files_added, result.ingested.files_unchanged
        state.console.print(f"ingested .osu files: {added} added, {unchanged} unchanged")
    if summary.stopped_low_disk:
        raise KiaiError(summary.stopped_low_disk)


def register(app: typer.Typer) -> None:
    app.add_typer(auth_app, name="auth")
    app.add_typer(fetch_app, name="fetch")
    app.add_typer(download_app, name="download")
