"""`--db` and `--wait` are declared once, on the root, and also work after the command (moved before it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from kiai.cli import app, build_command
from kiai.cli._common import AFTER_THE_COMMAND, hoist_options, state


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["sql", "SELECT 1", "--db", "w", "--format", "csv"], ["--db", "w", "sql", "SELECT 1", "--format", "csv"]),
        (["--db", "a", "fetch", "beatmaps", "--db=b"], ["--db", "a", "--db=b", "fetch", "beatmaps"]),  # b wins
        (["train", "lightgbm", "--wait", "3", "-q"], ["--wait", "3", "train", "lightgbm", "-q"]),
        (["sql", "--", "--db"], ["sql", "--", "--db"]),  # after --, an argument
        (["sql", "SELECT '--db'"], ["sql", "SELECT '--db'"]),
    ],
)
def test_hoisting(args: list[str], expected: list[str]) -> None:
    assert hoist_options(args, AFTER_THE_COMMAND) == expected


def test_no_command_carries_its_own_copy() -> None:
    def leaves(command):
        subs = getattr(command, "commands", None)
        return [leaf for sub in subs.values() for leaf in leaves(sub)] if subs else [command]

    root = build_command()
    assert {"--db", "--wait"} <= {opt for param in root.params for opt in param.opts}
    for leaf in leaves(root):
        assert not {"--db", "--wait"} & {opt for param in leaf.params for opt in param.opts}, leaf.name


def test_after_a_nested_command_the_last_value_wins(tmp_path: Path) -> None:
    other = tmp_path / "after.duckdb"
    result = CliRunner().invoke(
        app, ["--db", str(tmp_path / "before.duckdb"), "models", "prune", "--db", str(other), "--wait", "2"]
    )
    assert result.exit_code == 0, result.output
    assert state.config.db_path == other and state.wait == 2.0 and other.exists()
    assert not (tmp_path / "before.duckdb").exists()
