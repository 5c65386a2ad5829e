"""Settings: paths, credentials and categories, from env vars and an optional `kiai.toml`.

Precedence: explicit arguments > environment variables > `kiai.toml` > defaults.
Secrets read here are never printed; `Config.__repr__` hides them.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiai.errors import KiaiError

DEFAULT_DB = Path("warehouse") / "kiai.duckdb"
DEFAULT_DATA_DIR = Path("data")
CONFIG_FILE_ENV = "KIAI_CONFIG"


@dataclass
class Config:
    """Resolved settings. `toml` keeps the whole parsed file for sections owned by other modules."""

    db_path: Path = DEFAULT_DB
    data_dir: Path = DEFAULT_DATA_DIR
    toml: dict[str, Any] = field(default_factory=dict)
    source_file: Path | None = None

    @property
    def beatmaps_dir(self) -> Path:
        return self.data_dir / "beatmaps"

    def section(self, name: str) -> dict[str, Any]:
        """A `[name]` table of kiai.toml, or an empty dict."""
        value = self.toml.get(name, {})
        if not isinstance(value, dict):
            raise KiaiError(f"{self.source_file}: [{name}] must be a table")
        return value

    def setting(self, env: str, section: str, key: str, default: Any = None) -> Any:
        """One setting: the env var `env` wins over `[section] key` in kiai.toml, then `default`."""
        if env in os.environ and os.environ[env] != "":
            return os.environ[env]
        return self.section(section).get(key, default)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise KiaiError(f"{path}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise KiaiError(f"{path}: cannot read ({exc.strerror})") from None


def load_config(db_path: Path | None = None, config_file: Path | None = None) -> Config:
    """Read `kiai.toml` (or `$KIAI_CONFIG`) if present and resolve paths."""
    path = config_file or (Path(os.environ[CONFIG_FILE_ENV]) if os.environ.get(CONFIG_FILE_ENV) else None)
    if path is None and Path("kiai.toml").is_file():
        path = Path("kiai.toml")
    toml = _read_toml(path) if path is not None else {}
    config = Config(toml=toml, source_file=path)
    paths = config.section("paths")
    config.data_dir = Path(os.environ.get("KIAI_DATA_DIR") or paths.get("data_dir", DEFAULT_DATA_DIR))
    config.db_path = Path(db_path or os.environ.get("KIAI_DB") or paths.get("db", DEFAULT_DB))
    return config


def parse_assignments(items: list[str], option: str) -> dict[str, Any]:
    """`NAME=VALUE` pairs given to `option`; VALUE is read as TOML (3, 0.5, true, [..]) when it parses, else
    as a string."""
    result: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise KiaiError(f"{option} takes NAME=VALUE, not {item!r}")
        try:
            result[name.strip()] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            result[name.strip()] = value
    return result
