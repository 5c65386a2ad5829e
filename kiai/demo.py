"""The demo as a library pipeline: the main job end to end, offline, on the generated sample world served by the
local sandbox, as a sequence of kiai.Warehouse calls (the same code paths a real run takes).

fetch collections → fetch beatmaps (+ user scores) → download osu-files → ingest → import ppy-dump → fetch replays
→ build-features → export replay-windows → train lightgbm → train keras → compare → report.

The warehouse's settings for the demo are its own file alone (data/sample/kiai.toml, no environment): the sandbox's
base URLs and demo credentials always win, and a user's real KIAI_OSU_CLIENT_SECRET is never read, sent or stored.

    with sandboxed(world) as server:
        house = Warehouse(config=demo_config(load_config(), server.base_url, world))
        for step in demo_steps(world): step.run(house)
"""

from __future__ import annotations

import importlib.resources
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiai.config import Config, load_config
from kiai.files import atomic_write

if TYPE_CHECKING:
    from kiai.house import Warehouse
    from kiai.sample import SampleWorld
    from kiai.sandbox import SandboxServer

REAL_MAPS = Path(str(importlib.resources.files("kiai") / "sample" / "osu"))  # package data: see its PROVENANCE.md
QUICK_SETS = 30
DEFAULT_SETS = 96
SOURCES = ("api", "collector", "download", "replay")  # paced endpoints, unpaced for the local sandbox


@dataclass(frozen=True)
class Step:
    """One stage of the demo: `run` calls the warehouse and returns the call's typed summary (or a tuple of them)."""

    title: str
    run: Callable[[Warehouse], Any]


@dataclass(frozen=True)
class World:
    """The sample world generated for this run; `changed`: not the one of the last run (ask the sandbox again)."""

    sample: SampleWorld
    data_dir: Path
    changed: bool

    @property
    def players(self) -> list[int]:
        return sorted(self.sample.replay_styles)

    @property
    def windows(self) -> Path:
        return self.data_dir / "replay_windows"


def generate(data_dir: Path, seed: int = 7, n_sets: int = DEFAULT_SETS) -> World:
    """Generate (or reuse) the sample world under `data_dir`/world."""
    from kiai.sample import generate_world

    manifest = data_dir / "world" / "world.json"
    before = manifest.read_bytes() if manifest.is_file() else b""
    sample = generate_world(data_dir / "world", seed=seed, n_sets=n_sets)
    return World(sample, data_dir, manifest.read_bytes() != before)


@contextmanager
def sandboxed(world: World) -> Iterator[SandboxServer]:
    """The world served on 127.0.0.1, accepting the demo's client credentials only."""
    from kiai.sample import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
    from kiai.sandbox import SandboxServer

    with SandboxServer(world.sample.sandbox_world(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)) as server:
        yield server


def demo_config(user: Config, base_url: str, world: World) -> Config:
    """The demo's settings: the user's warehouse and models folder, the sandbox's credentials, everything else from
    the demo's own kiai.toml and nothing from the environment (so no real credentials or base URLs leak in)."""
    from kiai.sample import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET

    sample = world.sample
    path = write_config(world.data_dir / "kiai.toml", base_url, sample.categories, world.data_dir, user.models_dir)
    credentials = {"KIAI_OSU_CLIENT_ID": DEMO_CLIENT_ID, "KIAI_OSU_CLIENT_SECRET": DEMO_CLIENT_SECRET}
    return load_config(db_path=user.db_path, config_file=path, environ=credentials)


def write_config(
    path: Path, base_url: str, categories: dict[str, int], data_dir: Path, models_dir: Path | None = None
) -> Path:
    """The demo's kiai.toml: the sandbox for both sources, no pacing."""
    lines = [
        "# Written by `kiai demo`: the sandbox on 127.0.0.1 stands in for osu.ppy.sh and osucollector.com.",
        "[paths]",
        f"data_dir = {json.dumps(str(data_dir))}",  # a TOML basic string: JSON's escapes are TOML's
        *([f"models_dir = {json.dumps(str(models_dir))}"] if models_dir is not None else []),
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


def demo_steps(world: World, *, quick: bool = False, train: bool = True, report: Path | None = None) -> list[Step]:
    """Every stage in order; a rerun on the same world reuses what landed (another world asks again)."""
    refresh, sample = world.changed, world.sample
    steps = [
        Step("Fetch the collections (labels)", lambda h: h.fetch_collections(refresh)),
        Step("Fetch their beatmaps from /api/v2/beatmaps", lambda h: h.fetch_beatmaps(refresh=refresh)),
        *(
            Step(f"Fetch the best scores of user {user}", lambda h, u=user: h.fetch_user_scores(u, refresh=refresh))
            for user, kind in sorted(sample.user_scores)
            if kind == "best"
        ),
        Step("Download and ingest the .osu files", lambda h: h.download_osu_files()),
        Step("Ingest the real .osu maps shipped with kiai", lambda h: h.ingest([REAL_MAPS])),
        Step("Import the data.ppy.sh dump", lambda h: h.import_dump([sample.dump_path])),
        *_replay_steps(world.players),
        Step("Build the feature models (the replay models too)", lambda h: h.build()),
    ]
    if world.players:
        steps.append(Step(f"Export user {world.players[0]}'s replays as training windows", _export_windows(world)))
    if train:
        steps += [
            Step("Train LightGBM", lambda h: h.train("lightgbm")),
            Step("Train Keras", lambda h: h.train("keras", epochs=40 if quick else None)),  # LightGBM needs no cap
            Step("Compare the runs", lambda h: h.compare()),
            Step("Write the report", lambda h: h.report(report or Path("reports/demo.html"))),
        ]
    return steps


def _replay_steps(players: list[int]) -> list[Step]:
    """Fetch the replays of the world's players with replays (a SELECT over the dump, as a user would)."""
    if not players:
        return []
    ids = ", ".join(map(str, players))
    query = f"SELECT id FROM scores WHERE user_id IN ({ids}) AND has_replay = 1"
    return [Step(f"Fetch the replays of users {ids}", lambda h: (h.queue_replays(query), h.fetch_replays()))]


def _export_windows(world: World) -> Callable[[Warehouse], Any]:
    from kiai.transform.replay_windows import Filters, WindowSpec

    return lambda h: h.export_replay_windows(world.windows, WindowSpec(window=32), Filters(world.players[0]))


def run_demo(data_dir: Path, config: Config | None = None, **options: Any) -> list[Any]:
    """The whole demo without a terminal (`options`: demo_steps'); returns each step's summary."""
    from kiai.house import Warehouse

    world = generate(data_dir, n_sets=QUICK_SETS if options.get("quick") else DEFAULT_SETS)
    with sandboxed(world) as server:
        house = Warehouse(config=demo_config(config or load_config(), server.base_url, world))
        return [step.run(house) for step in demo_steps(world, **options)]


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
