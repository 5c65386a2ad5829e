"""Golden tests of the tier-2 feature models on the real fixtures and on generated maps."""

from __future__ import annotations

import hashlib
import math
import shutil
from pathlib import Path

import duckdb
import pytest
import rosu_pp_py as rosu

from kiai import warehouse
from kiai.load import ensure_tables
from kiai.transform import build
from tests.support.cli import invoke
from tests.support.features_world import osu_map_text
from tests.support.legacy import differing_md5s, packed_file_features_sql
from tests.support.paths import OSU_FIXTURES, SAME_TIME_FIXTURES, SQL_DIR
from tests.support.steps import with_steps

SELECT = ["+file_features"]
FIXTURE_FILES = sorted(OSU_FIXTURES.glob("*.osu")) + sorted(SAME_TIME_FIXTURES.glob("*.osu"))


def ingest_and_build(tmp: Path, *sources: Path) -> duckdb.DuckDBPyConnection:
    db = tmp / "kiai.duckdb"
    invoke("ingest", "osu-files", *map(str, sources), db=db)
    con = warehouse.connect(db)
    report = build(con, SQL_DIR, select=SELECT)
    assert report.ok, [(r.model, r.message) for r in report.failed]
    return con


@pytest.fixture(scope="module")
def fixtures_db(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    con = ingest_and_build(tmp_path_factory.mktemp("fixtures"), OSU_FIXTURES, SAME_TIME_FIXTURES)
    yield con
    con.close()


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_most_common_bpm_equals_rosu_pp(fixtures_db):
    got = dict(fixtures_db.execute("SELECT md5, bpm_most_common FROM features.file_features").fetchall())
    compared = 0
    for path in FIXTURE_FILES:
        if md5_of(path) not in got:
            continue  # not osu!standard
        expected = rosu.Beatmap(path=str(path)).bpm
        value = got[md5_of(path)]
        if math.isinf(expected):  # rosu: no timing points
            assert value is None, path.name
        else:
            assert value == pytest.approx(expected, rel=1e-9), path.name
            compared += 1
    assert compared >= 25


def kiai_sections_from_text(path: Path) -> list[tuple[float, float | None]]:
    """Kiai sections read straight from the file's timing lines with osu!'s same-timestamp rule: of the last run
    of consecutive lines at a time, the last inherited line, else the first uninherited one."""
    lines = path.read_text(encoding="utf-8-sig", errors="replace").splitlines()
    version = int(lines[0].rsplit("v", 1)[1]) if lines and "file format v" in lines[0] else 14
    offset = 24 if version < 5 else 0
    section, points = "", []
    for line in lines:
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[TimingPoints]" and line and not line.startswith("//"):
            fields = line.split(",")
            try:
                time, _ = float(fields[0]) + offset, float(fields[1])
            except (ValueError, IndexError):
                continue
            uninherited = len(fields) < 7 or fields[6].strip() == "1"
            effects = int(fields[7]) if len(fields) > 7 and fields[7].strip() else 0
            run = len(points) if not points or points[-1][0] != time else points[-1][3]
            points.append((time, uninherited, effects & 1 == 1, run))
    state: dict[float, bool] = {}
    for time in sorted({p[0] for p in points}):
        last_run = max(p[3] for p in points if p[0] == time)
        here = [p for p in points if p[0] == time and p[3] == last_run]
        inherited = [p for p in here if not p[1]]
        state[time] = inherited[-1][2] if inherited else here[0][2]  # last inherited, else first uninherited
    sections, start, previous = [], None, False
    for time, kiai in state.items():
        if kiai and not previous:
            start = time
        elif previous and not kiai:
            sections.append((start, time))
        previous = kiai
    if previous:
        sections.append((start, None))
    return sections


def test_kiai_sections_match_the_raw_timing_lines(fixtures_db):
    rows = fixtures_db.execute(
        "SELECT md5, start_ms, end_ms FROM features.kiai_sections ORDER BY md5, section_index"
    ).fetchall()
    got: dict[str, list[tuple[float, float | None]]] = {}
    for md5, start, end in rows:
        got.setdefault(md5, []).append((start, end))
    for path in FIXTURE_FILES:
        assert got.get(md5_of(path), []) == kiai_sections_from_text(path), path.name
    overlapping = got[md5_of(OSU_FIXTURES / "overlapping-control-points.osu")]
    assert overlapping == [(0.0, 2000.0), (3000.0, None)]
    assert sum(len(v) for v in got.values()) > 50


def osu_file(folder: Path, title: str, beatmap_id: int, timing: list[str], objects: list[tuple]) -> None:
    (folder / f"{title}.osu").write_text(osu_map_text(title, beatmap_id, timing, objects), encoding="utf-8")


@pytest.fixture(scope="module")
def generated_db(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    folder = tmp_path_factory.mktemp("generated")
    beat = 60000 / 180
    stream = [
        (256 + round(40 * math.cos(i / 3)), 192 + round(40 * math.sin(i / 3)), round(1000 + i * beat / 4))
        for i in range(200)
    ]
    osu_file(folder, "stream", 1, [f"1000,{beat},4,2,0,100,1,0"], stream)
    jumps = [(0 if i % 2 else 512, 0 if i % 2 else 384, round(1000 + i * beat / 2)) for i in range(200)]
    osu_file(folder, "jumps", 2, [f"1000,{beat},4,2,0,100,1,0"], jumps)
    # 1/4 at 120 BPM, then 1/4 at 240 BPM: only the BPM active at each note makes both streams
    slow = [(100, 100, 1000 + i * 125) for i in range(100)]
    fast = [(300, 100, 20000 + round(i * 62.5)) for i in range(100)]
    osu_file(folder, "variable", 3, ["1000,500,4,2,0,100,1,0", "20000,250,4,2,0,100,1,0"], slow + fast)
    # effects 8 (omit first barline) is not kiai; 9 is kiai + omit barline; objects 0-99 in kiai
    kiai = [(i * 5, 0, 1000 + i * 100) for i in range(100)] + [(0, 0, 11000 + i * 100) for i in range(100)]
    timing = ["1000,500,4,2,0,100,1,9", "11000,-100,4,2,0,100,0,8", "15000,-100,4,2,0,100,0,0"]
    osu_file(folder, "kiai", 4, timing, kiai)
    con = ingest_and_build(folder, folder)
    yield con
    con.close()


def features(con: duckdb.DuckDBPyConnection, beatmap_id: int) -> dict:
    cursor = con.execute("SELECT * FROM features.file_features WHERE beatmap_id = ?", [beatmap_id])
    return dict(zip([d[0] for d in cursor.description], cursor.fetchone(), strict=True))


def test_perfect_stream_scores_one_and_jumps_zero(generated_db):
    stream, jumps = features(generated_db, 1), features(generated_db, 2)
    assert stream["stream_density"] == pytest.approx(1.0)
    assert stream["longest_stream_notes"] == 200
    assert stream["bpm_most_common"] == pytest.approx(180, rel=1e-5)  # osu! rounds beat lengths to 0.001
    assert jumps["stream_density"] == 0 and jumps["longest_stream_notes"] == 0
    assert jumps["distance_p50"] == pytest.approx(640)  # the 512x384 diagonal
    assert stream["distance_p90"] < 30
    assert jumps["note_interval_variance"] < 1 and stream["note_interval_variance"] < 1


def test_stream_density_uses_the_bpm_active_at_each_note(generated_db):
    variable = features(generated_db, 3)
    assert variable["stream_density"] > 0.99
    assert (variable["bpm_min"], variable["bpm_max"]) == (pytest.approx(120), pytest.approx(240))
    # 120 BPM lasts 19 s (from time 0, as osu! does), 240 BPM about 6 s
    assert variable["bpm_most_common"] == pytest.approx(120)


def test_kiai_bit_zero_only_and_kiai_features(generated_db):
    md5 = generated_db.execute("SELECT md5 FROM parsed.beatmap_files WHERE beatmap_id = 4").fetchone()[0]
    sections = generated_db.execute(
        "SELECT start_ms, end_ms FROM features.kiai_sections WHERE md5 = ?", [md5]
    ).fetchall()
    assert sections == [(1000.0, 11000.0)]  # effects 8 (omit first barline) ends it
    kiai = features(generated_db, 4)
    assert kiai["kiai_note_ratio"] == pytest.approx(0.5)
    assert kiai["mean_kiai_distance"] == pytest.approx(5.0)
    assert kiai["kiai_sections"] == 1


def test_other_modes_are_left_out_and_counted(fixtures_db):
    modes = fixtures_db.execute(
        "SELECT DISTINCT b.mode FROM features.file_features f JOIN parsed.beatmap_files b USING (md5)"
    ).fetchall()
    assert modes == [(0,)]
    (counts,) = fixtures_db.execute(
        "SELECT counts FROM kiai.model_builds WHERE model = 'file_features' AND status = 'built'"
    ).fetchone()
    (others,) = fixtures_db.execute("SELECT count(*) FROM parsed.beatmap_files WHERE mode <> 0").fetchone()
    assert others > 0 and counts == f'{{"other_modes_left_out": {others}}}'


def test_the_plain_model_equals_the_packed_one_it_replaced(fixtures_db):
    """file_features is plain windows and aggregates over the parser's timing context; the packed model of parser
    version 2 (tests/support/legacy: bit-packed keys, time buckets, span joins) gives the same values on every fixture,
    EXCEPT both ways (floats to 10 significant digits: its float sums were added in another order).

    One file differs, where the packed model was wrong: same-time-unsorted.osu has a second run of lines at
    1000 ms after one at 13000 ms, which replaces the first run (rosu-pp agrees: test_osu_parser), while the
    packed model kept the first uninherited line at a timestamp wherever it stood.
    """
    fixtures_db.execute(f"CREATE OR REPLACE TEMP TABLE packed AS {packed_file_features_sql(fixtures_db)}")
    differing = differing_md5s(fixtures_db, "features.file_features", "packed")
    assert differing == {md5_of(SAME_TIME_FIXTURES / "same-time-unsorted.osu")}
    (rows,) = fixtures_db.execute("SELECT count(*) FROM packed").fetchone()
    assert rows >= 30
    plain, packed = (
        fixtures_db.execute(f"SELECT bpm_most_common FROM {t} WHERE md5 = ?", list(differing)).fetchone()[0]
        for t in ("features.file_features", "packed")
    )
    assert (plain, packed) == (240, 120)


def test_the_same_data_gives_the_same_bytes(tmp_path):
    """Two builds of file_features over the same rows give identical values, bit for bit, however the rows are
    stored and however many threads add them up. Float sums would not: var_pop and avg of floats add partial
    sums in the order threads finish (two builds differed by 4e-9 on 1-2 of 2,757 rows), so the dataset hash
    a training run records could change with nothing changed; with var_pop and avg(distance) in the model, this
    test fails on the last bits of those two columns."""
    con = warehouse.connect(tmp_path / "kiai.duckdb")
    ensure_tables(con)
    con.execute(  # 400 maps of 800 objects: several row groups, so threads split the work
        """
        INSERT INTO parsed.beatmap_files (file_id, md5, beatmap_id, mode, parser_version)
        SELECT i, md5(i::VARCHAR), i, 0, 3 FROM range(1, 401) r(i);
        INSERT INTO parsed.timing_points (file_id, point_index, time_ms, beat_length, uninherited, effects, kiai,
            timing_applies, effects_apply)
        SELECT file_id, 0, 1000, 60000 / (150 + file_id % 90), true, 1, true, true, true FROM parsed.beatmap_files;
        """
    )
    objects = """
        SELECT f.file_id, j::INTEGER AS object_index, (1000 + j * (40 + (j * f.file_id) % 170))::INTEGER AS time_ms,
            (j * 7919 + f.file_id) % 512 AS x, (j * 104729 + f.file_id * 13) % 384 AS y,
            CASE WHEN j % 97 = 0 THEN 'spinner' ELSE 'circle' END AS kind, false AS new_combo, 0 AS combo_skip,
            NULL AS end_time_ms, 60000 / (150 + f.file_id % 90) AS beat_length, 1 AS slider_velocity,
            j % 300 < 200 AS kiai
        FROM parsed.beatmap_files f, range(800) r(j)
    """
    con.execute(f"INSERT INTO parsed.hit_objects BY NAME {with_steps(objects)}")

    def features() -> list[tuple]:
        rows = con.execute("SELECT * FROM features.file_features ORDER BY md5").fetchall()
        return [tuple(v.hex() if isinstance(v, float) else v for v in row) for row in rows]  # the exact bits

    con.execute("SET threads = 1")
    assert build(con, SQL_DIR, select=SELECT).ok
    first = features()
    con.execute(
        "CREATE TEMP TABLE shuffled AS SELECT * FROM parsed.hit_objects ORDER BY hash(file_id * 7 + object_index)"
    )
    con.execute("DELETE FROM parsed.hit_objects")
    con.execute("INSERT INTO parsed.hit_objects SELECT * FROM shuffled")
    con.execute("SET threads = 4")
    assert build(con, SQL_DIR, select=SELECT, full_refresh=True).ok
    assert features() == first
    assert len(first) == 400 and all(row[13] is not None for row in first)  # note_interval_variance
    con.close()


def test_a_new_feature_is_a_line_in_an_aggregate(fixtures_db, tmp_path):
    """The README's example: mean slider velocity in kiai, added to file_features as a line in objects_per_file
    and one in the final SELECT, from the slider_velocity and kiai the parser records at each object."""
    sql = tmp_path / "sql"
    shutil.copytree(SQL_DIR, sql)
    model = sql / "features" / "file_features.sql"
    text = model.read_text(encoding="utf-8")
    line = "        avg(slider_velocity) FILTER (WHERE kiai) AS kiai_slider_velocity,\n"
    text = text.replace(
        "avg(kiai::INTEGER) AS kiai_note_ratio,\n", "avg(kiai::INTEGER) AS kiai_note_ratio,\n" + line, 1
    ).replace("    o.kiai_note_ratio,\n", "    o.kiai_note_ratio,\n    o.kiai_slider_velocity,\n", 1)
    model.write_text(text, encoding="utf-8")
    assert build(fixtures_db, sql, select=["file_features"]).ok
    got = dict(fixtures_db.execute("SELECT md5, kiai_slider_velocity FROM features.file_features").fetchall())
    expected = dict(
        fixtures_db.execute(
            "SELECT md5, avg(slider_velocity) FILTER (WHERE kiai) FROM parsed.beatmap_files "
            "LEFT JOIN parsed.hit_objects USING (file_id) WHERE mode = 0 GROUP BY md5"
        ).fetchall()
    )
    assert got == expected and sum(v is not None for v in got.values()) >= 10
    assert build(fixtures_db, SQL_DIR, select=["file_features"]).ok  # the shipped model back for the other tests
