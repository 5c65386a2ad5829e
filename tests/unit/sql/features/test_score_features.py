"""Tier 3, features.score_features: every column on a small hand-built dump against a hand computation, the
NULL and empty cases, other rulesets left out; beatmap_features and the dataset with and without a dump; and
training on them."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pytest

from kiai import warehouse
from kiai.load import ensure_tables
from kiai.load.ppy_dump import import_dump
from kiai.sample import dump
from kiai.sample.dump import Float, Json
from kiai.transform import build, current_code_fingerprints, current_fingerprints
from tests.support.features_world import copy_of, make_world, rows

# beatmaps of tests/support/features_world.py: M1 is known to the API (a recorded map), M2 the API knows with a
# hit_length of 0, M3 is a parsed file the API does not know; TAIKO is the API's taiko map; UNKNOWN is neither
M1, M2, M3, TAIKO, UNPLAYED, UNKNOWN = 2906626, 900001, 900003, 3586360, 2354779, 4242
A, B, C = 1, 2, 3
ENDED = datetime(2026, 1, 2, 3, 4, 5)
# (player, beatmap, ruleset, pp, accuracy, mods, passed); accuracies are exact in a MySQL FLOAT
SCORES = [
    (A, M1, 0, 300, 0.96875, ["HD", "DT"], True),
    (A, M1, 0, 200, 0.9375, [], True),  # a second score on the map: A's best there is 300
    (A, M2, 0, 100, 0.875, ["HR"], True),
    (A, M3, 0, 50, 0.75, ["NC"], True),  # Nightcore counts as DT
    (A, UNKNOWN, 1, 5000, 1.0, [], True),  # taiko: would push M2 out of A's top 2 if it counted
    (B, M1, 0, 10, 0.8125, ["HT"], True),
    (B, M3, 0, 500, 0.984375, [], True),
    (B, UNKNOWN, 0, 400, 0.90625, ["HR", "HD"], True),
    (B, M2, 0, None, 0.5, ["DT"], False),  # a failed score without pp: never a top play
    (C, M1, 0, None, 0.625, [], False),
    (C, M1, 1, 1000, 0.99, [], True),  # a convert played in taiko: left out
    (C, TAIKO, 1, 999, 0.99, [], True),  # only taiko scores: the map has no row
]
SCORE_COLUMNS = [
    "score_count",
    "score_players",
    "score_top_play_share",
    "score_pp_median",
    "score_pp_p90",
    "score_pp_per_drain_minute",
    "score_accuracy_median",
    "score_dt_hr_share",
    "score_pass_share",
]


def _f32(value: float) -> float:
    return float(np.float32(value))


def _score_row(number: int, user: int, beatmap: int, ruleset: int, pp, accuracy: float, mods, passed: bool) -> tuple:
    data = {"mods": [{"acronym": m} for m in mods], "statistics": {"great": 10}, "maximum_statistics": {"great": 10}}
    return (
        number, user, ruleset, beatmap, 0, 1, 1, "A" if passed else "F", passed, Float(accuracy), 10, 1000,
        Json(data), None if pp is None else Float(pp), None, 0, None, ENDED, int(ENDED.timestamp()), None,
    )  # fmt: skip


def write_dump(folder: Path, scores: list[tuple]) -> Path:
    """A dump folder with only `scores.sql`, as mysqldump writes it."""
    folder.mkdir(parents=True)
    rows_ = [_score_row(n + 1, *score) for n, score in enumerate(scores)]
    (folder / "scores.sql").write_bytes(dump.table_sql("scores", rows_, datetime(2026, 11, 1)))
    return folder


@pytest.fixture(scope="module")
def plain_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The features world, built, without a dump."""
    folder = tmp_path_factory.mktemp("tier3")
    db = make_world(folder / "world")
    con = warehouse.connect(db)
    try:
        assert build(con).ok
    finally:
        con.close()
    return db


