"""State shared by the CLI commands: the resolved config, the facade (`house()`) and the options several commands
share, declared once (`Var`, `Seed`, `Folds`, `ModelsDir`, `Format`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from kiai.config import Config, load_config
from kiai.errors import KiaiError

if TYPE_CHECKING:
    from kiai.house import Warehouse


def terminal(stderr: bool = False) -> Console:
    """A console on stdout (or stderr) as it is now: its width and whether it is a terminal are read here."""
    console = Console(stderr=stderr)
    # Into a pipe or a file, lines are not wrapped at 80 columns (kiai.cli._tables prints tables at full width).
    console.soft_wrap = not console.is_terminal
    return console


@dataclass
class State:
    """One invocation's state: the root options, its config and its consoles. `kiai.cli.run` starts each
    invocation with a fresh one (`reset`), so nothing of one command (a console's width, a --db) reaches the next
    run in the same process."""

    db_override: Path | None = None
    wait: float | None = None  # --wait / KIAI_WAIT: seconds to wait for another process's lock (None: not given)
    _config: Config | None = field(default=None, repr=False)
    console: Console = field(default_factory=terminal, repr=False)
    err_console: Console = field(default_factory=lambda: terminal(stderr=True), repr=False)

    def reset(self) -> None:
        """Forget the last invocation: no options, no config, consoles for the streams and terminal as they are."""
        vars(self).update(vars(State()))

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(db_path=self.db_override)
        return self._config

    def house(self, config: Config | None = None, **on: Any) -> Warehouse:
        """The facade over this command's warehouse (or `config`'s), reporting to the terminal; `on`: handlers for
        the command's own events by class name (see kiai.cli._progress.reporter)."""
        from kiai.cli._progress import reporter
        from kiai.house import Warehouse

        return Warehouse(config=config or self.config, wait=self.wait, reporter=reporter(**on))


state = State()

AFTER_THE_COMMAND = ("--db", "--wait")  # the root's options that may also follow the command


class RootGroup(TyperGroup):
    """The root group: `--db` and `--wait`, declared once as its options, also work after the command
    (`kiai sql --db W ...`): they are moved before it, keeping their order, so a value after the command wins
    over one before it (and over KIAI_DB/KIAI_WAIT)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_options(args, AFTER_THE_COMMAND))


def hoist_options(args: list[str], names: tuple[str, ...]) -> list[str]:
    """`args` with the options `names` (`--db X` or `--db=X`) moved to the front; nothing after `--` moves."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            return front + rest + args[i:]
        step = 2 if arg in names else 1  # `--db X`, else `--db=X` or another argument
        (front if arg.split("=", 1)[0] in names else rest).extend(args[i : i + step])
        i += step
    return front + rest


FORMATS = ("table", "json")

VAR_HELP = "Override a var: NAME=VALUE (VALUE read as TOML) [default: kiai.toml [vars], else each model's]."
Var = Annotated[  # default None (not given): a [] default is one list shared by every call
    list[str] | None, typer.Option("--var", metavar="NAME=VALUE", help=VAR_HELP)
]
Seed = Annotated[int, typer.Option("--seed", help="Seed of the split and of the model.")]
Folds = Annotated[
    int,
    typer.Option(
        "--folds", "-k", help="1: one 80/20 holdout split; K > 1: K-fold cross-validation (compare shows mean ± std)."
    ),
]
ModelsDir = Annotated[
    Path | None,
    typer.Option(
        "--models-dir",
        help="Folder of the run folders [default: $KIAI_MODELS_DIR, kiai.toml [paths] models_dir, or models/].",
    ),
]
Format = Annotated[str, typer.Option("--format", help="table | json.")]


def check_format(fmt: str, formats: tuple[str, ...] = FORMATS) -> None:
    if fmt not in formats:
        raise KiaiError(f"unknown --format {fmt!r}; choose one of {', '.join(formats)}")
