"""kiai.mysql_dialect: each case of tests/cases/mysql_answers.toml answered as MySQL would on the fixture dump, and
the statement splitter."""

from __future__ import annotations

import decimal
import math
import tomllib
from pathlib import Path
from typing import Any

import duckdb
import pytest

from kiai import mysql_dialect, query, warehouse
from kiai.load.ppy_dump import import_dump
from tests.support import paths
from tests.support.paths import FIXTURES

CASES = tomllib.loads((paths.CASES / "mysql_answers.toml").read_text("utf-8"))["case"]
NULL = "<NULL>"


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    path = tmp_path_factory.mktemp("answers") / "dump.duckdb"
    writer = warehouse.connect(path)
    import_dump(writer, [FIXTURES / "ppy_dump" / "2026_11_01_performance_osu_top_1000"])
    writer.close()
    con = warehouse.connect(path, read_only=True)  # as `kiai sql` opens it
    query.set_search_path(con)
    return con


def _same(value: Any, expected: Any) -> bool:
    if expected == NULL:
        return value is None
    if isinstance(expected, float) or isinstance(value, float | decimal.Decimal):
        return value is not None and math.isclose(float(value), float(expected), abs_tol=1e-4)
    return value == expected and type(value) is not bool


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_mysql_statement_gives_mysqls_answer(con: duckdb.DuckDBPyConnection, case: dict[str, Any]) -> None:
    rows: list[tuple[Any, ...]] = []
    for result in mysql_dialect.run(con, case["sql"]):
        assert isinstance(result, query.Result)
        assert result.columns == case["columns"]
        rows.extend(result.rows())
    assert len(rows) == len(case["rows"]), rows
    for row, expected in zip(rows, case["rows"], strict=True):
        assert len(row) == len(expected) and all(_same(v, e) for v, e in zip(row, expected, strict=True)), (
            row,
            expected,
        )


def test_what_mysql_does_not_have_is_refused_in_one_line(con: duckdb.DuckDBPyConnection) -> None:
    for sql, message in [
        ("SELECT @a := 1", r"@u := … inside a query is not supported: SET @u = … first, or -p u VALUE and \$u"),
        ("SELECT @@version", r"@@version \(a server variable\) is not supported"),
        ("SELECT id INTO @x FROM scores", r"INTO a variable is not supported"),
        ("SET sql_mode = ''", r"unsupported SET"),
        ("SHOW PROCESSLIST", r"unsupported MySQL statement: SHOW PROCESSLIST"),
        ("DESCRIBE nosuchtable", r"Table 'nosuchtable' doesn't exist"),
    ]:
        with pytest.raises(Exception, match=message) as info:
            list(mysql_dialect.run(con, sql))
        assert "\n" not in str(info.value)


def test_parameters_and_variables_mix(con: duckdb.DuckDBPyConnection) -> None:
    (result,) = mysql_dialect.run(
        con, "SET @r = 'SH'; SELECT COUNT(*) FROM scores WHERE rank = @r AND user_id = $u", {"u": 7562902}
    )
    assert result.rows().__next__()[0] > 0


def test_an_older_warehouse_without_the_dump_declaration_still_answers_show_columns(tmp_path: Path) -> None:
    con = warehouse.connect(tmp_path / "old.duckdb")
    con.execute("CREATE TABLE ppy.scores (id BIGINT NOT NULL, has_replay BOOLEAN)")  # as an older kiai left it
    query.set_search_path(con)
    (result,) = mysql_dialect.run(con, "SHOW COLUMNS FROM scores")
    assert list(result.rows()) == [("id", "bigint", "NO", "", None, ""), ("has_replay", "boolean", "YES", "", None, "")]
    notice = mysql_dialect.older_import_notice(con)
    assert notice is not None and "scores was imported by an older kiai" in notice
    assert "`kiai import ppy-dump` the dump again" in notice


def test_a_dump_this_kiai_imported_needs_no_notice(con: duckdb.DuckDBPyConnection) -> None:
    assert mysql_dialect.older_import_notice(con) is None


def test_statement_splitting_respects_quotes_and_comments() -> None:
    assert mysql_dialect.split_statements("SELECT ';' AS a; -- c; x\nSELECT `a;b` FROM t;;/* ; */ SELECT 2") == [
        "SELECT ';' AS a",
        "-- c; x\nSELECT `a;b` FROM t",
        "/* ; */ SELECT 2",
    ]
