"""Import the fixture dump (folder and .tar.bz2) and compare every value with expected/*.jsonl."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest

from kiai import warehouse
from kiai.load.ppy_dump import import_dump
from kiai.load.ppy_dump.streams import Meter, available_decompressors, bz2_stream
from tests.support.cli import invoke
from tests.support.paths import FIXTURES

DUMP = FIXTURES / "ppy_dump"
FOLDER = DUMP / "2026_11_01_performance_osu_top_1000"
ARCHIVE = DUMP / "2026_11_01_performance_osu_top_1000.tar.bz2"
TABLES = sorted(p.stem for p in (DUMP / "expected").glob("*.jsonl"))


def _same(stored: object, expected: object) -> bool:
    """A stored value equals the dump text it came from (see expected/ in PROVENANCE.md)."""
    if expected is None or stored is None:
        return stored is None and expected is None
    if isinstance(expected, dict):
        return isinstance(stored, bytes) and stored.hex() == expected["hex"]
    if isinstance(stored, bool):
        return int(expected) == int(stored)
    if isinstance(stored, int):
        return int(expected) == stored
    if isinstance(stored, float):
        return float(expected) == stored
    if isinstance(stored, dt.datetime):
        return stored.strftime("%Y-%m-%d %H:%M:%S") == expected
    return stored == expected


def _compare(con: duckdb.DuckDBPyConnection, table: str) -> None:
    expected = [json.loads(line) for line in (DUMP / "expected" / f"{table}.jsonl").read_text("utf-8").splitlines()]
    cursor = con.execute(f'SELECT * FROM ppy."{table}"')
    columns = [d[0] for d in cursor.description]
    rows = cursor.fetchall()
    assert len(rows) == len(expected), table
    assert columns == list(expected[0]), table
    for number, (row, want) in enumerate(zip(rows, expected, strict=True), start=1):
        for column, value in zip(columns, row, strict=True):
            assert _same(value, want[column]), f"{table} row {number} {column}: {value!r} != {want[column]!r}"


@pytest.fixture(scope="module", params=["folder", "archive"])
def imported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    con = warehouse.connect(tmp_path_factory.mktemp("ppy") / "dump.duckdb")
    import_dump(con, [FOLDER if request.param == "folder" else ARCHIVE])
    return con


@pytest.mark.parametrize("table", TABLES)
def test_every_value_matches_the_dump_text(imported: duckdb.DuckDBPyConnection, table: str) -> None:
    _compare(imported, table)


def test_types_follow_the_mysql_ddl(imported: duckdb.DuckDBPyConnection) -> None:
    types = dict(
        imported.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'ppy' AND table_name = 'scores'"
        ).fetchall()
    )
    assert types["id"] == "UBIGINT"  # bigint unsigned
    assert types["user_id"] == "BIGINT"  # int unsigned widens
    assert types["has_replay"] == "TINYINT"  # tinyint(1): MySQL's flags are small integers (2 stays 2)
    assert types["accuracy"] == "DOUBLE"  # float, kept as printed
    assert types["ended_at"] == "TIMESTAMP"  # not TIMESTAMPTZ
    assert types["data"] == "JSON"
    (hashes,) = imported.execute(
        "SELECT data_type FROM information_schema.columns WHERE table_name = 'osu_beatmapsets' "
        "AND column_name = 'body_hash'"
    ).fetchone()
    assert hashes == "BLOB"
    (mods,) = imported.execute("SELECT data->'mods'->0->>'acronym' FROM ppy.scores WHERE id = 1581778626").fetchone()
    assert mods == "HD"


def test_import_log_records_each_table(imported: duckdb.DuckDBPyConnection) -> None:
    rows = imported.execute(
        "SELECT table_name, rows, bytes, sha256, dump_date, started_at <= finished_at FROM ppy.import_log"
    ).fetchall()
    by_table = {r[0]: r for r in rows}
    assert set(by_table) == set(TABLES)
    scores = by_table["scores"]
    assert scores[1] == 61 and scores[2] == (FOLDER / "scores.sql").stat().st_size
    assert scores[4] == dt.date(2026, 11, 1) and scores[5]
    import hashlib

    assert scores[3] == hashlib.sha256((FOLDER / "scores.sql").read_bytes()).hexdigest()


@pytest.mark.parametrize("method", available_decompressors())
def test_every_decompressor_gives_the_same_bytes(method: str) -> None:
    import bz2

    meter = Meter()
    with bz2_stream(ARCHIVE, meter, method) as stream:
        data = stream.read()
    assert data == bz2.decompress(ARCHIVE.read_bytes())
    assert meter.done == ARCHIVE.stat().st_size


def test_cli_import_is_repeatable_and_filters_tables(tmp_path: Path) -> None:
    db_path = tmp_path / "dump.duckdb"  # a file named kiai.duckdb trips warehouse.bootstrap on reopen
    invoke("import", "ppy-dump", str(ARCHIVE), "--tables", "scores,osu_beatmaps", db=db_path)
    invoke("import", "ppy-dump", str(FOLDER), "--exclude", "osu_beatmap_failtimes", db=db_path)
    again = invoke("import", "ppy-dump", str(FOLDER), "--exclude", "osu_beatmap_failtimes", db=db_path)
    assert "ppy.scores: 61 rows" in again.stderr
    con = duckdb.connect(str(db_path), read_only=True)
    tables = {
        r[0]
        for r in con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema='ppy'").fetchall()
    }
    assert "osu_beatmap_failtimes" not in tables and "scores" in tables
    for table in ("scores", "osu_beatmaps", "osu_beatmapsets"):
        _compare(con, table)  # no duplicates after three imports
    out = invoke("sql", "--format", "csv", "SELECT count(*) AS n FROM scores WHERE user_id = 7562902", db=db_path)
    assert out.stdout.splitlines() == ["n", "13"]


@pytest.mark.parametrize("ordered", [True, False])
def test_the_connection_keeps_its_insertion_order_setting(tmp_path: Path, ordered: bool) -> None:
    """The import inserts without insertion order (kiai.warehouse.setting), and only while it runs."""
    con = warehouse.connect(tmp_path / "dump.duckdb")
    con.execute(f"SET preserve_insertion_order = {ordered}")
    import_dump(con, [FOLDER])
    assert con.execute("SELECT current_setting('preserve_insertion_order')").fetchall() == [(ordered,)]
    _compare(con, "scores")
