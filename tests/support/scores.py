"""A small warehouse of scores for the guard-rail tests: does a statement leave the table whole?"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiai import warehouse

SCORES = 1_000


def make_scores_db(db: Path, kiai: Callable[..., Any]) -> Path:
    """`ppy.scores` with SCORES rows, written through `kiai` (tests.support.cli's invoke or run_kiai)."""
    kiai("sql", "--write", f"CREATE TABLE ppy.scores AS SELECT range AS id FROM range({SCORES})", db=db)
    return db


def count_rows(db: Path, table: str = "ppy.scores") -> int:
    """Rows in `table`, read on a read-only connection of its own."""
    con = warehouse.connect(db, read_only=True)
    try:
        return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    finally:
        con.close()
