"""Every command's help is conventional: one example line that parses, no `<bool>` on flags, every default shown,
and the README names every command."""

from __future__ import annotations

import shlex
import subprocess
import sys

import pytest
import typer

from kiai.cli import build_command
from kiai.cli._help import commands
from tests.support.paths import REPO

ROOT = build_command()
COMMANDS = list(commands(ROOT))
README = (REPO / "README.md").read_text(encoding="utf-8")


def _help(command) -> str:
    return command.get_help(typer.Context(command, info_name="kiai", terminal_width=100))


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[p or "kiai" for p, _ in COMMANDS])
def test_help_has_one_example_that_parses(path, command):
    text = _help(command)
    examples = [line.strip() for line in text.splitlines() if line.strip().startswith("Example:")]
    assert len(examples) == 1, text
    words = shlex.split(examples[0].removeprefix("Example:"))
    assert words[0] == "kiai"
    target, args = ROOT, words[1:]
    while args and args[0] in getattr(target, "commands", {}):  # walk down to the command the example runs
        target, args = target.commands[args[0]], args[1:]
    assert target is command or path == "" or path in " ".join(words), (path, examples[0])
    target.make_context(target.name, args)  # a usage error fails the test
    assert "<bool>" not in text


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[p or "kiai" for p, _ in COMMANDS])
def test_every_default_is_shown(path, command):
    text = " ".join(_help(command).split())
    for param in command.params:
        if getattr(param, "is_flag", False) or param.required or param.param_type_name != "option":
            continue
        if param.default is None:  # Typer shows the others; these say theirs in words
            assert "[default:" in (param.help or ""), f"kiai {path} {param.opts[0]}: say its default"
        elif param.default not in ([], ()):
            assert f"[default: {param.default}" in text, (path, param.opts)


def test_the_readme_names_every_command():
    leaves = [path for path, command in COMMANDS if path and not getattr(command, "commands", None)]
    missing = [path for path in leaves if f"kiai {path}" not in README]
    assert not missing, f"not in README.md: {missing}"


def test_help_leaves_duckdb_and_the_model_runner_to_the_commands_that_use_them():
    """Start-up and `kiai --help` import no DuckDB, kiai.transform (jinja2, sqlglot) or importlib.metadata (speed
    itself: `python -X importtime -c 'import kiai.cli'`)."""
    heavy = ("duckdb", "jinja2", "sqlglot", "kiai.transform", "kiai.query", "importlib.metadata")
    script = (
        f"import sys\nfrom kiai.cli import run\nrun(['--help'])\nprint(sorted(m for m in {heavy} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert "Commands" in out and out.strip().endswith("[]"), out
