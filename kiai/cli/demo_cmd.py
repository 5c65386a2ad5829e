"""`kiai demo`: the main job end to end, offline, on the generated sample world served by the local sandbox.

It generates the sample world (kiai.sample), serves it on 127.0.0.1 (kiai.sandbox), points the settings at it and
runs the same commands a real run uses: fetch collections → fetch beatmaps (+ user scores) → download osu-files →
ingest → import ppy-dump → fetch replays → build-features → export replay-windows → train lightgbm → train keras →
compare → report.
"""

from __future__ import annotations

import importlib.resources
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from kiai.cli._common import console, err_console, state
from kiai.config import DEFAULT_DB
from kiai.files import atomic_write

REAL_MAPS = Path(str(importlib.resources.files("kiai") / "sample" / "osu"))  # package data: see its PROVENANCE.md
QUICK_SETS = 30
SOURCES = ("api", "collector", "download", "replay")  # paced endpoints, unpaced for the local sandbox


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Set env vars for the demo's commands and put the old values back afterwards."""
    old = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _demo_config(path: Path, base_url: str, categories: dict[str, int], data_dir: Path) -> Path:
    lines = [
        "# Written by `kiai demo`: the sandbox on 127.0.0.1 stands in for osu.ppy.sh and osucollector.com.",
        "[paths]",
        f"data_dir = {json.dumps(str(data_dir))}",  # a TOML basic string: JSON's escapes are TOML's
        "[osu]",
        f"base_url = {json.dumps(base_url)}",
        "[collector]",
        f"base_url = {json.dumps(base_url)}",
        "[http]  # a local server: no pacing needed",
        *(f"{source}_{key} = 0" for source in SOURCES for key in ("min_gap", "max_gap")),
        *(f"{source}_failure_gap = 0.05" for source in SOURCES),
        "replay_per_minute = 0  # no cap: osu-web's is 10 a minute",
        "backoff_base = 0.05",
        "[collections]",
        *(f"{category} = [{cid}]" for category, cid in categories.items()),
    ]
    return atomic_write(path, "\n".join(lines) + "\n")


def replay_steps(players: list[int], windows: Path) -> list[tuple[str, list[str]]]:
    """Fetch the replays of the world's players with replays (--sql over the dump, as a user would); after the
    build, export one player's replays as training windows."""
    ids = ", ".join(map(str, players))
    query = f"SELECT id FROM scores WHERE user_id IN ({ids}) AND has_replay = 1"
    return [(f"Fetch the replays of users {ids}", ["fetch", "replays", "--sql", query])] if players else []


def next_queries(user_id: int) -> list[str]:
    """Four `kiai sql` queries to try after the demo (one: which maps does this player have replays on; one: how
    the players with replays aim and time their presses)."""
    return [
        f'kiai sql "SELECT b.beatmap_id, b.version, s.rank, round(s.pp) AS pp FROM scores s JOIN osu_beatmaps b '
        f'USING (beatmap_id) WHERE s.user_id = {user_id} AND s.has_replay ORDER BY s.pp DESC"',
        'kiai sql "SELECT label, count(*) AS maps, round(avg(bpm)) AS bpm, round(avg(stream_density), 2) AS stream, '
        'round(avg(distance_p90)) AS jump_px FROM features.dataset GROUP BY label ORDER BY label"',
        'kiai sql "SELECT c.category, count(*) AS maps, round(avg(f.star_rating), 2) AS stars FROM '
        'staging.collection_members c JOIN features.beatmap_features f USING (beatmap_id) GROUP BY ALL ORDER BY 1"',
        'kiai sql "SELECT user_id, player, count(*) AS replays, round(avg(aim_error_mean), 1) AS aim_px, '
        "round(avg(offset_mean_ms), 1) AS offset_ms, round(avg(unstable_rate)) AS ur FROM features.replay_summary "
        "WHERE hits_status = 'measured' GROUP BY ALL ORDER BY 1\"",
    ]


