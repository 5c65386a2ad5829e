"""The sample world generator: deterministic, valid .osu files (kiai's parser and rosu-pp-py), bodies consistent
with the files, a dump that `kiai import ppy-dump` accepts and that matches the API bodies."""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

import duckdb
import numpy as np
import pytest

from kiai.osu import KINDS, parse_batch
from kiai.sample import CATEGORIES, generate_world
from kiai.sample.mapgen import generate_map, plan_song
from kiai.sandbox import SandboxServer
from tests.support.cli import invoke

N_SETS = 24


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    return generate_world(tmp_path_factory.mktemp("world"), seed=11, n_sets=N_SETS, label_noise=0.2, conflict_rate=0.05)


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_other_maps(tmp_path: Path, world) -> None:
    again = generate_world(tmp_path / "again", seed=11, n_sets=N_SETS, label_noise=0.2, conflict_rate=0.05)
    assert _tree(again.root) == _tree(world.root)
    other = generate_world(tmp_path / "other", seed=12, n_sets=N_SETS, write=False)
    assert {hashlib.md5(d).hexdigest() for d in other.osu_files.values()}.isdisjoint(
        hashlib.md5(d).hexdigest() for d in world.osu_files.values()
    )


def test_world_shape(world) -> None:
    assert len(world.sets) == N_SETS
    assert {s.archetype for s in world.sets} == set(CATEGORIES)
    assert all(2 <= len(s.maps) <= 5 for s in world.sets)
    assert list(world.categories) == list(CATEGORIES)
    for s in world.sets:  # one song per set: same BPM and timing, difficulty varies
        assert len({m.bpm for m in s.maps}) == 1
        assert len({m.gm.timing[0].time for m in s.maps}) == 1
        stars = [m.stars for m in s.maps]
        assert max(stars) > min(stars)
    listed = {m["id"] for c in world.collections.values() for bs in c["beatmapsets"] for m in bs["beatmaps"]}
    assert listed == set(world.labels)
    # label noise and conflicts exist but stay a minority
    wrong = [i for i, cats in world.labels.items() if cats[0] != world.archetype[i]]
    assert 0 < len(wrong) < 0.4 * len(world.labels)
    assert 0 < len(world.conflicts()) < 0.15 * len(world.labels)
    assert world.conflicts() == sorted(i for i, c in world.labels.items() if len(c) == 2)


def test_no_noise_means_every_label_is_the_archetype(tmp_path: Path) -> None:
    clean = generate_world(tmp_path, seed=5, n_sets=12, label_noise=0.0, conflict_rate=0.0, write=False)
    assert all(cats == [clean.archetype[i]] for i, cats in clean.labels.items())


def test_files_parse_with_kiai_and_match_the_api_bodies(world) -> None:
    ids = sorted(world.osu_files)
    batch = parse_batch([world.osu_files[i] for i in ids])
    assert [f.error for f in batch.files] == [None] * len(ids)
    objects = batch.hit_objects
    for index, beatmap_id in enumerate(ids):
        meta, body = batch.files[index].metadata, world.beatmaps[beatmap_id]
        assert meta["beatmap_id"] == beatmap_id and meta["beatmapset_id"] == body["beatmapset_id"]
        assert meta["format_version"] == 14 and meta["mode"] == 0
        assert body["checksum"] == hashlib.md5(world.osu_files[beatmap_id]).hexdigest()
        kinds = np.asarray(KINDS)[np.asarray(objects.kind)[np.asarray(objects.file_index) == index]]
        counts = {k: int((kinds == k).sum()) for k in ("circle", "slider", "spinner")}
        assert counts == {
            "circle": body["count_circles"],
            "slider": body["count_sliders"],
            "spinner": body["count_spinners"],
        }


