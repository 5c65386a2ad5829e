"""Paths the tests read, rooted here so a test file at any depth names them the same way."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
SQL_DIR = REPO / "sql"
CASES = TESTS / "cases"
FIXTURES = TESTS / "fixtures"
OSU_FIXTURES = FIXTURES / "osu"
SAME_TIME_FIXTURES = FIXTURES / "osu_same_time"  # constructed: several timing lines at one timestamp


def shipped_models() -> int:
    """How many models kiai ships (the .sql files of sql/), so adding one breaks no test that counts them."""
    count = len(list(SQL_DIR.rglob("*.sql")))
    assert count >= 10, f"only {count} shipped models found in {SQL_DIR}"
    return count
