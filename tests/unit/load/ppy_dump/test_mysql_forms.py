"""MySQL forms beyond plain mysqldump output: column-list INSERTs, zero dates, NOT NULL, re-imports."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from kiai import warehouse
from kiai.load.ppy_dump import import_dump

DDL = b"""CREATE TABLE `events` (
  `id` int unsigned NOT NULL AUTO_INCREMENT,
  `user_id` int unsigned NOT NULL DEFAULT '0',
  `note` varchar(40) DEFAULT NULL,
  `happened_at` timestamp NOT NULL DEFAULT '0000-00-00 00:00:00',
  `day` date DEFAULT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB;
"""


def _dump(folder: Path, body: bytes, name: str = "events.sql") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(DDL + body + b"-- Dump completed on 2026-11-01  2:31:39\n")  # as mysqldump ends a file
    return path


@pytest.fixture
def con(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    return warehouse.connect(tmp_path / "forms.duckdb")


def test_column_list_inserts_fill_the_named_columns(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    body = (
        b"INSERT INTO `events` (`note`, `id`, user_id) VALUES ('b',2,20),('a',1,10);\n"
        b"INSERT INTO `events` VALUES (3,30,'c','2021-01-02 03:04:05','2021-01-02');\n"
        b"INSERT INTO events (id,user_id,happened_at) VALUES (4,40,'2022-05-06 07:08:09');\n"
    )
    import_dump(con, [_dump(tmp_path / "d", body)])
    rows = con.execute("SELECT id, user_id, note, happened_at, day FROM ppy.events ORDER BY id").fetchall()
    assert rows == [
        (1, 10, "a", None, None),
        (2, 20, "b", None, None),
        (3, 30, "c", dt.datetime(2021, 1, 2, 3, 4, 5), dt.date(2021, 1, 2)),
        (4, 40, None, dt.datetime(2022, 5, 6, 7, 8, 9), None),
    ]


def test_zero_dates_become_null(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    body = (
        b"INSERT INTO `events` VALUES (1,1,'0000-00-00 00:00:00','0000-00-00 00:00:00','0000-00-00'),"
        b"(2,2,NULL,'2020-02-29 23:59:59','2020-02-29'),(3,3,NULL,'0000-00-00 00:00:00.000000',NULL);\n"
    )
    import_dump(con, [_dump(tmp_path / "d", body)])
    rows = con.execute("SELECT id, note, happened_at, day FROM ppy.events ORDER BY id").fetchall()
    assert rows == [
        (1, "0000-00-00 00:00:00", None, None),  # a text column keeps the text
        (2, None, dt.datetime(2020, 2, 29, 23, 59, 59), dt.date(2020, 2, 29)),
        (3, None, None, None),
    ]


def test_not_null_is_carried_except_on_dates(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    import_dump(con, [_dump(tmp_path / "d", b"INSERT INTO `events` VALUES (1,1,NULL,'2021-01-01 00:00:00',NULL);\n")])
    nullable = dict(
        con.execute(
            "SELECT column_name, is_nullable FROM information_schema.columns "
            "WHERE table_schema = 'ppy' AND table_name = 'events'"
        ).fetchall()
    )
    # id: NOT NULL and the primary key; happened_at is NOT NULL in MySQL, but a zero date lands as NULL
    assert nullable == {"id": "NO", "user_id": "NO", "note": "YES", "happened_at": "YES", "day": "YES"}
    with pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO ppy.events (id) VALUES (NULL)")


def test_reimporting_the_same_file_changes_nothing(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    first = _dump(tmp_path / "a", b"INSERT INTO `events` VALUES (1,1,'x','2021-01-01 00:00:00',NULL);\n")
    (result,) = import_dump(con, [first])
    assert not result.unchanged
    log = con.execute("SELECT * FROM ppy.import_log").fetchall()
    (again,) = import_dump(con, [first])
    assert again.unchanged and again.rows == 1
    assert con.execute("SELECT * FROM ppy.import_log").fetchall() == log  # no second row
    assert con.execute("SELECT id, note FROM ppy.events").fetchall() == [(1, "x")]
    changed = _dump(tmp_path / "b", b"INSERT INTO `events` VALUES (1,1,'y','2021-01-01 00:00:00',NULL);\n")
    (third,) = import_dump(con, [changed])
    assert not third.unchanged
    assert con.execute("SELECT count(*) FROM ppy.import_log").fetchone() == (2,)
    assert con.execute("SELECT id, note FROM ppy.events").fetchall() == [(1, "y")]