@pytest.fixture(scope="module")
def scored_db(plain_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same world with the hand-built dump imported and the models built again."""
    folder = tmp_path_factory.mktemp("tier3_scored")
    with copy_of(plain_db, folder) as con:
        import_dump(con, [write_dump(folder / "dump", SCORES)])
        report = build(con)
        assert report.ok, [(r.model, r.message) for r in report.failed]
    return folder / "kiai.duckdb"


@pytest.fixture
def scored(scored_db: Path, tmp_path: Path):
    with copy_of(scored_db, tmp_path) as con:
        yield con


def _by_map(con: duckdb.DuckDBPyConnection, relation: str = "features.score_features") -> dict[int, dict]:
    return {r["beatmap_id"]: r for r in rows(con, f"SELECT * FROM {relation}")}


def _hit_length(con: duckdb.DuckDBPyConnection, beatmap_id: int) -> int:
    return con.execute("SELECT hit_length FROM features.api_features WHERE beatmap_id = ?", [beatmap_id]).fetchone()[0]


def test_each_column_equals_a_hand_computation(scored: duckdb.DuckDBPyConnection) -> None:
    found = _by_map(scored)
    assert set(found) == {M1, M2, M3, UNKNOWN}  # TAIKO has taiko scores only, UNPLAYED none
    hit = _hit_length(scored, M1)
    assert hit > 0
    m1 = found[M1]  # ruleset 0: A 300 (HD DT), A 200, B 10 (HT), C failed without pp
    assert (m1["score_count"], m1["score_players"]) == (4, 3)
    assert m1["score_top_play_share"] == pytest.approx(2 / 3)  # var 100: A's and B's, not C's (no pp)
    assert m1["score_pp_median"] == 200
    assert m1["score_pp_p90"] == pytest.approx(200 + 0.8 * (300 - 200))  # 0.9 * (3 - 1) = 1.8 between the 2nd and 3rd
    per_minute = sorted([300 * 1.5 * 60 / hit, 200 * 60 / hit, 10 * 0.75 * 60 / hit])  # DT faster, HT slower
    assert m1["score_pp_per_drain_minute"] == pytest.approx(per_minute[1])
    assert m1["score_accuracy_median"] == (_f32(0.9375) + _f32(0.8125)) / 2
    assert m1["score_dt_hr_share"] == 1 / 4
    assert m1["score_pass_share"] == 3 / 4

    m2 = found[M2]  # A 100 (HR), B failed with DT and no pp; the API says hit_length 0
    assert (m2["score_count"], m2["score_players"], m2["score_top_play_share"]) == (2, 2, 0.5)
    assert (m2["score_pp_median"], m2["score_pp_p90"], m2["score_pp_per_drain_minute"]) == (100, 100, None)
    assert (m2["score_accuracy_median"], m2["score_dt_hr_share"], m2["score_pass_share"]) == ((0.875 + 0.5) / 2, 1, 0.5)

    m3 = found[M3]  # A 50 (NC), B 500; a parsed file the API has not answered for: no drain time
    assert (m3["score_count"], m3["score_players"], m3["score_top_play_share"]) == (2, 2, 1.0)
    assert (m3["score_pp_median"], m3["score_pp_p90"]) == (275, pytest.approx(50 + 0.9 * 450))
    assert m3["score_pp_per_drain_minute"] is None
    assert (m3["score_accuracy_median"], m3["score_dt_hr_share"]) == ((0.75 + _f32(0.984375)) / 2, 0.5)

    unknown = found[UNKNOWN]  # A's taiko score of 5000 pp is left out
    assert (unknown["score_count"], unknown["score_players"], unknown["score_pp_median"]) == (1, 1, 400)
    assert (unknown["score_dt_hr_share"], unknown["score_pass_share"]) == (1, 1)

    (counts,) = scored.execute(
        "SELECT counts FROM kiai.model_builds WHERE model = 'score_features' AND status = 'built' "
        "ORDER BY finished_at DESC LIMIT 1"
    ).fetchone()
    assert json.loads(counts) == {"other_rulesets_left_out": 3}


def test_top_plays_rank_within_each_player_by_best_pp_and_ruleset(scored: duckdb.DuckDBPyConnection) -> None:
    report = build(scored, variables={"score_top_plays": 2})
    assert report.ok and "score_features" in {item.model for item in report.todo}
    found = _by_map(scored)
    # A's best per map: M1 300, M2 100, M3 50 (the taiko 5000 does not count) -> top 2: M1, M2
    # B's: M3 500, UNKNOWN 400, M1 10, M2 no pp -> top 2: M3, UNKNOWN; C's: M1 without pp -> none
    shares = {m: found[m]["score_top_play_share"] for m in found}
    assert shares == {M1: 1 / 3, M2: 1 / 2, M3: 1 / 2, UNKNOWN: 1.0}


def test_beatmap_features_and_dataset_carry_them_null_where_unplayed(scored: duckdb.DuckDBPyConnection) -> None:
    tier3 = _by_map(scored)
    features = _by_map(scored, "features.beatmap_features")
    assert UNKNOWN not in features  # a beatmap neither the API nor a file knows stays out
    for beatmap_id in (M1, M2, M3):
        assert {c: features[beatmap_id][c] for c in SCORE_COLUMNS} == {c: tier3[beatmap_id][c] for c in SCORE_COLUMNS}
    for beatmap_id in (UNPLAYED, TAIKO):
        if beatmap_id in features:
            assert all(features[beatmap_id][c] is None for c in SCORE_COLUMNS), beatmap_id
    dataset = _by_map(scored, "features.dataset")
    assert {M1, M2, M3, UNPLAYED} <= set(dataset)
    assert dataset[M3]["score_pp_median"] == 275 and dataset[M3]["label"] == "farm"
    assert all(dataset[UNPLAYED][c] is None for c in SCORE_COLUMNS)


def test_without_a_dump_the_columns_are_null_and_nothing_else_changes(plain_db: Path, scored_db: Path) -> None:
    plain = warehouse.connect(plain_db, read_only=True)
    scored = warehouse.connect(scored_db, read_only=True)
    try:
        assert plain.execute("SELECT count(*) FROM features.score_features").fetchone() == (0,)
        # the same feature version (code), another model version (data): what compare's model_fingerprints show
        assert current_code_fingerprints(plain) == current_code_fingerprints(scored)
        assert current_fingerprints(plain)["score_features"] != current_fingerprints(scored)["score_features"]
        for relation in ("features.beatmap_features", "features.dataset"):
            columns = [r[0] for r in plain.execute(f"DESCRIBE {relation}").fetchall()]
            assert columns == [r[0] for r in scored.execute(f"DESCRIBE {relation}").fetchall()]
            assert set(SCORE_COLUMNS) <= set(columns)
            nulls = " AND ".join(f"{c} IS NULL" for c in SCORE_COLUMNS)
            assert plain.execute(f"SELECT count(*) = count(*) FILTER ({nulls}) FROM {relation}").fetchone() == (True,)
            others = [c for c in columns if c not in SCORE_COLUMNS]
            listed = ", ".join(f'"{c}"' for c in others)
            without = plain.execute(f"SELECT {listed} FROM {relation} ORDER BY beatmap_id, md5").fetchall()
            assert without == scored.execute(f"SELECT {listed} FROM {relation} ORDER BY beatmap_id, md5").fetchall()
    finally:
        plain.close()
        scored.close()


def test_an_empty_scores_table_builds_an_empty_model(tmp_path: Path) -> None:
    con = warehouse.connect(tmp_path / "w.duckdb")
    try:
        ensure_tables(con)
        import_dump(con, [write_dump(tmp_path / "dump", [])])
        assert build(con, select=["+score_features"]).ok
        assert con.execute("SELECT count(*) FROM features.score_features").fetchone() == (0,)
    finally:
        con.close()


def test_both_models_train_on_them(tmp_path: Path) -> None:
    """The sample world with its dump: the score columns feed both models, NULL where a map has no scores."""
    from kiai.ml.compare import compare_rows
    from kiai.ml.train import train
    from tests.support.ml import sample_warehouse

    db, _ = sample_warehouse(tmp_path, n_sets=36, with_dump=True)
    con = warehouse.connect(db)
    try:
        trained = {}
        for kind, epochs in (("lightgbm", None), ("keras", 5)):
            run = train(con, kind, models_dir=tmp_path / "models", folds=3, epochs=epochs)
            trained[kind] = run
            manifest = run.manifest()
            assert set(SCORE_COLUMNS) <= {c["name"] for c in manifest["encoder"]["columns"]}
            shares = manifest["dataset"]["non_null_share"]
            assert all(0 < shares[c] < 1 for c in ("score_players", "score_pp_median")), shares
            assert np.isfinite(run.metrics["log_loss"]["mean"]), kind
        importance = json.loads((trained["lightgbm"].path / "metrics.json").read_text())["importance"]
        assert any(importance["features"].get(c, 0) > 0 for c in SCORE_COLUMNS), importance
        # compare tells a run on dump scores from one without: the version of score_features with its data
        versions = {row["model"]: row["model_fingerprints"] for row in compare_rows(con)}
        assert versions["lightgbm"]["score_features"] == current_fingerprints(con)["score_features"]
        assert versions["lightgbm"] == versions["keras"]
    finally:
        con.close()
