"""A damaged dump never replaces good data: each case builds the damaged file, imports it over a good
table, and checks the good table and the import log are as they were (or, where kiai is asked to,
what it kept)."""

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
from tests.unit.load.ppy_dump.test_hostile import GOOD, HEADER, TRAILER

UNLOCK, COMPLETED = b"UNLOCK TABLES;\n", b"-- Dump completed on 2026-11-01  2:31:39\n"
assert UNLOCK + COMPLETED == TRAILER


def _inserts(first: int, lines: int, per_line: int = 50) -> bytes:
    """`lines` INSERT lines of `per_line` rows each, ids from `first`."""
    out = []
    for line in range(lines):
        start = first + line * per_line
        rows = b",".join(b"(%d,'row %d',NULL,%d.5)" % (i, i, i) for i in range(start, start + per_line))
        out.append(b"INSERT INTO `t` VALUES " + rows + b";\n")
    return b"".join(out)


@pytest.fixture
def con(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    con = warehouse.connect(tmp_path / "damaged.duckdb")
    good = tmp_path / "good" / "t.sql"
    good.parent.mkdir()
    good.write_bytes(HEADER + GOOD + TRAILER)
    import_dump(con, [good])
    return con


def _unchanged(con: duckdb.DuckDBPyConnection) -> None:
    assert con.execute("SELECT id, name FROM ppy.t ORDER BY id").fetchall() == [(1, "one"), (2, "two")]
    assert con.execute("SELECT count(*) FROM ppy.import_log").fetchall() == [(1,)]


def _write(tmp_path: Path, data: bytes, name: str = "t.sql") -> Path:
    path = tmp_path / "damaged" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    return path


def test_a_file_cut_at_a_line_end_is_refused(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    whole = HEADER + _inserts(10, 8) + TRAILER
    end = 0
    for _ in range(4):  # right after the ; of the 4th INSERT line, as a full disk leaves it
        end = whole.index(b";\n", whole.index(b"INSERT INTO", end)) + 2
    path = _write(tmp_path, whole[:end])
    with pytest.raises(KiaiError, match=r"t\.sql:13: table `t` has no UNLOCK TABLES after its INSERTs \(cut short\?\)"):
        import_dump(con, [path])
    _unchanged(con)


def test_a_file_without_its_last_line_is_refused(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + _inserts(10, 2) + UNLOCK)
    with pytest.raises(KiaiError, match=r"t\.sql: the file does not end with mysqldump's `-- Dump completed` line"):
        import_dump(con, [path])
    _unchanged(con)


def test_allow_incomplete_keeps_the_rows_and_says_so(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + _inserts(10, 4))
    (result,) = import_dump(con, [path], allow_incomplete=True)
    assert result.rows == 200 and result.incomplete == "table `t` has no UNLOCK TABLES after its INSERTs"
    assert con.execute("SELECT count(*), min(id), max(id) FROM ppy.t").fetchall() == [(200, 10, 209)]
    assert con.execute("SELECT rows, complete FROM ppy.import_log ORDER BY finished_at").fetchall() == [
        (2, True),
        (200, False),
    ]


def test_cli_allow_incomplete_says_how_many_rows_it_kept(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + _inserts(10, 4))
    db = tmp_path / "cli.duckdb"
    refused = invoke("import", "ppy-dump", str(path), db=db, check=False)
    assert refused.returncode == 1 and "--allow-incomplete" in refused.stderr and "Traceback" not in refused.stderr
    kept = invoke("import", "ppy-dump", str(path), "--allow-incomplete", db=db)
    assert "ppy.t: 200 rows kept of an incomplete dump (table `t` has no UNLOCK TABLES" in kept.stderr


def test_a_dump_table_named_import_log_never_replaces_kiais_log(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    ddl = (
        b"CREATE TABLE `IMPORT_LOG` (`x` int);\nLOCK TABLES `IMPORT_LOG` WRITE;\nINSERT INTO `IMPORT_LOG` VALUES (1);\n"
    )
    path = _write(tmp_path, ddl + TRAILER, "import_log.sql")
    with pytest.raises(KiaiError, match=r"a dump table named `IMPORT_LOG` would replace kiai's own ppy.import_log"):
        import_dump(con, [path])
    _unchanged(con)
    import_dump(con, [path], exclude={"import_log"})  # skipped on request: the log only grows
    assert con.execute("SELECT count(*) FROM ppy.import_log").fetchall() == [(1,)]
    assert "x" not in [r[0] for r in con.execute("DESCRIBE ppy.import_log").fetchall()]


def _archive(tmp_path: Path, members: dict[str, bytes]) -> Path:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:bz2") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"2026_11_01_x/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path = tmp_path / "2026_11_01_x.tar.bz2"
    path.write_bytes(buffer.getvalue())
    return path


@pytest.mark.parametrize("method", available_decompressors())
@pytest.mark.parametrize("keep", [0.6, -4])
def test_a_truncated_archive_is_one_line(tmp_path: Path, method: str, keep: float) -> None:
    # Rows of varied text, so that bzip2 cannot squeeze the member into a few bytes.
    body = b"".join(b"INSERT INTO `t` VALUES (%d,'%x',NULL,1.5);\n" % (i, i * 2654435761) for i in range(3, 40_000))
    archive = _archive(tmp_path, {"t.sql": HEADER + body + TRAILER})
    data = archive.read_bytes()
    archive.write_bytes(data[: int(len(data) * keep)] if keep > 0 else data[:keep])
    db = tmp_path / "w.duckdb"
    invoke("import", "ppy-dump", str(_write(tmp_path, HEADER + GOOD + TRAILER)), db=db)
    result = invoke("import", "ppy-dump", str(archive), db=db, check=False, env={"KIAI_BZ2": method})
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and ": the archive is truncated" in lines[0], result.stderr
    with duckdb.connect(str(db), read_only=True) as check:
        assert check.execute("SELECT count(*) FROM ppy.t").fetchall() == [(2,)]


def test_an_archive_without_sql_files_is_not_a_dump(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    archive = _archive(tmp_path, {"README.txt": b"hello\n"})
    with pytest.raises(KiaiError, match=r"is not a data.ppy.sh dump: the archive holds no .sql file"):
        import_dump(con, [archive])
    _unchanged(con)


def test_a_byte_order_mark_is_skipped(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = _write(tmp_path, b"\xef\xbb\xbf" + HEADER + b"INSERT INTO `t` VALUES (5,'five',NULL,1);\n" + TRAILER)
    import_dump(con, [path])
    assert con.execute("SELECT id, name FROM ppy.t").fetchall() == [(5, "five")]


def test_tinyint_1_keeps_every_value(tmp_path: Path) -> None:
    ddl = b"CREATE TABLE `f` (`id` int NOT NULL, `flag` tinyint(1) NOT NULL DEFAULT '0', PRIMARY KEY (`id`));\n"
    path = _write(tmp_path, ddl + b"INSERT INTO `f` VALUES (1,0),(2,1),(3,2),(4,-1);\n" + COMPLETED, "f.sql")
    con = warehouse.connect(tmp_path / "flags.duckdb")
    import_dump(con, [path])
    assert con.execute("SELECT id, flag, flag + 0 FROM ppy.f ORDER BY id").fetchall() == [
        (1, 0, 0),
        (2, 1, 1),
        (3, 2, 2),
        (4, -1, -1),
    ]
    assert con.execute("SELECT avg(flag), count(*) FILTER (WHERE flag) FROM ppy.f").fetchall() == [(0.5, 3)]
