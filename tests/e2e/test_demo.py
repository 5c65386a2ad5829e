"""`kiai demo --quick` end to end in a subprocess (sandbox on 127.0.0.1, real DuckDB file): every stage leaves
what it should in the warehouse, and a second run reuses it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest

from kiai.demo import REAL_MAPS
from tests.support.cli import run_kiai

pytestmark = pytest.mark.slow


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return con.execute(sql).fetchone()[0]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory):
    cwd = tmp_path_factory.mktemp("demo")
    first = run_kiai("demo", "--quick", cwd=cwd, env={"KIAI_DB": "", "KIAI_CONFIG": "", "KIAI_DATA_DIR": ""})
    return cwd, first


def test_every_stage_landed(demo_run) -> None:
    cwd, result = demo_run
    manifest = json.loads((cwd / "data" / "sample" / "world" / "world.json").read_text())
    labelled = {int(k) for k in manifest["labels"]}
    categories = manifest["categories"]
    con = duckdb.connect(str(cwd / "warehouse" / "kiai.duckdb"), read_only=True)
    try:
        responses = dict(
            con.execute(
                "SELECT source || ' ' || endpoint, count(*) FROM raw.api_responses WHERE http_status = 200 GROUP BY 1"
            ).fetchall()
        )
        assert responses["collector /api/collections/{id}"] == len(categories)
        assert responses["osu_api /api/v2/beatmaps"] == -(-len(labelled) // 50)  # chunks of 50
        assert responses["osu_api /api/v2/users/{user}/scores/{type}"] >= 3
        fetched = _one(con, "SELECT count(DISTINCT beatmap_id) FROM staging.beatmaps")
        assert fetched == len(labelled)
        # downloaded files (md5-checked) and the real maps shipped with kiai, parsed
        files = {int(p.stem) for p in (cwd / "data" / "sample" / "beatmaps").glob("*.osu")}
        assert files == labelled
        parsed = _one(con, f"SELECT count(*) FROM parsed.beatmap_files WHERE beatmap_id IN {tuple(labelled)}")
        assert parsed == len(labelled)
        assert _one(con, "SELECT count(*) FROM raw.osu_files") == len(labelled) + len(list(REAL_MAPS.glob("*.osu")))
        assert _one(con, "SELECT count(*) FROM parsed.hit_objects") > 100 * len(labelled)
        assert _one(con, "SELECT count(*) FROM parsed.parse_errors") == 0
        # the dump, consistent with the API
        assert _one(con, "SELECT count(*) FROM ppy.osu_beatmaps") == manifest["maps"]
        assert _one(con, "SELECT count(*) FROM ppy.sample_users") == manifest["n_users"]
        assert _one(con, "SELECT count(*) FROM ppy.scores") > 0
        mismatched = _one(
            con, "SELECT count(*) FROM staging.beatmaps a JOIN ppy.osu_beatmaps b USING (beatmap_id) "
            "WHERE a.checksum <> b.checksum"
        )  # fmt: skip
        assert mismatched == 0
        # features and the labelled dataset: every category, conflicts flagged
        per_label = dict(con.execute("SELECT label, count(*) FROM features.dataset GROUP BY label").fetchall())
        assert set(per_label) == set(categories)
        conflicts = {int(k) for k, v in manifest["labels"].items() if len(v) > 1}
        assert sum(per_label.values()) == len(labelled)  # a conflict keeps the first category of kiai.toml
        for beatmap_id, label in con.execute("SELECT beatmap_id, label FROM features.dataset").fetchall():
            assert label in manifest["labels"][str(beatmap_id)]
        flagged = {r[0] for r in con.execute("SELECT beatmap_id FROM features.label_conflicts").fetchall()}
        assert flagged == conflicts and conflicts
        assert _one(con, "SELECT count(*) FROM features.beatmap_features WHERE stream_density IS NOT NULL") > 0
        # the replays, fetched with --sql over the dump (the others are 404: missing), measured and exported
        assert _one(con, "SELECT count(*) FROM parsed.replays") == manifest["replays"] > 0
        assert _one(con, "SELECT count(*) FROM raw.replay_queue WHERE state = 'done'") == manifest["replays"]
        # replays of maps the demo did not download (unlabelled) are rows saying so, and counted
        statuses = dict(con.execute("SELECT hits_status, count(*) FROM features.replay_summary GROUP BY 1").fetchall())
        assert statuses["measured"] > 0 and sum(statuses.values()) == manifest["replays"]
        assert set(statuses) <= {"measured", "beatmap not parsed"}
        assert _one(con, "SELECT count(*) FROM features.replay_summary WHERE user_id IS NULL") == 0
        # training runs, both baselines, on the same dataset
        runs = con.execute("SELECT kind, dataset_rows FROM kiai.kiai.training_runs ORDER BY kind").fetchall()
        assert [k for k, _ in runs] == ["keras", "lightgbm"]
        assert {rows for _, rows in runs} == {sum(per_label.values())}
    finally:
        con.close()
    assert (cwd / "reports" / "demo.html").stat().st_size > 1000
    windows = json.loads((cwd / "data" / "sample" / "replay_windows" / "manifest.json").read_text())
    assert windows["complete"] and windows["counts"]["windows"] > 0 and windows["filters"]["user_id"]
    out = result.stdout
    assert "warehouse: warehouse/kiai.duckdb" in out and "report:" in out
    queries = re.findall(r"^\s+(kiai sql .*)$", out, re.MULTILINE)
    assert len(queries) == 4 and "has_replay" in queries[0] and "osu_beatmaps" in queries[0]
    assert "features.replay_summary" in queries[3]
    assert "kiai-demo-sandbox-not-a-secret" not in out + result.stderr


def test_the_printed_queries_run(demo_run) -> None:
    cwd, result = demo_run
    queries = re.findall(r'^\s+kiai sql "(.*)"$', result.stdout, re.MULTILINE)
    for query in (queries[0], queries[3]):  # the scores with replays; the players' aim and timing
        rows = run_kiai("sql", "--format", "csv", query, cwd=cwd, env={"KIAI_DB": "", "KIAI_CONFIG": ""})
        assert len(rows.stdout.strip().splitlines()) > 1


def test_running_it_again_reuses_what_landed(demo_run) -> None:
    cwd, _ = demo_run
    again = run_kiai(
        "demo", "--quick", "--no-train", cwd=cwd, env={"KIAI_DB": "", "KIAI_CONFIG": "", "KIAI_DATA_DIR": ""}
    )
    assert "0 fetched, 6 already stored" in again.stdout
    assert re.search(r"0 downloaded, \d+ already there, 0 failed", again.stdout)
    assert "0 added" in again.stdout
    con = duckdb.connect(str(cwd / "warehouse" / "kiai.duckdb"), read_only=True)
    try:
        assert _one(con, "SELECT count(*) FROM kiai.kiai.training_runs") == 2
        assert _one(con, "SELECT count(*) FROM features.dataset") > 0
    finally:
        con.close()


def test_demo_config_is_toml_for_any_path(tmp_path: Path) -> None:
    import tomllib

    from kiai.demo import write_config as _demo_config

    data_dir = tmp_path / 'C:\\Users\\o"su' / "data"  # backslashes and a quote: Python repr is not TOML
    path = _demo_config(tmp_path / "kiai.toml", "http://127.0.0.1:1", {"stream": 1, "jump": 2}, data_dir)
    config = tomllib.loads(path.read_text())
    assert config["paths"]["data_dir"] == str(data_dir)
    assert config["collections"] == {"stream": [1], "jump": [2]} and config["osu"]["base_url"] == "http://127.0.0.1:1"
    assert [p.name for p in tmp_path.iterdir()] == ["kiai.toml"]
