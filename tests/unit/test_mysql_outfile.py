"""`SELECT … INTO OUTFILE` writes the bytes MySQL 8 writes (rules in kiai/mysql_outfile.py), never over a file."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from kiai import mysql_dialect, query, warehouse
from kiai.mysql_outfile import OutfileError, Written, double_text
from tests.support.cli import invoke

TRICKY = "a\tb\nc\\d'e\"f\x00g"  # a tab, a newline, a backslash, both quotes, NUL


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "w.duckdb"
    con = warehouse.connect(path)
    con.execute("CREATE TABLE main.t (id INTEGER, flag TINYINT, ok BOOLEAN, s VARCHAR, pp DOUBLE, ended_at TIMESTAMP)")
    con.execute(
        "INSERT INTO main.t VALUES (1, 1, true, ?, 0.5, '2021-01-02 03:04:05'), (2, 2, false, NULL, 6e16, NULL), "
        "(3, 0, NULL, '', 1e-5, '2021-01-02 03:04:05.5')",
        [TRICKY],
    )
    con.close()
    return path


def _outfile(db: Path, sql: str, force: bool = False) -> Written:
    con = warehouse.connect(db, read_only=True)
    query.set_search_path(con)
    try:
        (written,) = mysql_dialect.run(con, sql, force=force)
    finally:
        con.close()
    assert isinstance(written, Written)
    return written


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (  # the defaults: tab-separated, backslash before a tab, newline, backslash and NUL in text; NULL is \N
            "",
            b"1\t1\t1\ta\\\tb\\\nc\\\\d'e\"f\\0g\t0.5\t2021-01-02 03:04:05\n"
            b"2\t2\t0\t\\N\t6e16\t\\N\n"
            b"3\t0\t\\N\t\t0.00001\t2021-01-02 03:04:05.500000\n",
        ),
        (  # enclosed: every value but NULL in quotes; inside, the quote is escaped and the tab is not
            "FIELDS TERMINATED BY ',' ENCLOSED BY '\"' LINES TERMINATED BY '\\n'",
            b'"1","1","1","a\tb\\\nc\\\\d\'e\\"f\\0g","0.5","2021-01-02 03:04:05"\n'
            b'"2","2","0",\\N,"6e16",\\N\n'
            b'"3","0",\\N,"","0.00001","2021-01-02 03:04:05.500000"\n',
        ),
        (  # optionally enclosed: strings and dates only
            "FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' LINES STARTING BY '> ' TERMINATED BY '\\r\\n'",
            b'> 1,1,1,"a\tb\nc\\\\d\'e\\"f\\0g",0.5,"2021-01-02 03:04:05"\r\n'
            b"> 2,2,0,\\N,6e16,\\N\r\n"
            b'> 3,0,\\N,"",0.00001,"2021-01-02 03:04:05.500000"\r\n',
        ),
        (  # no escape character: nothing is escaped, NULL is NULL
            "FIELDS ESCAPED BY ''",
            b"1\t1\t1\ta\tb\nc\\d'e\"f\x00g\t0.5\t2021-01-02 03:04:05\n"
            b"2\t2\t0\tNULL\t6e16\tNULL\n"
            b"3\t0\tNULL\t\t0.00001\t2021-01-02 03:04:05.500000\n",
        ),
    ],
    ids=["defaults", "enclosed", "optionally-enclosed", "no-escape"],
)
def test_into_outfile_bytes_are_mysqls(db: Path, tmp_path: Path, options: str, expected: bytes) -> None:
    target = tmp_path / "out.txt"
    written = _outfile(db, f"SELECT id, flag, ok, s, pp, ended_at FROM t ORDER BY id INTO OUTFILE '{target}' {options}")
    assert target.read_bytes() == expected
    assert written.rows == 3 and written.message == "Query OK, 3 rows affected"


def test_the_header_idiom_makes_every_column_text(db: Path, tmp_path: Path) -> None:
    target = tmp_path / "head.csv"
    written = _outfile(
        db,
        "(SELECT 'id', 'pp') UNION ALL (SELECT id, pp FROM t ORDER BY id) "
        f"INTO OUTFILE '{target}' FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"'",
    )
    assert target.read_bytes() == b'"id","pp"\n"1","0.5"\n"2","6e16"\n"3","0.00001"\n'
    assert written.rows == 4  # MySQL counts the header row: it is a row of the UNION


def test_the_old_form_before_from(db: Path, tmp_path: Path) -> None:
    target = tmp_path / "old.tsv"
    written = _outfile(
        db, f"SELECT id INTO OUTFILE '{target}' FIELDS TERMINATED BY ';' FROM t WHERE id < 3 ORDER BY id"
    )
    assert target.read_bytes() == b"1\n2\n" and written.message == "Query OK, 2 rows affected"


def test_an_existing_file_is_refused_unless_forced(db: Path, tmp_path: Path) -> None:
    target = tmp_path / "exists.txt"
    target.write_bytes(b"keep me")
    with pytest.raises(OutfileError, match=rf"^File '{target}' already exists \(MySQL never overwrites one; --force"):
        _outfile(db, f"SELECT id FROM t INTO OUTFILE '{target}'")
    assert target.read_bytes() == b"keep me"
    _outfile(db, f"SELECT id FROM t ORDER BY id INTO OUTFILE '{target}'", force=True)
    assert target.read_bytes() == b"1\n2\n3\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp file left


def test_the_warehouse_is_never_an_outfile(db: Path) -> None:
    for target in (db, Path(f"{db}.wal")):
        with pytest.raises(OutfileError, match="would overwrite a DuckDB database file"):
            _outfile(db, f"SELECT id FROM t INTO OUTFILE '{target}'", force=True)
    assert duckdb.connect(str(db), read_only=True).execute("SELECT count(*) FROM main.t").fetchall() == [(3,)]


def test_a_failed_query_leaves_no_file(db: Path, tmp_path: Path) -> None:
    target = tmp_path / "never.txt"
    with pytest.raises(query.QueryError):
        _outfile(db, f"SELECT CAST(s AS INTEGER) FROM t WHERE id = 1 INTO OUTFILE '{target}'")
    assert not target.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".never")]


def test_cli_prints_query_ok_and_refuses_an_existing_file(db: Path, tmp_path: Path) -> None:
    target = tmp_path / "cli.tsv"
    sql = f"SELECT id FROM t ORDER BY id INTO OUTFILE '{target}'"
    first = invoke("sql", "--dialect", "mysql", sql, db=db)
    assert "Query OK, 3 rows affected" in first.stderr and target.read_bytes() == b"1\n2\n3\n"
    again = invoke("sql", "--dialect", "mysql", sql, db=db, check=False)
    assert again.returncode == 1 and f"File '{target}' already exists" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    forced = invoke("sql", "--dialect", "mysql", "--force", sql, db=db)
    assert "Query OK, 3 rows affected" in forced.stderr


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.990649, "0.990649"), (100.0, "100"), (6e16, "6e16"), (2.5e-17, "2.5e-17"), (1e-5, "0.00001"), (-1e15, "-1e15")],
)
def test_doubles_print_as_mysql_prints_them(value: float, text: str) -> None:
    assert double_text(value) == text