def test_slider_end_times_follow_from_length_velocity_and_slides(world) -> None:
    """kiai's parser derives slider ends from SliderMultiplier, SV, beat length and slides: they must agree
    with the durations the generator meant (whole ms)."""
    ids = sorted(world.osu_files)[:40]
    batch = parse_batch([world.osu_files[i] for i in ids])
    records = {m.beatmap_id: m for s in world.sets for m in s.maps}
    o = batch.hit_objects
    file_index, kind, end = np.asarray(o.file_index), np.asarray(KINDS)[o.kind], np.asarray(o.end_time_ms, float)
    for index, beatmap_id in enumerate(ids):
        wanted = [x.end_time for x in records[beatmap_id].gm.objects if x.kind == "slider"]
        got = end[(file_index == index) & (kind == "slider")]
        assert len(got) == len(wanted)
        assert got.tolist() == wanted


def test_files_parse_with_rosu_and_combo_and_stars_agree(world) -> None:
    rosu = pytest.importorskip("rosu_pp_py")
    ours, theirs = [], []
    for beatmap_id, data in world.osu_files.items():
        beatmap = rosu.Beatmap(bytes=data)
        attrs = rosu.Difficulty().calculate(beatmap)
        body = world.beatmaps[beatmap_id]
        assert attrs.max_combo == body["max_combo"], beatmap_id
        assert (attrs.n_circles, attrs.n_sliders, attrs.n_spinners) == (
            body["count_circles"],
            body["count_sliders"],
            body["count_spinners"],
        )
        assert abs(beatmap.bpm - body["bpm"]) < 0.5
        ours.append(body["difficulty_rating"])
        theirs.append(attrs.stars)
    assert np.corrcoef(ours, theirs)[0, 1] > 0.75
    assert 1 < np.median(ours) < 8


def test_archetypes_differ_in_what_the_features_see() -> None:
    """Stream maps have more 1/4 runs than jump maps, jump maps bigger spacing, slider maps more sliders."""
    rng = np.random.default_rng(3)

    def stats(archetype: str) -> tuple[float, float, float]:
        quarter, spacing, sliders = [], [], []
        for _ in range(6):
            plan = plan_song(rng, archetype)
            gm = generate_map(plan, 0.9, rng)
            t = np.array([o.time for o in gm.objects], float)
            beat = 60000 / plan.main_bpm
            quarter.append(np.mean(np.diff(t) <= beat / 4 + 2))
            xy = np.array([(o.x, o.y) for o in gm.objects], float)
            spacing.append(np.median(np.hypot(*np.diff(xy, axis=0).T)))
            sliders.append(np.mean([o.kind == "slider" for o in gm.objects]))
        return float(np.mean(quarter)), float(np.mean(spacing)), float(np.mean(sliders))

    stream, jump, slider = stats("stream"), stats("jump"), stats("slider")
    assert stream[0] > 1.5 * jump[0]
    assert jump[1] > 1.5 * stream[1]
    assert slider[2] > 1.3 * jump[2]


def test_bodies_agree_with_each_other(world) -> None:
    md5 = {i: hashlib.md5(d).hexdigest() for i, d in world.osu_files.items()}
    for body in world.collections.values():
        for beatmapset in body["beatmapsets"]:
            for m in beatmapset["beatmaps"]:
                assert m["checksum"] == md5[m["id"]]
                assert world.beatmaps[m["id"]]["beatmapset_id"] == beatmapset["id"]
        assert body["beatmapCount"] == sum(len(s["beatmaps"]) for s in body["beatmapsets"])
    play_ids = {p.score_id for p in world.plays}
    for (user_id, kind), scores in world.user_scores.items():
        assert kind in ("best", "recent")
        pps = [s["pp"] for s in scores]
        assert pps == sorted(pps, reverse=True)
        for s in scores:
            assert s["user_id"] == user_id and s["id"] in play_ids
            assert s["beatmap"]["checksum"] == md5[s["beatmap_id"]]
            assert s["max_combo"] <= world.beatmaps[s["beatmap_id"]]["max_combo"]
            assert (
                sum(s["statistics"].get(k, 0) for k in ("great", "ok", "meh", "miss"))
                == s["maximum_statistics"]["great"]
            )


