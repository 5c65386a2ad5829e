"""`kiai demo`: kiai.demo's pipeline on the terminal, each step's summary printed as its command prints it."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from kiai.cli._common import state
from kiai.config import DEFAULT_DB
from kiai.demo import QUICK_SETS

if TYPE_CHECKING:
    from kiai.config import Config
    from kiai.demo import Step
    from kiai.house import Warehouse
    from kiai.sample import SampleWorld


def demo(
    quick: bool = typer.Option(False, "--quick", help=f"A small world ({QUICK_SETS} sets) and short training."),
    sets: int | None = typer.Option(
        None, "--sets", min=6, help="Beatmapsets in the world; training needs ~24+ [default: 96, 30 with --quick]."
    ),
    seed: int = typer.Option(7, "--seed", help="Seed of the sample world."),
    train: bool = typer.Option(True, "--train/--no-train", help="Train, compare and report at the end."),
    report_path: Path = typer.Option(Path("reports/demo.html"), "--report", help="Where the report goes."),
) -> None:
    """Run the main job end to end on a generated sample world served by a local sandbox (offline):
    fetch → download → ingest → import ppy-dump → fetch replays → build-features → export replay windows →
    train → compare → report. Running it again reuses what is already there."""
    from kiai import demo as pipeline
    from kiai.cli.ml_cmd import print_fold
    from kiai.cli.models_cmd import BUILD_EVENTS

    started = time.monotonic()
    state.console.rule("[bold]Generate the sample world")
    world = pipeline.generate(state.config.data_dir / "sample", seed, sets or (QUICK_SETS if quick else 96))
    _print_world(world.sample, time.monotonic() - started)
    steps = pipeline.demo_steps(world, quick=quick, train=train, report=report_path)
    with pipeline.sandboxed(world) as server:
        config = pipeline.demo_config(state.config, server.base_url, world)
        house = state.house(config=config, FoldDone=print_fold, **BUILD_EVENTS)
        state.console.print(f"sandbox for osu.ppy.sh and osucollector.com on {server.base_url}", highlight=False)
        for number, step in enumerate(steps, start=1):
            state.console.rule(f"[bold]{number}/{len(steps)} {step.title}")
            _run(step, house)
    state.console.rule(f"[bold]Done in {time.monotonic() - started:.0f} s")
    _print_done(config, world.sample, seed, report_path if train else None)


def _print_world(sample: SampleWorld, seconds: float) -> None:
    state.console.print(
        f"{len(sample.osu_files)} maps in {len(sample.sets)} sets, {len(sample.categories)} collections, "
        f"{len(sample.plays)} scores of {len(sample.users)} players in {seconds:.1f} s -> {sample.root}",
        highlight=False,
    )


def _print_done(config: Config, sample: SampleWorld, seed: int, report: Path | None) -> None:
    """Where everything is, and four queries to try next."""
    from kiai.demo import next_queries

    db_path = config.db_path
    state.console.print(f"warehouse: {escape(str(db_path))}", highlight=False)
    if report is not None:
        state.console.print(f"report:    {escape(str(report))}", highlight=False)
    state.console.print(
        f"sample world: {escape(str(sample.root))} (seed {seed}); models: {escape(str(config.models_dir))}",
        highlight=False,
    )
    state.console.print("try next:")
    for query in next_queries(sample.replay_query_user()):
        text = query if db_path == DEFAULT_DB else query.replace("kiai sql", f"kiai --db {db_path} sql", 1)
        state.console.print(f"  {escape(text)}", highlight=False, soft_wrap=True)


def _run(step: Step, house: Warehouse) -> None:
    """Run one step and print its summary. A failing step's error (or Ctrl-C) goes on up to main(), which ends
    the demo in one line with the step's exit code (130 for Ctrl-C)."""
    result = step.run(house)
    for summary in result if isinstance(result, tuple) else (result,):
        _renderer(summary)(summary)


def _renderer(summary: Any) -> Callable[[Any], None]:
    """How the step's own command prints this summary."""
    from kiai.cli import export_cmd, fetch_cmd, import_cmd, ingest_cmd, ml_cmd, models_cmd, replay_cmd

    by_type = {
        "CollectionsFetched": fetch_cmd.print_collections,
        "BeatmapsSummary": fetch_cmd.print_beatmaps,
        "UserScoresSummary": fetch_cmd.print_user_scores,
        "OsuFilesDownloaded": fetch_cmd.print_downloaded,
        "IngestSummary": ingest_cmd.print_summary,
        "DumpImported": import_cmd.print_imported,
        "ReplaysQueued": replay_cmd.print_queued,
        "FetchSummary": replay_cmd.print_fetched,
        "BuildReport": models_cmd.print_built,
        "WindowExport": export_cmd.print_windows,
        "Run": ml_cmd.print_run,
        "Comparison": ml_cmd.print_compared,
    }
    return ml_cmd.print_report if isinstance(summary, Path) else by_type[type(summary).__name__]


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
