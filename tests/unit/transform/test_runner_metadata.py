"""What a build records in kiai.* per model: one result row per column test, and the version's test state."""

from __future__ import annotations

from pathlib import Path

from kiai import warehouse
from kiai.load import ensure_tables
from kiai.transform import build

MODEL = """/* kiai
[columns.n]
tests = ["not_null", {accepted_range = {min = 1}}]
*/
SELECT * FROM (VALUES (1), (2), (2)) AS t(n)
"""
STRICTER = MODEL.replace("{accepted_range = {min = 1}}", '"unique", {accepted_range = {min = 2}}')


def test_every_test_of_a_model_is_logged_and_a_retest_updates_the_version(tmp_path: Path):
    # the file is named kiai.duckdb: the metadata must be qualified with the catalog on every statement
    con = warehouse.connect(tmp_path / "kiai.duckdb")
    ensure_tables(con)
    sql = tmp_path / "sql"
    (sql / "features").mkdir(parents=True)
    model = sql / "features" / "numbers.sql"
    model.write_text(MODEL, encoding="utf-8")

    def version() -> tuple[bool, str]:
        ((passed, tests_hash),) = con.execute(
            "SELECT tests_passed, tests_hash FROM kiai.model_versions WHERE model = 'numbers'"
        ).fetchall()
        return passed, tests_hash

    (built,) = build(con, sql).results
    assert built.ok and built.action == "build"
    passed, first_hash = version()
    assert passed is True

    model.write_text(STRICTER, encoding="utf-8")  # the same SQL: the stored version is retested
    (retested,) = build(con, sql).results
    assert retested.action == "retest" and retested.status == "tests_failed"
    passed, second_hash = version()
    assert passed is False and second_hash != first_hash
    (fingerprint,) = {built.fingerprint, retested.fingerprint}
    logged = dict(
        con.execute(
            "SELECT test, failures FROM kiai.model_test_results WHERE model = 'numbers' AND checked_at = "
            "(SELECT max(checked_at) FROM kiai.model_test_results) AND fingerprint = ?",
            [fingerprint],
        ).fetchall()
    )
    assert logged == {test.label: test.failures for test in retested.tests}
    assert sorted(logged.values()) == [0, 1, 1]  # not_null passes; one duplicate 2, one n below 2
    assert con.execute("SELECT count(*) FROM kiai.model_test_results").fetchall() == [(5,)]  # 2 + 3 rows
    con.close()
