"""`kiai sql --dialect mysql` over the imported fixture dump: statements from MySQL guides and their results."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from kiai.errors import KiaiError
from kiai.mysql_dialect import to_duckdb
from tests.support.cli import invoke
from tests.support.paths import FIXTURES

ARCHIVE = FIXTURES / "ppy_dump" / "2026_11_01_performance_osu_top_1000.tar.bz2"


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("mysql") / "dump.duckdb"
    invoke("import", "ppy-dump", str(ARCHIVE), db=path)
    return path


def mysql(db: Path, sql: str, *extra: str, check: bool = True):
    return invoke("sql", "--dialect", "mysql", "--format", "csv", *extra, sql, db=db, check=check)


def test_the_guide_query_counts_mrekks_replays(db: Path) -> None:
    out = mysql(
        db,
        "SELECT COUNT(*) AS n FROM scores WHERE user_id = 7562902 AND accuracy > 0.9 AND has_replay = 1 "
        "AND preserve = 1 AND ended_at > '2021-01-01';",
    )
    assert out.stdout.splitlines() == ["n", "12"]


def test_show_columns_and_describe_list_the_dump_columns(db: Path) -> None:
    for statement in ("SHOW COLUMNS FROM scores;", "DESCRIBE `scores`", "SHOW FULL FIELDS FROM ppy.scores"):
        rows = list(csv.DictReader(mysql(db, statement).stdout.splitlines()))
        assert [r["Field"] for r in rows][:4] == ["id", "user_id", "ruleset_id", "beatmap_id"], statement
        assert len(rows) == 20
        by_name = {r["Field"]: r for r in rows}
        assert by_name["ended_at"]["Type"] == "timestamp" and by_name["pp"]["Null"] == "YES"


def test_describe_of_a_missing_table_is_an_error(db: Path) -> None:
    out = mysql(db, "DESCRIBE nosuchtable", check=False)
    assert out.returncode == 1 and "Table 'nosuchtable' doesn't exist" in out.stderr


def test_show_tables_lists_the_ppy_tables(db: Path) -> None:
    names = mysql(db, "SHOW TABLES").stdout.splitlines()
    assert names[0] == "Tables_in_kiai"
    assert {"scores", "osu_beatmaps", "import_log"} <= set(names)


def test_backticks_limit_in_subquery_unix_timestamp_and_several_statements(db: Path) -> None:
    out = mysql(
        db,
        "USE osu; SELECT `id`, UNIX_TIMESTAMP(ended_at) AS t FROM `scores` WHERE beatmap_id IN "
        "(SELECT beatmap_id FROM osu_beatmaps WHERE approved = 1) ORDER BY id LIMIT 1, 2;",
    )
    rows = out.stdout.splitlines()
    assert rows[0] == "id,t" and len(rows) == 3
    out = mysql(db, "SELECT UNIX_TIMESTAMP('2021-01-01 00:00:00') AS t; SELECT 1 AS one;")
    assert out.stdout.splitlines() == ["t", "1609459200", "one", "1"]
    assert UNIX_NOW_IS_AN_INTEGER(mysql(db, "SELECT UNIX_TIMESTAMP() AS now").stdout)


def UNIX_NOW_IS_AN_INTEGER(text: str) -> bool:
    value = text.splitlines()[1]
    return value.isdigit() and int(value) > 1_700_000_000


def test_into_outfile_with_the_header_idiom(db: Path, tmp_path: Path) -> None:
    target = tmp_path / "top.csv"
    mysql(
        db,
        "(SELECT 'id', 'user_id', 'pp') UNION ALL "
        "(SELECT id, user_id, pp FROM scores WHERE user_id = 7562902 ORDER BY pp DESC) "
        f"INTO OUTFILE '{target}' FIELDS TERMINATED BY ',' ENCLOSED BY '\"' LINES TERMINATED BY '\\n';",
        "--write",
    )
    lines = target.read_text().splitlines()
    assert lines[0].replace('"', "") == "id,user_id,pp"
    assert len(lines) == 14
    rows = list(csv.reader(lines[1:]))
    pps = [float(r[2]) for r in rows if r[2] != "\\N"]  # NULL is written \N, as MySQL does
    assert pps == sorted(pps, reverse=True) and len(pps) > 5
    assert [r[2] for r in rows[len(pps) :]] == ["\\N"] * (len(rows) - len(pps))  # NULLs last
    assert all(r[1] == "7562902" for r in rows)


def test_into_outfile_defaults_are_tab_separated(db: Path, tmp_path: Path) -> None:
    target = tmp_path / "names.tsv"
    mysql(db, f"SELECT name, count FROM osu_counts ORDER BY name LIMIT 3 INTO OUTFILE '{target}'", "--write")
    lines = target.read_text().splitlines()
    assert len(lines) == 3 and all(len(line.split("\t")) == 2 for line in lines)


def test_unsupported_statements_are_named(db: Path) -> None:
    out = mysql(db, "GRANT ALL ON *.* TO 'x'@'%'", check=False)
    assert out.returncode == 1 and "GRANT" in out.stderr and "Traceback" not in out.stderr
    with pytest.raises(KiaiError, match="SHOW PROCESSLIST"):
        to_duckdb("SHOW PROCESSLIST")
    with pytest.raises(KiaiError, match="INTO DUMPFILE is not supported"):
        to_duckdb("SELECT 1 INTO DUMPFILE '/tmp/x'")
