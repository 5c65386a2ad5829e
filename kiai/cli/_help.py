"""Conventional help for every command, applied once to the built click tree (`conventional_help`).

- Plain click layout, no Rich markup: help texts are plain text, so `[default: …]` or `kiai.toml [vars]` print
  as written (Rich read them as style tags and dropped them), and flags show no `<bool>` type.
- Command lists show each command's first sentence whole (click cut "Download files (e.g." at the first period).
- One example line per command, shown at the end: the docstring's `Example:` paragraph, else EXAMPLES
  (tests/unit/cli/test_help.py checks every command has one that parses, and that the README names every command).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator

from typer.core import TyperCommand, TyperGroup

Command = TyperCommand | TyperGroup

# command path (as typed after `kiai`) -> one example, for commands whose docstring has no `Example:` paragraph;
# a group without its own shows its first subcommand's
EXAMPLES = {
    "": "kiai demo --quick",
    "init": "kiai init myproject",
    "tables": "kiai tables",
    "migrate": "kiai migrate",
    "build-features": "kiai build-features --select file_features+ --full-refresh",
    "compare": "kiai compare --format json",
    "predict": "kiai predict path/to/map.osu",
    "report": "kiai report --out reports/latest.html",
    "demo": "kiai demo --quick",
    "ingest osu-files": "kiai ingest osu-files data/beatmaps/",
    "ingest reparse": "kiai ingest reparse",
    "models list": "kiai models list",
    "models show": "kiai models show file_features",
    "models diff": "kiai models diff file_features",
    "models copy": "kiai models copy dataset",
    "models prune": "kiai models prune --keep 3",
    "export dataset": "kiai export dataset --out data/processed/dataset.parquet --split",
    "auth check": "kiai auth check",
    "fetch collections": "kiai fetch collections",
    "fetch beatmaps": "kiai fetch beatmaps --ids ids.txt",
    "fetch user-scores": "kiai fetch user-scores 7562902 --type best",
    "download osu-files": "kiai download osu-files",
    "train lightgbm": "kiai train lightgbm --folds 5",
    "train keras": "kiai train keras --epochs 50",
}
_SENTENCE_END = re.compile(r"(?<=\.)\s+(?=[A-Z`])")  # not "!": osu! is no sentence end


def commands(command: Command, path: str = "") -> Iterator[tuple[str, Command]]:
    """Every command of the tree with its path ("" for the root, "models list"), parents first."""
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from commands(sub, f"{path} {name}".strip())


def conventional_help(root: Command) -> Command:
    """Plain layout, whole first sentences in command lists and an example line, for every command of `root`."""
    examples: dict[str, str] = {}
    for path, command in reversed(list(commands(root))):  # subcommands first: a group may borrow their example
        command.rich_markup_mode = None  # Typer: plain click help for this command
        paragraphs = inspect.cleandoc(command.help or "").split("\n\n")
        given = [p for p in paragraphs if p.startswith("Example:")]
        command.help = "\n\n".join(p for p in paragraphs if p not in given)
        first_paragraph = " ".join(paragraphs[0].split())
        if first_paragraph and not command.short_help:
            command.short_help = _SENTENCE_END.split(first_paragraph, maxsplit=1)[0]
        subcommands = [f"{path} {name}".strip() for name in getattr(command, "commands", {})]
        line = " ".join(given[0].removeprefix("Example:").split()) if given else EXAMPLES.get(path)
        line = line or next((examples[sub] for sub in subcommands if sub in examples), None)
        if line:
            examples[path] = line
            command.epilog = command.epilog or f"\b\nExample: {line}"  # \b: click keeps the line as written
    return root
