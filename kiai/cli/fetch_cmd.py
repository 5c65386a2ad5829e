"""`kiai auth check`, `kiai fetch collections|beatmaps|user-scores` and `kiai download osu-files`."""

from __future__ import annotations

import importlib.util
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import typer

from kiai.cli._common import console, state
from kiai.errors import KiaiError
from kiai.warehouse import first_row

if TYPE_CHECKING:  # the sources import requests: slow, so only inside the commands
    from kiai.sources.clients import Sources

auth_app = typer.Typer(help="osu! API credentials.", no_args_is_help=True)
fetch_app = typer.Typer(help="Fetch from the osu! API and osu!collector into raw.api_responses.", no_args_is_help=True)
download_app = typer.Typer(help="Download files (e.g. .osu) into the data folder.", no_args_is_help=True)


def _sources() -> Sources:
    from kiai.sources.clients import Sources
    from kiai.sources.settings import load_settings

    return Sources(load_settings(state.config))


def _warehouse() -> duckdb.DuckDBPyConnection:
    from kiai.load import ensure_tables

    con = state.open(write=True)
    ensure_tables(con)
    return con


@auth_app.command("check")
def auth_check() -> None:
    """Get a token with the configured client credentials and print its expiry (never the token)."""
    credentials = _sources().credentials()
    expires_at = credentials.fetch()
    when = datetime.fromtimestamp(expires_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    console.print(f"osu! API credentials ok (client {credentials.client_id}): token valid until {when}")


@fetch_app.command("collections")
def fetch_collections(
    refresh: bool = typer.Option(False, "--refresh", help="Ask again for collections already stored."),
    pages: bool = typer.Option(False, "--pages", help="Also page full beatmap objects (beatmapsv2)."),
    per_page: int = typer.Option(100, "--per-page", min=1, max=5000, help="Page size for --pages."),
) -> None:
    """Fetch the collections of kiai.toml [collections] (category = [ids]) and store their labels."""
    from kiai.load import api_responses
    from kiai.progress import progress_bar, show_notes
    from kiai.sources.settings import collection_categories

    pairs = collection_categories(state.config)
    if not pairs:
        raise KiaiError("no collections configured: add e.g. [collections] stream = [1234] to kiai.toml")
    collector, con = _sources().collector(), _warehouse()
    api_responses.set_collection_labels(con, pairs)
    done = set() if refresh else api_responses.landed_collections(con)
    ids = list(dict.fromkeys(cid for _, cid in pairs))
    fetched = missing = 0
    with progress_bar() as bar:
        task = bar.add_task("collections", total=len(ids))
        collector.http.on_wait = show_notes(bar, task)
        for cid in ids:
            if cid not in done:
                response = collector.collection(cid)
                api_responses.land(con, response)
                fetched += 1
                missing += response.http_status == 404
            if pages:
                landed = {} if refresh else api_responses.landed_pages(con, cid, per_page)
                collector.pages(cid, lambda f: api_responses.land(con, f), landed, per_page)
            bar.advance(task)
    members = len(api_responses.labelled_beatmap_ids(con))
    console.print(
        f"collections: {len(ids)} configured, {fetched} fetched, {len(ids) - fetched} already stored, "
        f"{missing} not found; {members} beatmaps listed"
    )


def _ids_from_file(path: Path, what: str = "beatmap ids") -> list[int]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise KiaiError(f"{path}: cannot read ({exc.strerror})") from None
    tokens = re.split(r"[\s,]+", text.strip())
    bad = [t for t in tokens if t and not t.isdigit()]
    if bad:
        raise KiaiError(f"{path}: expected {what} (numbers), found {bad[0]!r}")
    return [int(t) for t in tokens if t]


def _ids_from_dump(con: duckdb.DuckDBPyConnection) -> list[int]:
    try:
        return [r[0] for r in con.execute("SELECT DISTINCT beatmap_id FROM ppy.osu_beatmaps").fetchall()]
    except duckdb.CatalogException:
        raise KiaiError("no ppy.osu_beatmaps table: import a data.ppy.sh dump first") from None


@fetch_app.command("beatmaps")
def fetch_beatmaps(
    ids_file: Path | None = typer.Option(
        None, "--ids", help="A file of beatmap ids (whitespace or commas) [default: every labelled beatmap]."
    ),
    from_dump: bool = typer.Option(False, "--from-dump", help="Every beatmap id of ppy.osu_beatmaps."),
    refresh: bool = typer.Option(False, "--refresh", help="Ask again for ids already fetched."),
) -> None:
    """Fetch beatmaps from /api/v2/beatmaps in batches of 50 (default: every labelled beatmap)."""
    from kiai.load import api_responses
    from kiai.sources import osu_api

    con = _warehouse()
    if ids_file is not None:
        ids = _ids_from_file(ids_file)
    elif from_dump:
        ids = _ids_from_dump(con)
    else:
        ids = api_responses.labelled_beatmap_ids(con)
        if not ids:
            raise KiaiError("no labelled beatmaps yet: run `kiai fetch collections` first (or pass --ids FILE)")
    skip = set() if refresh else api_responses.fetched_beatmap_ids(con)
    summary = osu_api.fetch_beatmaps(_sources().osu_api(), ids, skip, lambda f: api_responses.land(con, f))
    console.print(
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
    from kiai.load import api_responses
    from kiai.sources import osu_api

    if score_type not in osu_api.SCORE_TYPES:
        raise KiaiError(f"--type must be one of {', '.join(osu_api.SCORE_TYPES)}, not {score_type!r}")
    con = _warehouse()
    landed = {} if refresh else api_responses.landed_score_pages(con, user_id, score_type, mode)
    pages, seen = osu_api.fetch_user_scores(
        _sources().osu_api(),
        user_id,
        score_type,
        lambda f: api_responses.land(con, f),
        landed,
        mode,
        page_size,
    )
    if any(n < 0 for n in landed.values()) or (pages and seen == 0 and _last_was_404(con, user_id)):
        console.print(f"user {user_id}: not found (404)")
        return
    console.print(f"{score_type} scores of user {user_id}: {seen} scores, {pages} pages fetched")


def _last_was_404(con: duckdb.DuckDBPyConnection, user_id: int) -> bool:
    from kiai.sources import osu_api

    row = first_row(
        con.execute(
            "SELECT http_status FROM raw.api_responses WHERE endpoint = ? "
            "AND CAST(params->>'user_id' AS BIGINT) = ? ORDER BY response_id DESC LIMIT 1",
            [osu_api.SCORES_ENDPOINT, user_id],
        )
    )
    return row is not None and row[0] == 404


@download_app.command("osu-files")
def download_osu_files(
    retry_missing: bool = typer.Option(False, "--retry-missing", help="Ask again for files that were 404."),
) -> None:
    """Download the .osu of every fetched beatmap into data/beatmaps/{id}.osu (md5-checked), then ingest."""
    from dataclasses import replace

    from kiai.load import api_responses
    from kiai.sources.downloads import OSU_FILE, Downloader

    sources, con = _sources(), _warehouse()
    targets = api_responses.download_targets(con, retry_missing)
    if not targets:
        raise KiaiError("no fetched beatmaps: run `kiai fetch beatmaps` first")
    downloader = Downloader(
        sources.http("download"),
        sources.settings.osu_base_url,
        state.config.beatmaps_dir,
        lambda attempt: api_responses.record_attempt(con, attempt),
        sources.settings.min_free_mb,
        say=console.print,
        kind=replace(OSU_FILE, max_bytes=sources.settings.limits.osu_file_bytes),
    )
    summary = downloader.run(targets)
    console.print(
        f".osu files: {summary.wanted} wanted, {summary.downloaded} downloaded, "
        f"{summary.skipped} already there, "
        f"{len(summary.failed)} failed"
        + (f" ({', '.join(f'{i}: {o}' for i, o in list(summary.failed.items())[:5])})" if summary.failed else "")
    )
    _ingest(con, summary.valid_paths)
    if summary.stopped_low_disk:
        raise KiaiError(summary.stopped_low_disk)


def _ingest(con: duckdb.DuckDBPyConnection, paths: list[Path]) -> None:
    """Hand the valid files to the .osu loader when it is installed (kiai.load.osu_files)."""
    if not paths or importlib.util.find_spec("kiai.load.osu_files") is None:
        return
    from kiai.config import Limits
    from kiai.load import osu_files

    if hasattr(osu_files, "ingest_paths"):
        result = osu_files.ingest_paths(con, sorted(paths), limits=Limits.from_config(state.config))
        added, unchanged = getattr(result, "files_added", "?"), getattr(result, "files_unchanged", "?")
        console.print(f"ingested .osu files: {added} added, {unchanged} unchanged")


def register(app: typer.Typer) -> None:
    app.add_typer(auth_app, name="auth")
    app.add_typer(fetch_app, name="fetch")
    app.add_typer(download_app, name="download")
