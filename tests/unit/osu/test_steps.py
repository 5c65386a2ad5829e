"""The step the parser records into each hit object (time_order, interval_ms, distance_sq, previous_kiai) equals what
SQL computes with one window per file over the landed rows, ORDER BY time_ms, object_index: the order every
feature model takes objects in. Exactly, so the distance (its sqrt) is the same to the last bit."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from kiai import warehouse
from tests.support.cli import invoke
from tests.support.legacy import STEP_COLUMNS
from tests.support.paths import OSU_FIXTURES, SAME_TIME_FIXTURES
from tests.support.steps import with_steps


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("steps")
    unsorted = folder / "unsorted.osu"  # objects out of time order, two at one time, spinners among them
    unsorted.write_text(
        "osu file format v14\n\n[General]\nMode: 0\n\n[Metadata]\nTitle:steps\nBeatmapID:77\n\n"
        "[TimingPoints]\n0,500,4,2,0,100,1,0\n1500,-100,4,2,0,100,0,1\n\n[HitObjects]\n"
        "100,100,2000,1,0\n256,192,1000,12,0,1400\n0,0,1000,1,0\n300,50,1500,1,0\n511,383,1750,1,0\n"
        "7,9,1500,2,0,B|20:20,1,30\n",
        encoding="utf-8",
    )
    path = folder / "kiai.duckdb"
    invoke("ingest", "osu-files", str(OSU_FIXTURES), str(SAME_TIME_FIXTURES), str(unsorted), db=path)
    return path


def test_the_parsers_steps_equal_one_window_in_sql(db):
    con = warehouse.connect(db, read_only=True)
    try:
        columns = ", ".join(STEP_COLUMNS)
        parsed = f"SELECT file_id, object_index, {columns} FROM parsed.hit_objects"
        base = f"SELECT * EXCLUDE ({columns}) FROM parsed.hit_objects"
        reference = f"SELECT file_id, object_index, {columns} FROM ({with_steps(base)})"
        for a, b in ((parsed, reference), (reference, parsed)):
            assert con.execute(f"SELECT count(*) FROM (({a}) EXCEPT ALL ({b}))").fetchone() == (0,)
        (rows, out_of_order, ties, spinner_steps, kiai_steps) = con.execute(
            """
            SELECT count(*), count(*) FILTER (WHERE time_order <> object_index),
                count(*) FILTER (WHERE interval_ms = 0),
                count(*) FILTER (WHERE interval_ms IS NOT NULL AND distance_sq IS NULL),
                count(*) FILTER (WHERE previous_kiai AND kiai)
            FROM parsed.hit_objects
            """
        ).fetchone()
        assert rows > 10_000 and out_of_order > 0 and ties > 0 and spinner_steps > 0 and kiai_steps > 0
    finally:
        con.close()


def test_a_file_out_of_time_order(db):
    """The hand-written file: objects in time order 1000 (spinner, then the circle after it in the file), 1500
    (circle, then slider), 1750, 2000."""
    con = warehouse.connect(db, read_only=True)
    try:
        rows = con.execute(
            "SELECT object_index, time_order, interval_ms, sqrt(distance_sq), previous_kiai FROM parsed.hit_objects "
            "JOIN parsed.beatmap_files USING (file_id) WHERE beatmap_id = 77 ORDER BY time_order"
        ).fetchall()
    finally:
        con.close()
    assert rows == [
        (1, 0, None, None, None),  # the spinner: no step into it
        (2, 1, 0, None, False),  # from the spinner: no distance
        (3, 2, 500, math.sqrt(300**2 + 50**2), False),
        (5, 3, 0, math.sqrt(293**2 + 41**2), True),
        (4, 4, 250, math.sqrt(504**2 + 374**2), True),
        (0, 5, 250, math.sqrt(411**2 + 283**2), True),
    ]
