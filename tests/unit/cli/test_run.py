"""`kiai.cli.run`, which tests call in-process (tests.support.cli.invoke), ends as the console script does in a
subprocess: the same exit code and the same output, for a success, a usage error and a kiai error."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import invoke, run_kiai


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--version"], 0),
        (["sql", "SELECT 1", "--no-such-option"], 2),  # usage error
        (["sql"], 1),  # KiaiError: no SQL given
    ],
    ids=["success", "usage-error", "kiai-error"],
)
def test_in_process_matches_the_subprocess(args: list[str], code: int, db_path: Path) -> None:
    in_process = invoke(*args, db=db_path, check=False)
    subprocess = run_kiai(*args, db=db_path, check=False)
    assert (in_process.returncode, in_process.stdout, in_process.stderr) == (
        subprocess.returncode,
        subprocess.stdout,
        subprocess.stderr,
    )
    assert in_process.returncode == code
    assert not db_path.exists()  # none of these opens the warehouse


def test_each_run_starts_afresh(db_path: Path, tmp_path: Path) -> None:
    """A run's --db and console width do not reach the next run in the same process."""
    invoke("--db", str(tmp_path / "first.duckdb"), "init")
    second = invoke("init", env={"KIAI_DB": str(db_path)})
    assert str(db_path) in second.stdout and db_path.exists()
    wide = "SELECT repeat('a', 30) AS a, repeat('b', 30) AS b, repeat('c', 30) AS c FROM range(2)"
    narrow = invoke("sql", wide, db=db_path, env={"COLUMNS": "60"})
    assert "3 columns, 1 shown; 2 hidden: b, c" in narrow.stderr
    again = invoke("sql", wide, db=db_path)
    assert "hidden" not in again.stderr and "c" * 30 in again.stdout
