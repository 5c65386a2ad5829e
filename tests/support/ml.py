"""A small synthetic labelled dataset with the contract's columns, in a real DuckDB warehouse (for ML tests)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from kiai import warehouse

CLASSES = ("jump", "stream", "tech")


def make_dataset(
    db_path: Path, *, n_sets: int = 60, seed: int = 0, classes: tuple[str, ...] = CLASSES, min_difficulties: int = 1
) -> int:
    """Create `features.dataset` with learnable features: each class shifts a different feature.
    Returns the row count. Sets hold `min_difficulties`-4 difficulties sharing the set's label."""
    rng = np.random.default_rng(seed)
    rows = []
    beatmap_id = 1000
    for set_number in range(n_sets):
        label = classes[set_number % len(classes)]
        for _ in range(int(rng.integers(min_difficulties, 5))):
            beatmap_id += int(rng.integers(1, 50))
            k = classes.index(label)
            stream = rng.normal(0.65 if k == 1 else 0.25, 0.15)
            jump = rng.normal(210.0 if k == 0 else 120.0, 40.0)
            slider = rng.normal(0.55 if k == 2 else 0.3, 0.12)
            rows.append(
                (
                    beatmap_id,
                    50_000 + set_number,
                    hashlib.md5(str(beatmap_id).encode()).hexdigest(),
                    label,
                    None if rng.random() < 0.1 else float(stream),  # NULL features are allowed
                    float(jump),
                    float(slider),
                    float(rng.normal(180, 25)),
                    int(rng.integers(60, 300)),
                    bool(rng.random() < (0.7 if k == 1 else 0.1)),
                    None if rng.random() < 0.1 else str(rng.choice(["Anime", "Rock", "Electronic", "Video Game"])),
                    "ranked",
                )
            )
    con = warehouse.connect(db_path)
    con.execute(
        """
        CREATE OR REPLACE TABLE features.dataset (
            beatmap_id BIGINT NOT NULL, beatmapset_id BIGINT NOT NULL, md5 VARCHAR, label VARCHAR NOT NULL,
            stream_density DOUBLE, jump_distance DOUBLE, slider_ratio FLOAT, bpm DOUBLE, hit_length INTEGER,
            has_tag_stream BOOLEAN, genre VARCHAR, status VARCHAR, ranked_date DATE
        )
        """
    )
    con.executemany("INSERT INTO features.dataset VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, DATE '2020-01-01')", rows)
    con.close()
    return len(rows)


def sample_warehouse(folder: Path, *, seed: int = 7, n_sets: int = 96, with_dump: bool = False) -> tuple[Path, object]:
    """The sample world (kiai.sample) landed as a real run would land it: its .osu files ingested, its
    /api/v2/beatmaps bodies (50 a body) and osu!collector bodies in raw.api_responses, its categories set,
    with `with_dump` its data.ppy.sh dump imported (tier 3), and the SQL models built. Returns (warehouse path,
    SampleWorld)."""
    import json
    from datetime import datetime, timedelta

    from kiai.load import api_responses
    from kiai.load.osu_files import ingest_paths
    from kiai.sample import generate_world
    from kiai.sources.http import Fetched
    from kiai.transform import build

    world = generate_world(folder / "world", seed=seed, n_sets=n_sets)
    db = folder / "kiai.duckdb"
    con = warehouse.connect(db)
    ingest_paths(con, [world.osu_dir])
    api_responses.ensure_tables(con)
    t0 = datetime(2026, 11, 1)
    bodies = []
    ids = sorted(world.beatmaps)
    for start in range(0, len(ids), 50):
        chunk = ids[start : start + 50]
        body = {"beatmaps": [world.beatmaps[i] for i in chunk]}
        bodies.append(("osu_api", "/api/v2/beatmaps", {"ids": chunk}, body))
    for cid, body in world.collections.items():
        bodies.append(("collector", "/api/collections/{id}", {"collection_id": cid}, body))
    for n, (source, endpoint, params, body) in enumerate(bodies):
        fetched = Fetched(source, endpoint, params, 200, json.dumps(body), fetched_at=t0 + timedelta(seconds=n))
        api_responses.land(con, fetched)
    api_responses.set_collection_labels(con, list(world.categories.items()))
    if with_dump:
        from kiai.load.ppy_dump import import_dump

        import_dump(con, [world.dump_path])
    report = build(con)
    assert report.ok, [(r.model, r.message) for r in report.failed]
    con.close()
    return db, world
