"""State shared by the CLI commands: the resolved config and warehouse connections."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from rich.console import Console

from kiai import warehouse
from kiai.config import Config, load_config

# Into a pipe or a file, lines are not wrapped at 80 columns (kiai.cli._tables prints tables at full width).
console = Console()
console.soft_wrap = not console.is_terminal
err_console = Console(stderr=True)
err_console.soft_wrap = not err_console.is_terminal


@dataclass
class State:
    db_override: Path | None = None
    wait: float | None = None  # --wait / KIAI_WAIT: seconds to wait for another process's lock (None: not given)
    _config: Config | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(db_path=self.db_override)
        return self._config

    def open(self, write: bool = True, wait: float | None = None) -> duckdb.DuckDBPyConnection:
        """The warehouse, created on first write. While another process holds it, wait up to `wait` seconds
        (default: --wait, KIAI_WAIT, else not at all), saying so on stderr."""
        seconds = wait if wait is not None else self.wait or 0.0
        return warehouse.connect(self.config.db_path, read_only=not write, wait=seconds, on_wait=_say_waiting)


def _say_waiting(text: str) -> None:
    err_console.print(text, highlight=False, soft_wrap=True)


state = State()