def run_step(command: Any, args: list[str], title: str) -> None:
    """Run one kiai command as a step; a step that fails or is interrupted stops the demo with its exit code.

    Typer hands a step's exit code back (Ctrl-C becomes 130) instead of raising it when not standalone.
    """
    code = command.main(args=args, prog_name="kiai", standalone_mode=False)
    if isinstance(code, int) and code != 0:
        if code != 130:  # main() prints the one line for Ctrl-C
            err_console.print(f"demo stopped: step {escape(title)} exited with code {code}", highlight=False)
        raise typer.Exit(code)


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
    from kiai.cli import build_command  # the full app, to run its commands as a user would
    from kiai.cli.ml_cmd import models_dir
    from kiai.sample import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, generate_world
    from kiai.sandbox import SandboxServer

    started = time.monotonic()
    db_path = state.config.db_path
    models = models_dir(None)
    data_dir = state.config.data_dir / "sample"
    n_sets = sets or (QUICK_SETS if quick else 96)
    console.rule("[bold]Generate the sample world")
    manifest = data_dir / "world" / "world.json"
    before = manifest.read_bytes() if manifest.is_file() else b""
    world = generate_world(data_dir / "world", seed=seed, n_sets=n_sets)
    # another world than last time (seed, size, generator): ask the sandbox again instead of reusing what landed
    refresh = ["--refresh"] if manifest.read_bytes() != before else []
    console.print(
        f"{len(world.osu_files)} maps in {len(world.sets)} sets, {len(world.categories)} collections, "
        f"{len(world.plays)} scores of {len(world.users)} players in {time.monotonic() - started:.1f} s "
        f"-> {world.root}",
        highlight=False,
    )
    command = build_command()
    players = sorted(world.replay_styles)
    windows = data_dir / "replay_windows"
    sandbox_world = world.sandbox_world(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)
    with SandboxServer(sandbox_world) as server:
        config = _demo_config(data_dir / "kiai.toml", server.base_url, world.categories, data_dir)
        env = {
            "KIAI_CONFIG": str(config),
            "KIAI_DATA_DIR": str(data_dir),
            "KIAI_OSU_BASE_URL": server.base_url,
            "KIAI_COLLECTOR_BASE_URL": server.base_url,
            "KIAI_OSU_CLIENT_ID": DEMO_CLIENT_ID,
            "KIAI_OSU_CLIENT_SECRET": DEMO_CLIENT_SECRET,
            "KIAI_MODELS_DIR": str(models),
        }
        console.print(f"sandbox for osu.ppy.sh and osucollector.com on {server.base_url}", highlight=False)
        steps = [
            ("Fetch the collections (labels)", ["fetch", "collections", *refresh]),
            ("Fetch their beatmaps from /api/v2/beatmaps", ["fetch", "beatmaps", *refresh]),
            *(
                (
                    f"Fetch the best scores of user {user}",
                    ["fetch", "user-scores", str(user), "--type", "best", *refresh],
                )
                for user, kind in sorted(world.user_scores)
                if kind == "best"
            ),
            ("Download and ingest the .osu files", ["download", "osu-files"]),
        ]
        steps += [
            ("Ingest the real .osu maps shipped with kiai", ["ingest", "osu-files", str(REAL_MAPS)]),
            ("Import the data.ppy.sh dump", ["import", "ppy-dump", str(world.dump_path)]),
            *replay_steps(players, windows),
            ("Build the feature models (the replay models too)", ["build-features"]),
        ]
        if players:
            export = ["export", "replay-windows", "--out", str(windows), "--window", "32", "--user", str(players[0])]
            steps.append((f"Export user {players[0]}'s replays as training windows", export))
        if train:
            keras_epochs = ["--epochs", "40"] if quick else []  # LightGBM needs no shortening
            steps += [
                ("Train LightGBM", ["train", "lightgbm"]),
                ("Train Keras", ["train", "keras", *keras_epochs]),
                ("Compare the runs", ["compare"]),
                ("Write the report", ["report", "--out", str(report_path)]),
            ]
        shared = ["--db", str(db_path), *(["--wait", str(state.wait)] if state.wait is not None else [])]
        with _environment(env):
            for number, (title, args) in enumerate(steps, start=1):
                console.rule(f"[bold]{number}/{len(steps)} {title}")
                run_step(command, [*shared, *args], f"{number}/{len(steps)} {title}")
    console.rule(f"[bold]Done in {time.monotonic() - started:.0f} s")
    console.print(f"warehouse: {escape(str(db_path))}", highlight=False)
    if train:
        console.print(f"report:    {escape(str(report_path))}", highlight=False)
    console.print(
        f"sample world: {escape(str(world.root))} (seed {seed}); models: {escape(str(models))}", highlight=False
    )
    console.print("try next:")
    for query in next_queries(world.replay_query_user()):
        text = query if db_path == DEFAULT_DB else query.replace("kiai sql", f"kiai --db {db_path} sql", 1)
        console.print(f"  {escape(text)}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
