"""`kiai export replay-windows` on the sample world: each window holds the replay resampled as NumPy reads its frames
and the upcoming objects of its map (HR flipped); the manifest names the versions, counts and each shard's sha256;
an interrupted or damaged export is finished by running it again, keeping the good shards; filters; npz."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest

from kiai import warehouse
from kiai.errors import KiaiError
from kiai.load import osu_files, replays
from kiai.load.ppy_dump import import_dump
from kiai.osu.replay import parse_replay
from kiai.sample import generate_world
from kiai.transform import build, current_fingerprints
from kiai.transform.replay_windows import Filters, WindowSpec, export_windows
from tests.support.cli import invoke
from tests.support.paths import SQL_DIR

SPEC = WindowSpec(window=16, rate_ms=16, objects=3, shard_size=5)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("windows")
    world = generate_world(folder / "world", seed=7, n_sets=30)
    db = folder / "kiai.duckdb"
    con = warehouse.connect(db)
    osu_files.ingest_paths(con, [world.osu_dir])
    replays.ingest_paths(con, [world.root / "replays"], workers=0)
    import_dump(con, [world.dump_path])
    assert build(con, SQL_DIR, select=["+replay_summary"]).ok
    con.close()
    con = warehouse.connect(db, read_only=True)
    yield world, con, db
    con.close()


def parquet_rows(folder: Path) -> dict[str, np.ndarray]:
    manifest = json.loads((folder / "manifest.json").read_text())
    tables = [pq.read_table(folder / s["path"]) for s in manifest["shards"]]
    columns = {}
    for name, (_, shape) in manifest["columns"].items():
        values = [t.column(name).to_numpy() if not shape else np.stack(t.column(name).to_numpy(zero_copy_only=False))
                  for t in tables]  # fmt: skip
        columns[name] = np.concatenate(values).reshape(-1, *shape)
    return columns


def test_a_window_is_the_replay_resampled_with_the_upcoming_objects(sample, tmp_path: Path):
    world, con, _ = sample
    result = export_windows(con, tmp_path / "out", SPEC)
    rows = parquet_rows(tmp_path / "out")
    plays = {p.score_id: p for p in world.plays}
    checked = 0
    for score_id, data in sorted(world.replays.items()):
        play, replay = plays[score_id], parse_replay(data)
        mine = rows["score_id"] == score_id
        rate = 1.5 if "DT" in play.mods else 1.0
        step = 16 * rate
        t = replay.time_ms.astype(np.float64)
        n_steps = int((t[-1] - t[0]) // step) + 1
        assert mine.sum() == n_steps // 16 and np.array_equal(rows["window_index"][mine], np.arange(mine.sum()))
        w = int(np.flatnonzero(mine)[len(np.flatnonzero(mine)) // 2])  # a window from the middle of the play
        steps = rows["start_ms"][w] + np.arange(16) * step
        assert rows["start_ms"][w] == t[0] + rows["window_index"][w] * 16 * step
        assert rows["x"][w] == pytest.approx(np.interp(steps, t, replay.x), abs=1e-3)
        assert rows["y"][w] == pytest.approx(np.interp(steps, t, replay.y), abs=1e-3)
        assert np.array_equal(rows["keys"][w], replay.keys[np.searchsorted(t, steps, side="right") - 1])
        objects = sorted(play.beatmap.gm.objects, key=lambda o: o.time)
        times = np.array([o.time for o in objects], dtype=np.float64)
        oy = np.array([384 - o.y if "HR" in play.mods else o.y for o in objects], dtype=np.float64)
        nxt = np.searchsorted(times, steps)
        assert rows["object_dt"][w][:, 0] == pytest.approx((times[nxt] - steps) / rate, abs=1e-3)
        assert rows["object_dy"][w][:, 0] == pytest.approx(oy[nxt] - rows["y"][w], abs=1e-3)
        assert rows["object_dt"][w][:, 1] == pytest.approx((times[nxt + 1] - steps) / rate, abs=1e-3)
        assert set(np.unique(rows["object_kind"][w])) <= {1, 2, 3}
        assert rows["user_id"][w] == play.user_id
        checked += 1
    assert checked == len(world.replays) == result.counts["replays"]
    presses = rows["presses"].sum(axis=(0, 1))
    assert presses > 0 and np.all(rows["object_dt"][np.isfinite(rows["object_dt"])] >= 0)


def test_the_manifest_names_versions_counts_and_each_shards_sha256(sample, tmp_path: Path):
    world, con, _ = sample
    result = export_windows(con, tmp_path / "out", SPEC)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["complete"] and manifest["parameters"]["window"] == 16 and manifest["parameters"]["stride"] == 16
    current = current_fingerprints(con)
    assert {m: v["fingerprint"] for m, v in manifest["models"].items()} == {
        m: current[m] for m in ("replay_summary", "replay_hits", "scores")
    }
    assert len(manifest["shards"]) == -(-len(world.replays) // 5)
    for shard in manifest["shards"]:
        data = (tmp_path / "out" / shard["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == shard["sha256"] and len(data) == shard["bytes"]
        assert pq.read_metadata(tmp_path / "out" / shard["path"]).num_rows == shard["windows"]
    assert manifest["counts"]["windows"] == sum(s["windows"] for s in manifest["shards"]) == result.counts["windows"]
    assert manifest["counts"]["replays_selected"] == len(world.replays)


def test_an_interrupted_or_damaged_export_is_finished_by_running_it_again(sample, tmp_path: Path):
    _, con, _ = sample
    whole = export_windows(con, tmp_path / "whole", SPEC)
    out = tmp_path / "out"

    def stop_after_two_shards(progress) -> None:
        if progress.replays_done == 2 * SPEC.shard_size + 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        export_windows(con, out, SPEC, on_progress=stop_after_two_shards)
    partial = json.loads((out / "manifest.json").read_text())
    assert not partial["complete"] and len(partial["shards"]) == 2
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "shard-00000.parquet", "shard-00001.parquet"]
    (out / "shard-00001.parquet").write_bytes(b"damaged")
    again = export_windows(con, out, SPEC)
    assert again.counts["shards_kept"] == 1
    assert [s["sha256"] for s in again.shards] == [s["sha256"] for s in whole.shards]
    assert export_windows(con, out, SPEC).counts["shards_kept"] == len(whole.shards)
    # other parameters: every shard is written again, and shards the new export has not are removed
    fewer = export_windows(con, out, WindowSpec(window=8, objects=3, shard_size=50))
    assert fewer.counts["shards_kept"] == 0
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "shard-00000.parquet"]


def test_filters_by_user_score_ids_and_mode(sample, tmp_path: Path):
    world, con, _ = sample
    users = sorted(world.replay_styles)
    mine = sorted(i for i in world.replays if next(p for p in world.plays if p.score_id == i).user_id == users[0])
    by_user = export_windows(con, tmp_path / "user", SPEC, Filters(user_id=users[0]))
    assert set(parquet_rows(tmp_path / "user")["user_id"]) == {users[0]} and by_user.counts["replays"] == len(mine)
    assert by_user.filters == {"user_id": users[0]}
    sql = f"SELECT id FROM scores WHERE id IN ({mine[0]}, {mine[1]})"
    export_windows(con, tmp_path / "sql", SPEC, Filters(sql=sql))
    assert set(parquet_rows(tmp_path / "sql")["score_id"]) == {mine[0], mine[1]}
    taiko = export_windows(con, tmp_path / "taiko", SPEC, Filters(mode="taiko"))
    assert taiko.counts["replays_selected"] == 0 and taiko.shards == []
    with pytest.raises(KiaiError, match="--mode"):
        export_windows(con, tmp_path / "bad", SPEC, Filters(mode="ctb"))


def test_npz_shards_hold_the_same_windows_as_parquet(sample, tmp_path: Path):
    _, con, _ = sample
    export_windows(con, tmp_path / "pq", SPEC)
    export_windows(con, tmp_path / "npz", WindowSpec(window=16, objects=3, shard_size=5, format="npz"))
    manifest = json.loads((tmp_path / "npz" / "manifest.json").read_text())
    parts = [np.load(tmp_path / "npz" / s["path"]) for s in manifest["shards"]]
    expected = parquet_rows(tmp_path / "pq")
    assert parts[0]["object_dt"].shape[1:] == (16, 3) and parts[0]["x"].shape[1:] == (16,)
    for name, values in expected.items():
        got = np.concatenate([p[name] for p in parts])
        if name in ("score_id", "user_id"):
            got = np.where(got < 0, 0, got)
            values = np.nan_to_num(values.astype(np.float64)).astype(np.int64)
        assert np.array_equal(got, values, equal_nan=True), name


def test_the_command_prints_what_it_wrote_and_refuses_bad_options_in_one_line(sample, tmp_path: Path):
    _, _, db = sample
    result = invoke("export", "replay-windows", "--out", str(tmp_path / "cli"), "--window", "16", db=db)
    assert "windows of 24 replays to 1 shards" in result.stdout and (tmp_path / "cli" / "manifest.json").is_file()
    bad = invoke("export", "replay-windows", "--out", str(tmp_path / "x"), "--window", "0", db=db, check=False)
    assert bad.returncode != 0 and len(bad.stderr.strip().splitlines()) == 1 and "--window" in bad.stderr


def test_without_the_replay_models_built_it_says_what_to_run(tmp_path: Path):
    con = duckdb.connect(str(tmp_path / "empty.duckdb"))
    with pytest.raises(KiaiError, match="kiai build-features"):
        export_windows(con, tmp_path / "out", SPEC)
    con.close()
