"""`kiai sql` and `kiai tables`: formats, parameters, read-only safety and one-line errors."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import duckdb
import pytest

from kiai import warehouse
from kiai.files import is_duckdb_file
from tests.support.cli import invoke
from tests.support.paths import OSU_FIXTURES, REPO
from tests.support.scores import SCORES, count_rows, make_scores_db

MD5 = "8e68653623fbbb2f1fa0988d97e38e28"  # Soleily - Renatus (Gamu) [Insane]


@pytest.fixture(scope="module")
def warehouse_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("sql") / "kiai.duckdb"
    invoke("ingest", "osu-files", str(OSU_FIXTURES), db=db)
    return db


def test_version_and_help():
    assert invoke("--version").stdout.startswith("kiai ")
    assert "ingest" in invoke("--help").stdout


def test_tables_lists_row_counts(warehouse_db):
    out = invoke("tables", db=warehouse_db).stdout
    assert "hit_objects" in out and "21,328" in out


def test_group_by_query_as_table(warehouse_db):
    result = invoke(
        "sql", "SELECT mode, count(*) AS n FROM parsed.beatmap_files GROUP BY ALL ORDER BY mode", db=warehouse_db
    )
    assert "4 rows" in result.stderr
    assert "33" in result.stdout


def test_csv_output_with_parameter(warehouse_db, tmp_path):
    out = tmp_path / "out.csv"
    invoke(
        "sql",
        "--format",
        "csv",
        "--output",
        str(out),
        "SELECT md5, o.* FROM parsed.hit_objects o JOIN parsed.beatmap_files USING (file_id) WHERE md5 = $md5 "
        "ORDER BY object_index",
        "-p",
        "md5",
        MD5,
        db=warehouse_db,
    )
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 897 and rows[0]["md5"] == MD5 and rows[0]["object_index"] == "0"


@pytest.mark.parametrize("fmt", ["json", "jsonl", "markdown", "csv"])
def test_stdout_formats(warehouse_db, fmt):
    out = invoke(
        "sql",
        "--format",
        fmt,
        "SELECT md5, title, hp FROM parsed.beatmap_files WHERE md5 = $m",
        "-p",
        "m",
        MD5,
        db=warehouse_db,
    ).stdout
    if fmt == "json":
        assert json.loads(out)[0]["md5"] == MD5
    elif fmt == "jsonl":
        assert json.loads(out.splitlines()[0])["hp"] == pytest.approx(6.5)
    elif fmt == "markdown":
        assert out.splitlines()[1] == "|---|---|---|" and MD5 in out
    else:
        assert next(csv.DictReader(io.StringIO(out)))["title"] == "Renatus"


def test_parquet_output_and_stdin_and_file(warehouse_db, tmp_path):
    parquet = tmp_path / "objects.parquet"
    invoke("sql", "-o", str(parquet), "SELECT * FROM parsed.hit_objects", db=warehouse_db)
    with duckdb.connect() as con:  # its own connection: the module default is shared by every test in a worker
        assert con.execute(f"SELECT count(*) FROM '{parquet}'").fetchone()[0] == 21_328
    piped = invoke("sql", "--format", "csv", "-", input_text="SELECT 42 AS answer;", db=warehouse_db)
    assert piped.stdout.splitlines() == ["answer", "42"]
    query = tmp_path / "q.sql"
    query.write_text("SELECT count(*) AS n FROM parsed.breaks")
    assert invoke("sql", "--format", "csv", "--file", str(query), db=warehouse_db).stdout.splitlines()[1] == "64"


def test_read_only_unless_write(warehouse_db, tmp_path):
    refused = invoke("sql", "DELETE FROM parsed.breaks", db=warehouse_db, check=False)
    assert refused.returncode == 1 and "--write" in refused.stderr and "Traceback" not in refused.stderr
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(warehouse_db.read_bytes())
    invoke("sql", "--write", "DELETE FROM parsed.breaks", db=copy)
    assert invoke("sql", "--format", "csv", "SELECT count(*) n FROM parsed.breaks", db=copy).stdout.endswith("0\n")


@pytest.mark.parametrize(
    "args, message",
    [
        (["sql", "SELEC 1"], "syntax error"),
        (["sql", "SELECT * FROM nowhere"], "nowhere"),
        (["sql", "SELECT $x"], "missing parameter"),
        (["sql", "SELECT 1", "--format", "xml"], "unknown --format"),
    ],
)
def test_errors_are_one_line(warehouse_db, args, message):
    result = invoke(*args, db=warehouse_db, check=False)
    assert result.returncode != 0 and message in result.stderr and "Traceback" not in result.stderr


def test_bare_ppy_names_resolve(tmp_path):
    db = tmp_path / "k.duckdb"
    invoke("sql", "--write", "CREATE TABLE ppy.scores AS SELECT 1 AS id", db=db)
    assert invoke("sql", "--format", "csv", "SELECT count(*) AS n FROM scores", db=db).stdout == "n\n1\n"


def test_first_row_leaves_the_connection_free_for_register():
    """DuckDB 2 refuses register() after fetchone(), even on a one-row result; kiai reads with first_row."""

    import pyarrow as pa

    from kiai.warehouse import first_row

    con = duckdb.connect()
    assert first_row(con.execute("SELECT 1 WHERE false")) is None
    assert first_row(con.execute("SELECT count(*) FROM range(10)")) == (10,)
    con.register("rows", pa.table({"a": [1]}))  # raises if a result were still half read
    con.execute("SELECT count(*) FROM range(10)").fetchone()
    with pytest.raises(duckdb.Error, match="unfinished result"):
        con.register("more", pa.table({"a": [1]}))
    package = REPO / "kiai"
    assert not [str(p) for p in package.rglob("*.py") if ".fetchone()" in p.read_text(encoding="utf-8")]


@pytest.mark.parametrize(
    "name, check",
    [
        ("out.csv", lambda text: text.splitlines()[0] == "md5,title"),
        ("out.json", lambda text: json.loads(text)[0]["title"] == "Renatus"),
        ("out.jsonl", lambda text: json.loads(text.splitlines()[0])["md5"] == MD5),
        ("out.md", lambda text: text.splitlines()[1] == "|---|---|"),
    ],
)
def test_output_format_comes_from_the_suffix(warehouse_db, tmp_path, name, check):
    out = tmp_path / name
    invoke(
        "sql",
        "SELECT md5, title FROM parsed.beatmap_files WHERE md5 = $m",
        "-p",
        "m",
        MD5,
        "-o",
        str(out),
        db=warehouse_db,
    )
    assert check(out.read_text())


@pytest.mark.parametrize(
    "args, message",
    [
        (["--format", "csv", "-o", "x.json"], "--format csv contradicts --output x.json"),
        (["--format", "table", "-o", "x.csv"], "--format table is for the terminal"),
        (["-o", "x.txt"], "cannot tell the format of x.txt"),
        (["--format", "parquet"], "pass --output FILE.parquet"),
    ],
)
def test_output_format_conflicts_are_refused(warehouse_db, tmp_path, args, message):
    result = invoke("sql", "SELECT 1", *args, db=warehouse_db, cwd=tmp_path, check=False)
    assert result.returncode == 1 and message in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_csv_with_an_explicit_format_into_any_suffix(warehouse_db, tmp_path):
    invoke("sql", "SELECT 1 AS one", "--format", "csv", "-o", str(tmp_path / "x.txt"), db=warehouse_db)
    assert (tmp_path / "x.txt").read_text() == "one\n1\n"


def test_json_writes_nan_and_infinity_as_null(warehouse_db):
    sql = "SELECT 'nan'::DOUBLE AS a, 'inf'::DOUBLE AS b, '-inf'::FLOAT AS c, [1.5, 'nan'::DOUBLE] AS d, 2.5 AS e"
    for fmt in ("json", "jsonl"):
        out = invoke("sql", "--format", fmt, sql, db=warehouse_db).stdout
        assert "NaN" not in out and "Infinity" not in out
        record = json.loads(out)[0] if fmt == "json" else json.loads(out)
        assert record == {"a": None, "b": None, "c": None, "d": [1.5, None], "e": 2.5}


def test_duckdb_hints_survive(warehouse_db):
    table = invoke("sql", "SELECT * FROM beatmap_file", db=warehouse_db, check=False).stderr
    assert 'Did you mean "' in table.splitlines()[0] and "beatmap_files" in table.splitlines()[0]
    column = invoke("sql", "SELECT titel FROM parsed.beatmap_files", db=warehouse_db, check=False).stderr
    lines = column.splitlines()
    assert "Candidate bindings" in lines[0] and '"title"' in lines[0]
    assert lines[1] == "LINE 1: SELECT titel FROM parsed.beatmap_files"
    assert lines[2].index("^") == lines[1].index("titel") and "Traceback" not in column


def test_db_after_the_command(warehouse_db, tmp_path):
    result = invoke("sql", "--db", str(warehouse_db), "--format", "csv", "SELECT count(*) AS n FROM parsed.breaks")
    assert result.stdout == "n\n64\n"
    other = tmp_path / "none.duckdb"  # given after the command, it wins over the one before
    result = invoke("sql", "SELECT 1", "--db", str(other), db=warehouse_db, check=False)
    assert result.returncode == 1 and f"no warehouse at {other}" in result.stderr


WIDE = "SELECT * FROM parsed.beatmap_files WHERE mode = 0 ORDER BY md5 LIMIT 3"


def test_a_wide_result_shows_the_columns_that_fit_and_names_the_rest(warehouse_db):
    result = invoke("sql", WIDE, db=warehouse_db, env={"COLUMNS": "80"})
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    header = result.stdout.splitlines()[1]
    assert "md5" in header and "…" not in header  # whole columns, not every column squeezed to an ellipsis
    (note,) = [line for line in result.stderr.splitlines() if "hidden" in line]
    shown, hidden = re.search(r"(\d+) shown; (\d+) hidden", note).groups()
    columns = len(invoke("sql", "--format", "csv", WIDE, db=warehouse_db).stdout.splitlines()[0].split(","))
    assert int(shown) + int(hidden) == columns and int(shown) >= 2 and "3 rows" in result.stderr
    assert len([line for line in result.stdout.splitlines() if line.startswith("│")]) == 3  # no row dropped


def test_a_wide_single_row_is_shown_vertically(warehouse_db):
    result = invoke("sql", WIDE.replace("LIMIT 3", "LIMIT 1"), db=warehouse_db, env={"COLUMNS": "80"})
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    assert re.search(r"│ title\s+│ \S", result.stdout) and "hidden" not in result.stderr


def test_into_a_pipe_a_table_is_not_squeezed(warehouse_db):
    result = invoke("sql", WIDE, db=warehouse_db, env={"COLUMNS": ""})
    assert max(len(line) for line in result.stdout.splitlines()) > 200 and "hidden" not in result.stderr
    assert "format_version" in result.stdout.splitlines()[1]


def test_text_into_a_pipe_is_not_wrapped_at_80_columns(warehouse_db):
    result = invoke("ingest", "osu-files", str(OSU_FIXTURES), db=warehouse_db, env={"COLUMNS": ""})
    (line,) = result.stdout.splitlines()
    assert len(line) > 80 and "could not be parsed" in line


# --- on a warehouse of scores (as in tests/e2e/test_warehouse_safety.py, whose lock tests need a second process) ---


@pytest.fixture
def scores_db(tmp_path: Path) -> Path:
    return make_scores_db(tmp_path / "kiai.duckdb", invoke)


# --- kiai sql is read-only for real ---------------------------------------------------------------------------


def test_detach_attach_drop_bypass_fails_and_the_table_stays(scores_db: Path) -> None:
    bypass = f"USE memory; DETACH warehouse; ATTACH '{scores_db}' AS warehouse; DROP TABLE warehouse.ppy.scores"
    for sql in (bypass, f"ATTACH '{scores_db}' AS again", "DETACH warehouse", "SELECT 1; DETACH warehouse"):
        result = invoke("sql", sql, db=scores_db, check=False)
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert result.stderr.count("\n") == 1 and "--write" in result.stderr, result.stderr
    assert count_rows(scores_db) == SCORES
    moved = invoke("sql", "USE memory; DROP TABLE ppy.scores", db=scores_db, check=False)
    assert moved.returncode == 1 and count_rows(scores_db) == SCORES  # there is no other catalog to switch to


def test_a_read_only_connection_cannot_be_made_writable_by_any_statement(scores_db: Path) -> None:
    """Below kiai sql's own refusal: the connection itself is read-only, whatever is detached and attached."""
    con = warehouse.connect(scores_db, read_only=True)
    assert con.execute("SELECT database_name FROM duckdb_databases() WHERE NOT internal").fetchall() == [("warehouse",)]
    con.execute(f"ATTACH '{scores_db}' AS again")
    with pytest.raises(duckdb.Error, match="read-only"):
        con.execute("DROP TABLE again.ppy.scores")
    with pytest.raises(duckdb.Error, match="read-only"):
        con.execute("ATTACH ':memory:' AS scratch")
    with pytest.raises(duckdb.Error, match="read-only"):
        con.execute("DROP TABLE ppy.scores")
    con.close()
    assert count_rows(scores_db) == SCORES


