"""Hostile, truncated and malformed dumps: refused with file and line, and nothing half-imported."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import duckdb
import pytest

from kiai import warehouse
from kiai.errors import KiaiError
from kiai.load.ppy_dump import import_dump
from kiai.load.ppy_dump.streams import available_decompressors
from tests.support.cli import invoke
from tests.support.paths import FIXTURES

HEADER = b"""-- MySQL dump 10.13  Distrib 8.0.30, for Linux (x86_64)
/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
/*!40103 SET TIME_ZONE='+00:00' */;
DROP TABLE IF EXISTS `t`;
CREATE TABLE `t` (
  `id` int unsigned NOT NULL,
  `name` varchar(80) DEFAULT NULL,
  `hash` binary(4) DEFAULT NULL,
  `score` float unsigned DEFAULT NULL,
  PRIMARY KEY (`id`),
  KEY `name` (`name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
LOCK TABLES `t` WRITE;
"""
TRAILER = b"UNLOCK TABLES;\n-- Dump completed on 2026-11-01  2:31:39\n"
GOOD = b"INSERT INTO `t` VALUES (1,'one',NULL,1.5),(2,'two',NULL,NULL);\n"


def _dump(tmp_path: Path, body: bytes, name: str = "t.sql") -> Path:
    path = tmp_path / name
    path.write_bytes(HEADER + body + TRAILER)
    return path


@pytest.fixture
def con(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    con = warehouse.connect(tmp_path / "hostile.duckdb")
    import_dump(con, [_dump(tmp_path / "..", GOOD, "before.sql")])
    return con


def _rows(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute("SELECT id, name FROM ppy.t ORDER BY id").fetchall()


def _refused(con: duckdb.DuckDBPyConnection, path: Path, match: str) -> None:
    with pytest.raises(KiaiError, match=match):
        import_dump(con, [path])
    assert _rows(con) == [(1, "one"), (2, "two")]  # the table from before the run, untouched
    assert con.execute("SELECT count(*) FROM ppy.import_log").fetchone() == (1,)


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"DROP DATABASE osu;\n", r"t\.sql:14: statement not allowed in a dump: DROP DATABASE osu"),
        (b"GRANT ALL ON *.* TO 'x'@'%';\n", r"t\.sql:14: .*GRANT"),
        (b"CREATE FUNCTION f() RETURNS INT RETURN 1;\n", r"t\.sql:14: .*CREATE FUNCTION"),
        (b"/*!40101 SET NAMES utf8 */; DROP DATABASE osu;\n", r"t\.sql:14: statement not allowed"),
        (b"INSERT INTO `t` VALUES (3,NOW(),NULL,1);\n", r"t\.sql:14: row 1: only literal values are allowed.*NOW"),
        (b"INSERT INTO `t` VALUES (3,(SELECT 1),NULL,1);\n", r"t\.sql:14: row 1: only literal values.*SELECT"),
        (b"INSERT INTO `t` VALUES (3,'x',NULL,1),(4,'y',NULL);\n", r"t\.sql:14: row 2 has 3 values; .* 4 columns"),
        (b"INSERT INTO `t` VALUES (3,'x',NULL,1,5);\n", r"t\.sql:14: row 1 has 5 values"),
        (b"INSERT INTO `u` VALUES (3);\n", r"t\.sql:14: INSERT into `u` without a CREATE TABLE"),
        (b"INSERT INTO `t` (id, nope) VALUES (3, 1);\n", r"t\.sql:14: INSERT names column `nope`"),
        (b"INSERT INTO `t` (id, `a b`) VALUES (3, 1);\n", r"t\.sql:14: column 'a b' .* not a plain identifier"),
        (b"INSERT INTO `t` (id, id) VALUES (3, 1);\n", r"t\.sql:14: the INSERT column list names a column twice"),
        (b"INSERT INTO `t` (`name`) VALUES ('x');\n", r"t\.sql:14: .*NOT NULL"),  # id is NOT NULL in the DDL
        (b"INSERT INTO `t` (id, name) SELECT 1, 'x';\n", r"t\.sql:14: only INSERT INTO `table` \[\(columns\)\] VALUES"),
        (b"INSERT INTO `t` VALUES (3,'x',NULL,'abc');\n", r"t\.sql:14: .*abc"),
        (
            b"INSERT INTO `t` VALUES (3,'\xff\xfe',NULL,1);\n",
            r"t\.sql:14: row 1, column 2: text value is not valid UTF-8",
        ),
        (GOOD + b"INSERT INTO `t` VALUES (3,'x',NULL,1),(4,'y'", r"t\.sql:15: row 2: expected ',' or '\)'"),
        (b"CREATE TABLE `a;b` (x int);\n", r"t\.sql:14: .*not a plain identifier"),
        (b"CREATE TABLE `osu`.`v` (x int);\n", r"t\.sql:14: .*not a plain identifier"),
        (b"CREATE TABLE `v` (x int); DROP DATABASE osu;\n", r"t\.sql:14: CREATE TABLE is followed by another"),
        (b"CREATE TABLE `v` AS SELECT 1;\n", r"t\.sql:14: "),
        (b"INSERT INTO `t` VALUES (1,LULL,NULL,1);\n", r"t\.sql:14: row 1, column 2: only literal values .*'LULL'"),
        (b"INSERT INTO `t` VALUES (1,'a',NULL,1),(2,,NULL,1);\n", r"t\.sql:14: row 2, column 2: a value is missing"),
        (b"INSERT INTO `t` VALUES ();\n", r"t\.sql:14: row 1 has 0 values; the CREATE TABLE has 4 columns"),
        (b"INSERT INTO `t` VALUES (3,'x',NULL,1e999);\n", r"t\.sql:14: row 1, column 4: 1e999 is out of range"),
        (b"INSERT INTO `t` VALUES (3,'x',NULL,'1e999');\n", r"t\.sql:14: column `score`: a value out of range"),
        (b"INSERT INTO `t` VALUES (3,'x',NULL,'inf');\n", r"t\.sql:14: column `score`: a value out of range"),
        (b"CREATE TABLE `d` (`x` decimal(1e5,2));\n", r"t\.sql:14: column x: DECIMAL\(1e5,2\) is not a MySQL type"),
        (b"CREATE TABLE `d` (`x` decimal(0,0));\n", r"t\.sql:14: column x: DECIMAL\(0,0\) is not a MySQL type"),
        (b"CREATE TABLE `d` (`x` decimal(5,10));\n", r"t\.sql:14: column x: DECIMAL\(5,10\) is not a MySQL type"),
        (b"CREATE TABLE `Import_Log` (`x` int);\n", r"t\.sql:14: a dump table named `Import_Log` would replace"),
    ],
)
def test_refused_with_file_and_line(con: duckdb.DuckDBPyConnection, tmp_path: Path, body: bytes, match: str) -> None:
    _refused(con, _dump(tmp_path, body), match)


def test_a_file_cut_in_the_middle_of_an_insert_is_refused(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = tmp_path / "t.sql"
    path.write_bytes(HEADER + GOOD + b"INSERT INTO `t` VALUES (3,'x',NULL,1),(4,'y")
    _refused(con, path, r"t\.sql:15: the last statement is cut off")


def test_a_bad_second_file_rolls_back_the_first(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    folder = tmp_path / "dump"
    folder.mkdir()
    (folder / "a.sql").write_bytes(HEADER + b"INSERT INTO `t` VALUES (9,'nine',NULL,1);\n" + TRAILER)
    (folder / "b.sql").write_bytes(b"DROP DATABASE osu;\n")
    with pytest.raises(KiaiError, match=r"b\.sql:1: "):
        import_dump(con, [folder])
    assert _rows(con) == [(1, "one"), (2, "two")]


def test_ctrl_c_leaves_every_table_as_it_was(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    rows = b",".join(b"(%d,'row %d',NULL,%d.5)" % (i, i, i) for i in range(3, 60_000))
    path = _dump(tmp_path, b"INSERT INTO `t` VALUES " + rows + b";\n" * 1 + b"INSERT INTO `t` VALUES (0,'z',NULL,1);\n")

    def interrupt(meter, stats) -> None:
        if stats.rows:
            raise KeyboardInterrupt  # where a real Ctrl-C lands: the reading thread

    with pytest.raises(KeyboardInterrupt):
        import_dump(con, [path], on_progress=interrupt)
    assert _rows(con) == [(1, "one"), (2, "two")]
    con.execute("SELECT 1")  # the connection is usable again


def test_tricky_strings_and_binary_values_are_exact(tmp_path: Path) -> None:
    body = (
        b"INSERT INTO `t` VALUES "
        b"(1,'a),(b',_binary '\\0\\'\\\\\xc3',1),"
        b"(2,'semi;colon \\'q\\' \\\"dq\\\" back\\\\slash',_binary '\\\xc3\x80\xff\\Z',6e16),"
        b"(3,'NULL',NULL,2.5e-17),(4,'tab\\there\\nnew\\r\\0nul \\% \\_',NULL,-0.5),"
        b"(5,'',_binary '',0),(6,'\xe4\xbb\x8a \xe2\x98\x85',NULL,NULL);\n"
    )
    con = warehouse.connect(tmp_path / "tricky.duckdb")
    import_dump(con, [_dump(tmp_path, body)])
    rows = con.execute("SELECT * FROM ppy.t ORDER BY id").fetchall()
    assert rows == [
        (1, "a),(b", b"\x00'\\\xc3", 1.0),
        (2, "semi;colon 'q' \"dq\" back\\slash", b"\xc3\x80\xff\x1a", 6e16),
        (3, "NULL", None, 2.5e-17),
        (4, "tab\there\nnew\r\x00nul \\% \\_", None, -0.5),
        (5, "", b"", 0.0),
        (6, "今 ★", None, None),
    ]


def test_fast_path_handles_strings_with_row_separators(tmp_path: Path) -> None:
    # No BLOB column: the bytes-level rewrite is tried first and must decline on "),(" inside a string.
    ddl = b"CREATE TABLE `s` (`id` int NOT NULL, `v` varchar(20), `j` json);\n"
    body = b"INSERT INTO `s` VALUES (1,'x),(y','{\\\"a\\\": \\\"),(\\\"}'),(2,'p\\'q\\\\',NULL);\n"
    path = tmp_path / "s.sql"
    path.write_bytes(ddl + body + TRAILER)
    con = warehouse.connect(tmp_path / "fast.duckdb")
    import_dump(con, [path])
    assert con.execute("SELECT id, v, j::VARCHAR FROM ppy.s ORDER BY id").fetchall() == [
        (1, "x),(y", '{"a": "),("}'),
        (2, "p'q\\", None),
    ]


@pytest.mark.parametrize("method", available_decompressors())
def test_truncated_archive_is_refused(
    tmp_path: Path, con: duckdb.DuckDBPyConnection, method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIAI_BZ2", method)
    archive = FIXTURES / "ppy_dump" / "2026_11_01_performance_osu_top_1000.tar.bz2"
    cut = tmp_path / "2026_11_01_cut.tar.bz2"
    cut.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(KiaiError, match=r"truncated|cut off"):
        import_dump(con, [cut])
    assert con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'scores'").fetchone() == (0,)


def test_archive_members_are_never_written_to_disk(tmp_path: Path) -> None:
    # A member named like a path traversal is only read as a stream.
    data = HEADER + GOOD + TRAILER
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:bz2") as tar:
        info = tarfile.TarInfo("../../evil/t.sql")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    archive = tmp_path / "x.tar.bz2"
    archive.write_bytes(buffer.getvalue())
    con = warehouse.connect(tmp_path / "w" / "tar.duckdb")
    import_dump(con, [archive])
    assert _rows(con) == [(1, "one"), (2, "two")]
    assert not (tmp_path.parent / "evil").exists()


def test_cli_reports_one_line_errors(tmp_path: Path) -> None:
    result = invoke(
        "import", "ppy-dump", str(_dump(tmp_path, b"DROP DATABASE osu;\n")), db=tmp_path / "c.duckdb", check=False
    )
    assert result.returncode == 1
    assert "t.sql:14: statement not allowed in a dump: DROP DATABASE osu" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_allow_list_naming_a_missing_table_imports_nothing(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = _dump(tmp_path, b"INSERT INTO `t` VALUES (7,'seven',NULL,1);\n")
    with pytest.raises(KiaiError, match="no table named scroes; nothing was imported"):
        import_dump(con, [path], tables={"t", "scroes"})
    assert _rows(con) == [(1, "one"), (2, "two")]