def test_dump_imports_and_matches_the_api(world, tmp_path: Path) -> None:
    with tarfile.open(world.dump_path) as tar:
        names = sorted(m.name for m in tar.getmembers())
    assert all(n.startswith(world.dump_path.name.removesuffix(".tar.bz2") + "/") for n in names)
    db = tmp_path / "wh.duckdb"
    invoke("import", "ppy-dump", str(world.dump_path), db=db)
    con = duckdb.connect(str(db), read_only=True)
    try:
        maps = dict(con.execute("SELECT beatmap_id, checksum FROM ppy.osu_beatmaps").fetchall())
        assert maps == {i: b["checksum"] for i, b in world.beatmaps.items()}
        counts = con.execute(
            "SELECT beatmap_id, countNormal, countSlider, countSpinner, max_combo FROM ppy.osu_beatmaps"
        ).fetchall()
        for beatmap_id, circles, sliders, spinners, combo in counts:
            b = world.beatmaps[beatmap_id]
            assert (circles, sliders, spinners, combo) == (
                b["count_circles"],
                b["count_sliders"],
                b["count_spinners"],
                b["max_combo"],
            )
        sets = con.execute("SELECT count(*) FROM ppy.osu_beatmapsets").fetchone()[0]
        assert sets == len(world.sets)
        users = {u for (u,) in con.execute("SELECT user_id FROM ppy.sample_users").fetchall()}
        assert users == {u for u, _ in world.users}
        orphans = con.execute(
            "SELECT count(*) FROM ppy.scores s LEFT JOIN ppy.osu_beatmaps b USING (beatmap_id) "
            "WHERE b.beatmap_id IS NULL OR s.user_id NOT IN (SELECT user_id FROM ppy.sample_users)"
        ).fetchone()[0]
        assert orphans == 0
        scores = dict(con.execute("SELECT id, legacy_score_id FROM ppy.scores").fetchall())
        for body in (s for lst in world.user_scores.values() for s in lst):
            assert scores[body["id"]] == body["legacy_score_id"]
        legacy = con.execute(
            "SELECT count(*) FROM ppy.scores s JOIN ppy.osu_scores_high h ON h.score_id = s.legacy_score_id"
        ).fetchone()[0]
        assert legacy == sum(p.legacy_score_id is not None for p in world.plays) > 0
        data = json.loads(con.execute("SELECT data FROM ppy.scores LIMIT 1").fetchone()[0])
        assert {"mods", "statistics", "maximum_statistics"} <= set(data)
    finally:
        con.close()


def test_sandbox_serves_the_world(world) -> None:
    import requests

    with SandboxServer(world.sandbox_world("99", "demo")) as server:
        base = server.base_url
        token = requests.post(
            f"{base}/oauth/token",
            data={"client_id": "99", "client_secret": "demo", "grant_type": "client_credentials", "scope": "public"},
            timeout=5,
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        ids = sorted(world.beatmaps)[:3]
        found = requests.get(f"{base}/api/v2/beatmaps", params={"ids[]": ids}, headers=auth, timeout=5).json()
        assert [b["id"] for b in found["beatmaps"]] == ids
        osu = requests.get(f"{base}/osu/{ids[0]}", timeout=5).content
        assert hashlib.md5(osu).hexdigest() == found["beatmaps"][0]["checksum"]
        user = next(u for u, kind in world.user_scores if kind == "best")
        best = requests.get(f"{base}/api/v2/users/{user}/scores/best", params={"limit": 100}, headers=auth, timeout=5)
        assert [s["id"] for s in best.json()] == [s["id"] for s in world.user_scores[(user, "best")]][:100]
        cid = world.categories["stream"]
        assert requests.get(f"{base}/api/collections/{cid}", timeout=5).json() == world.collections[cid]


def test_a_smaller_world_in_the_same_folder_leaves_no_old_files(tmp_path: Path) -> None:
    big = generate_world(tmp_path, seed=3, n_sets=6)
    small = generate_world(tmp_path, seed=3, n_sets=3)
    assert len(small.osu_files) < len(big.osu_files)
    assert {p.stem for p in small.osu_dir.glob("*.osu")} == {str(i) for i in small.osu_files}
    assert {p.name for p in (tmp_path / "collector").iterdir()} == {
        f"collection_{cid}.json" for cid in small.collections
    }
    assert not [p for p in tmp_path.rglob("*") if ".tmp" in p.name]
