"""The bytes-level rewrite of INSERT rows agrees with the value-by-value one and with the original values."""

from __future__ import annotations

from pathlib import Path

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from kiai.load.ppy_dump.values import exact_csv, fast_csv

MYSQL_ESCAPES = {0: b"\\0", 10: b"\\n", 13: b"\\r", 92: b"\\\\", 39: b"\\'", 34: b'\\"', 26: b"\\Z"}
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
    fast = fast_csv(text, width)
    if fast is not None:
        assert fast[1] == len(rows)
        assert _read(con, fast[0], width, tmp) == expected


def test_fast_path_takes_the_common_case() -> None:
    row = b"(1,'SH','{\\\"mods\\\": [{\\\"acronym\\\": \\\"HD\\\"}]}',NULL,-0.5,6e16,'2022-07-17 13:20:07')"
    result = fast_csv(b",".join([row] * 3), 7)
    assert result is not None and result[1] == 3
    assert (
        result[0].splitlines()[0]
        == b"1,'SH','{\"mods\": [{\"acronym\": \"HD\"}]}',NULL,-0.5,6e16,'2022-07-17 13:20:07'"
    )
    assert fast_csv(b"(1,NOW())", 2) is None and fast_csv(b"(1,'a'", 2) is None
