"""kiai.quoting: what it writes into SQL text reads back as the very name or value, however it is spelled."""

from __future__ import annotations

import duckdb
import pytest

from kiai.quoting import identifier, literal

AWKWARD = ["plain", "it's", 'say "hi"', "both ' and \"", "semi; -- colon", "new\nline", "", "ünï \\ back"]


@pytest.mark.parametrize("text", AWKWARD)
def test_a_literal_reads_back_as_the_text(text):
    assert duckdb.connect().sql(f"SELECT {literal(text)}").fetchall() == [(text,)]


@pytest.mark.parametrize("name", [n for n in AWKWARD if n])
def test_an_identifier_names_the_column_and_the_table(name):
    con = duckdb.connect()
    con.execute(f"CREATE TABLE {identifier(name)} ({identifier(name)} INTEGER)")
    con.execute(f"INSERT INTO {identifier(name)} VALUES (7)")
    assert con.execute(f"SELECT {identifier(name)} FROM {identifier(name)}").fetchall() == [(7,)]
    columns = con.execute("SELECT table_name, column_name FROM duckdb_columns() WHERE NOT internal").fetchall()
    assert columns == [(name, name)]


def test_literals_of_other_values():
    values = [None, True, False, 3, -2.5, ["a'b", None], (1, 2)]
    row = duckdb.connect().sql("SELECT " + ", ".join(literal(v) for v in values)).fetchall()[0]
    assert row == (None, True, False, 3, -2.5, ["a'b", None], [1, 2])
