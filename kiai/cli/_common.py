"""State shared by the CLI commands: the resolved config and warehouse connections."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from rich.console import Console

from kiai import warehouse
from kiai.config import Config, load_config

console = Console()
err_console = Console(stderr=True)


@dataclass
class State:
    db_override: Path | None = None
    _config: Config | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(db_path=self.db_override)
        return self._config

    def open(self, write: bool = True) -> duckdb.DuckDBPyConnection:
        """The warehouse, created on first write."""
        return warehouse.connect(self.config.db_path, read_only=not write)


state = State()
