"""The bytes-level rewrite of INSERT rows agrees with the value-by-value one and with the original values."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiai.load.ppy_dump import values
from kiai.load.ppy_dump.values import ValuesError, exact_csv, fast_csv, rows_csv

MYSQL_ESCAPES = {0: b"\\0", 10: b"\\n", 13: b"\\r", 92: b"\\\\", 39: b"\\'", 34: b'\\"', 26: b"\\Z"}
# What other writers escape too (MySQL reads them all): a tab, a backspace, and any byte as itself
OTHER_ESCAPES = {9: b"\\t", 8: b"\\b", ord("q"): b"\\q"}
PIECES = st.sampled_from([*"ab ;,()'\"\\\n\r\t\x00\x1a%_N今★", "),(", "NULL"])
TEXT = st.lists(PIECES, max_size=8).map("".join)
VALUE = st.one_of(st.none(), st.integers(-(2**40), 2**40), TEXT)


def _literal(value: object) -> bytes:
    """A value as mysqldump writes it (mysql_real_escape_string for strings)."""
    if value is None:
        return b"NULL"
    if isinstance(value, int):
        return str(value).encode()
    raw = str(value).encode("utf-8")
    return b"'" + b"".join(MYSQL_ESCAPES.get(byte, bytes([byte])) for byte in raw) + b"'"


def _read(con: duckdb.DuckDBPyConnection, csv: bytes, width: int, tmp: Path) -> list[tuple]:
    path = tmp / "rows.csv"
    path.write_bytes(csv)
    columns = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(width))
    return con.execute(
        f"SELECT * FROM read_csv('{path}', header=false, delim=',', quote='''', escape='''', nullstr='NULL', "
        f"allow_quoted_nulls=false, auto_detect=false, strict_mode=true, new_line='\\n', columns={{{columns}}})"
    ).fetchall()


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 4).flatmap(lambda w: st.lists(st.lists(VALUE, min_size=w, max_size=w), min_size=1, max_size=6)))
def test_fast_and_exact_rewrites_decode_to_the_original_values(tmp_path_factory, rows: list[list[object]]) -> None:
    width = len(rows[0])
    text = b",".join(b"(" + b",".join(_literal(v) for v in row) + b")" for row in rows)
    expected = [tuple(None if v is None else str(v) for v in row) for row in rows]
    tmp = tmp_path_factory.mktemp("values")
    con = duckdb.connect()
    exact, count = exact_csv(text, (False,) * width)
    assert count == len(rows)
    assert _read(con, exact, width, tmp) == expected
    fast = fast_csv(text)
    if fast is not None:
        assert fast[1] == len(rows)
        assert _read(con, fast[0], width, tmp) == expected


def test_fast_path_takes_the_common_case() -> None:
    row = b"(1,'SH','{\\\"mods\\\": [{\\\"acronym\\\": \\\"HD\\\"}]}',NULL,-0.5,6e16,'2022-07-17 13:20:07')"
    result = fast_csv(b",".join([row] * 3))
    assert result is not None and result[1] == 3
    assert (
        result[0].splitlines()[0]
        == b"1,'SH','{\"mods\": [{\"acronym\": \"HD\"}]}',NULL,-0.5,6e16,'2022-07-17 13:20:07'"
    )
    assert fast_csv(b"(1,NOW())") is None and fast_csv(b"(1,'a'") is None


def _statement(rows: list[list[object]], escapes: dict[int, bytes] = MYSQL_ESCAPES) -> bytes:
    def literal(value: object) -> bytes:
        if not isinstance(value, str):
            return _literal(value)
        raw = value.encode("utf-8")
        return b"'" + b"".join(escapes.get(byte, bytes([byte])) for byte in raw) + b"'"

    return b",".join(b"(" + b",".join(literal(v) for v in row) + b")" for row in rows)


HARD_TEXT = st.lists(st.sampled_from([*"ab,()'\"\\\n\t\x08q今", "),(", "NULL"]), max_size=6).map("".join)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 2**40), st.one_of(st.none(), HARD_TEXT)), min_size=1, max_size=40),
    st.sampled_from([1, 2, 3, 64]),
)
def test_slices_decode_to_the_original_values(
    tmp_path_factory, rows: list[tuple[int, str | None]], slice_rows: int
) -> None:
    """Statements cut into slices (a few rows, or around the rows with rare escapes) read back exactly."""
    width = 2
    text = _statement([list(r) for r in rows], {**MYSQL_ESCAPES, **OTHER_ESCAPES})
    expected = [tuple(None if v is None else str(v) for v in row) for row in rows]
    saved = values.SLICE_ROWS
    values.SLICE_ROWS = slice_rows
    try:
        csv, count = rows_csv(text, (False,) * width)
    finally:
        values.SLICE_ROWS = saved
    assert count == len(rows)
    assert _read(duckdb.connect(), csv, width, tmp_path_factory.mktemp("slices")) == expected


@given(st.lists(st.sampled_from([*"(),'NUL0.e", "),(", ",''", "NULL", ",N,"]), max_size=40).map("".join))
def test_pattern_counts_agree_with_bytes_count(text: str) -> None:
    data = text.encode()
    for pattern in (b"),(", b",''", b"NULL", b",N", b"N,"):  # those the fast path counts: none overlaps itself
        assert values._occurrences(data, pattern) == data.count(pattern)


def test_a_few_hard_rows_are_cut_out_and_the_rest_stays_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    clean = b"(1,'{\\\"a\\\": 1}',NULL)"
    rows = [clean] * 500
    rows[250] = b"(2,'it\\'s a \\ttab\\nand a line',NULL)"
    calls: list[int] = []
    fast = values.fast_csv
    monkeypatch.setattr(values, "fast_csv", lambda piece, plain=None: calls.append(len(piece)) or fast(piece, plain))
    csv, count = rows_csv(b",".join(rows), (False,) * 3)
    assert count == 500 and csv.count(b"\n") == 500 + 1  # one newline inside the hard row's value
    assert len(calls) == 3 and min(calls) == len(rows[250])  # before it, the row itself, after it
    assert b"'it''s a \ttab\nand a line'" in csv


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"(1,LULL)", r"row 1, column 2: only literal values are allowed, found 'LULL'"),
        (b"(1,'a'),(2,)", r"row 2, column 2: a value is missing"),
        (b"()", r"row 1 has 0 values; the CREATE TABLE has 2 columns"),
        (b"(1,NULLNULL)", r"row 1, column 2: only literal values are allowed, found 'NULLNULL'"),
        (b"(1,1e999)", r"row 1, column 2: 1e999 is out of range for a DOUBLE"),
        (b"(1,-e5)", r"row 1, column 2: only literal values"),
    ],
)
def test_what_mysql_refuses_is_refused_with_row_and_column(text: bytes, message: str) -> None:
    assert fast_csv(text) is None
    many = b",".join([b"(7,8)"] * 200 + [text])  # the bad row after 200 good ones: still named by its number
    with pytest.raises(ValuesError, match=message.replace("row 1", "row 201").replace("row 2,", "row 202,")):
        rows_csv(many, (False, False))