def test_write_still_attaches_and_writes(scores_db: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.duckdb"
    invoke("sql", "--write", f"ATTACH '{other}' AS other; CREATE TABLE other.t AS SELECT 1 AS x", db=scores_db)
    assert duckdb.connect(str(other), read_only=True).execute("SELECT x FROM t").fetchall() == [(1,)]


# --- outputs never onto a database file, written atomically --------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl", "markdown", "parquet"])
def test_output_onto_the_warehouse_or_its_wal_is_refused(scores_db: Path, tmp_path: Path, fmt: str) -> None:
    wal = scores_db.with_name(scores_db.name + ".wal")
    wal.write_bytes(b"")  # a WAL beside the warehouse (DuckDB leaves one until a checkpoint)
    another = tmp_path / "another.db"
    duckdb.connect(str(another)).close()
    before = scores_db.read_bytes()
    for target in (scores_db, wal, another):
        result = invoke("sql", "SELECT * FROM scores", "--format", fmt, "-o", str(target), db=scores_db, check=False)
        assert result.returncode == 1 and "DuckDB database file" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert scores_db.read_bytes() == before and wal.read_bytes() == b"" and is_duckdb_file(another)
    assert count_rows(scores_db) == SCORES


def test_a_failed_query_leaves_an_existing_output_as_it_was(scores_db: Path, tmp_path: Path) -> None:
    failing = "SELECT range, CASE WHEN range < 60000 THEN 'x' ELSE error('boom') END AS v FROM range(100000)"
    for name in ("out.csv", "out.json", "out.parquet"):
        out = tmp_path / name
        out.write_text("precious\n")
        result = invoke("sql", failing, "-o", str(out), db=scores_db, check=False)
        assert result.returncode == 1 and "boom" in result.stderr and "Traceback" not in result.stderr
        assert out.read_text() == "precious\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kiai.duckdb", "out.csv", "out.json", "out.parquet"]
    invoke("sql", "SELECT id FROM scores ORDER BY id", "-o", str(tmp_path / "out.csv"), db=scores_db)
    assert (tmp_path / "out.csv").read_text().splitlines()[:3] == ["id", "0", "1"]
