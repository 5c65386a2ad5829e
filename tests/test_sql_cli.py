"""`kiai sql` and `kiai tables`: formats, parameters, read-only safety and one-line errors."""

from __future__ import annotations

import csv
import io
import json

import duckdb
import pytest
from conftest import OSU_FIXTURES, run_kiai

MD5 = "8e68653623fbbb2f1fa0988d97e38e28"  # Soleily - Renatus (Gamu) [Insane]


@pytest.fixture(scope="module")
def warehouse_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("sql") / "kiai.duckdb"
    run_kiai("ingest", "osu-files", str(OSU_FIXTURES), db=db)
    return db


def test_version_and_help():
    assert run_kiai("--version").stdout.startswith("kiai ")
    assert "ingest" in run_kiai("--help").stdout


def test_tables_lists_row_counts(warehouse_db):
    out = run_kiai("tables", db=warehouse_db).stdout
    assert "hit_objects" in out and "21,328" in out


def test_group_by_query_as_table(warehouse_db):
    result = run_kiai(
        "sql", "SELECT mode, count(*) AS n FROM parsed.beatmap_files GROUP BY ALL ORDER BY mode", db=warehouse_db
    )
    assert "4 rows" in result.stderr
    assert "33" in result.stdout


def test_csv_output_with_parameter(warehouse_db, tmp_path):
    out = tmp_path / "out.csv"
    run_kiai(
        "sql",
        "--format",
        "csv",
        "--output",
        str(out),
        "SELECT * FROM parsed.hit_objects WHERE md5 = $md5 ORDER BY object_index",
        "-p",
        "md5",
        MD5,
        db=warehouse_db,
    )
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 897 and rows[0]["md5"] == MD5 and rows[0]["object_index"] == "0"


@pytest.mark.parametrize("fmt", ["json", "jsonl", "markdown", "csv"])
def test_stdout_formats(warehouse_db, fmt):
    out = run_kiai(
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
    run_kiai("sql", "-o", str(parquet), "SELECT * FROM parsed.hit_objects", db=warehouse_db)
    assert duckdb.execute(f"SELECT count(*) FROM '{parquet}'").fetchone()[0] == 21_328
    piped = run_kiai("sql", "--format", "csv", "-", input_text="SELECT 42 AS answer;", db=warehouse_db)
    assert piped.stdout.splitlines() == ["answer", "42"]
    query = tmp_path / "q.sql"
    query.write_text("SELECT count(*) AS n FROM parsed.breaks")
    assert run_kiai("sql", "--format", "csv", "--file", str(query), db=warehouse_db).stdout.splitlines()[1] == "64"


def test_read_only_unless_write(warehouse_db, tmp_path):
    refused = run_kiai("sql", "DELETE FROM parsed.breaks", db=warehouse_db, check=False)
    assert refused.returncode == 1 and "--write" in refused.stderr and "Traceback" not in refused.stderr
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(warehouse_db.read_bytes())
    run_kiai("sql", "--write", "DELETE FROM parsed.breaks", db=copy)
    assert run_kiai("sql", "--format", "csv", "SELECT count(*) n FROM parsed.breaks", db=copy).stdout.endswith("0\n")


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
    result = run_kiai(*args, db=warehouse_db, check=False)
    assert result.returncode != 0 and message in result.stderr and "Traceback" not in result.stderr


def test_missing_and_locked_warehouse(tmp_path, warehouse_db):
    missing = run_kiai("sql", "SELECT 1", db=tmp_path / "none.duckdb", check=False)
    assert missing.returncode == 1 and "no warehouse at" in missing.stderr
    holder = duckdb.connect(str(warehouse_db))  # another process holds the write lock
    try:
        locked = run_kiai("sql", "SELECT 1", db=warehouse_db, check=False)
    finally:
        holder.close()
    assert locked.returncode == 1 and "in use by another process" in locked.stderr


def test_bare_ppy_names_resolve(tmp_path):
    db = tmp_path / "k.duckdb"
    run_kiai("sql", "--write", "CREATE TABLE ppy.scores AS SELECT 1 AS id", db=db)
    assert run_kiai("sql", "--format", "csv", "SELECT count(*) AS n FROM scores", db=db).stdout == "n\n1\n"


def test_first_row_leaves_the_connection_free_for_register():
    """DuckDB 2 refuses register() after fetchone(), even on a one-row result; kiai reads with first_row."""
    import pathlib

    import pyarrow as pa

    from kiai.warehouse import first_row

    con = duckdb.connect()
    assert first_row(con.execute("SELECT 1 WHERE false")) is None
    assert first_row(con.execute("SELECT count(*) FROM range(10)")) == (10,)
    con.register("rows", pa.table({"a": [1]}))  # raises if a result were still half read
    con.execute("SELECT count(*) FROM range(10)").fetchone()
    with pytest.raises(duckdb.Error, match="unfinished result"):
        con.register("more", pa.table({"a": [1]}))
    package = pathlib.Path(__file__).resolve().parents[1] / "kiai"
    assert not [str(p) for p in package.rglob("*.py") if ".fetchone()" in p.read_text(encoding="utf-8")]
