"""Settings: paths, credentials and categories, from env vars and an optional `kiai.toml`.

Precedence: explicit arguments > environment variables > `kiai.toml` > defaults. A Config reads the process's
environment unless given its own (`environ`): `kiai demo` gives it none, so that its sandbox settings win over a
user's real KIAI_* variables.
Secrets read here are never printed; `Config.__repr__` hides them.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiai.errors import KiaiError

DEFAULT_DB = Path("warehouse") / "kiai.duckdb"
DEFAULT_DATA_DIR = Path("data")
CONFIG_FILE_ENV = "KIAI_CONFIG"
SECRET_WORDS = ("secret", "token", "password")  # kiai.toml keys whose values repr() hides
MB = 2**20


@dataclass
class Config:
    """Resolved settings. `toml` keeps the whole parsed file for sections owned by other modules."""

    db_path: Path = DEFAULT_DB
    data_dir: Path = DEFAULT_DATA_DIR
    toml: dict[str, Any] = field(default_factory=dict)
    source_file: Path | None = None
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)  # where KIAI_* settings are read

    def __repr__(self) -> str:
        return (
            f"Config(db_path={self.db_path!r}, data_dir={self.data_dir!r}, toml={_hide_secrets(self.toml)!r}, "
            f"source_file={self.source_file!r})"
        )

    @property
    def beatmaps_dir(self) -> Path:
        return self.data_dir / "beatmaps"

    @property
    def models_dir(self) -> Path:
        """The folder of the run folders: $KIAI_MODELS_DIR, kiai.toml [paths] models_dir, else models/."""
        return Path(self.setting("KIAI_MODELS_DIR", "paths", "models_dir", "models"))

    def section(self, name: str) -> dict[str, Any]:
        """A `[name]` table of kiai.toml, or an empty dict."""
        value = self.toml.get(name, {})
        if not isinstance(value, dict):
            raise KiaiError(f"{self.source_file}: [{name}] must be a table")
        return value

    def setting(self, env: str, section: str, key: str, default: Any = None) -> Any:
        """One setting: the env var `env` wins over `[section] key` in kiai.toml, then `default`."""
        if self.environ.get(env, "") != "":
            return self.environ[env]
        return self.section(section).get(key, default)

    def number(self, env: str, section: str, key: str, default: float, positive: bool = False) -> float:
        """A numeric setting (see `setting`); a clear error when it is not a number, negative, or (with
        `positive`) zero."""
        value = self.setting(env, section, key, default)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise KiaiError(f"{env} / [{section}] {key} must be a number, got {value!r}") from None
        if number < 0 or (positive and number == 0) or number != number:
            raise KiaiError(f"{env} / [{section}] {key} must be {'positive' if positive else 'at least 0'}")
        return number


def _hide_secrets(value: Any, key: str = "") -> Any:
    """A copy of a kiai.toml value with the values of secret-looking keys replaced by '***'."""
    if isinstance(value, dict):
        return {k: _hide_secrets(v, str(k)) for k, v in value.items()}
    return "***" if any(word in key.lower() for word in SECRET_WORDS) else value


@dataclass(frozen=True)
class Limits:
    """Caps on what one input may hold, so that no file, archive or server fills memory or stalls a run.

    Set in kiai.toml [limits] (osu_file_mb, objects_per_file, api_body_mb, replay_file_mb) or
    KIAI_LIMIT_<NAME>. An .osu file (downloaded, read from disk or inflated from an archive) larger than
    `osu_file_bytes`, or with more hit objects, timing points or breaks than `objects_per_file`, becomes a
    parse error, and so does an .osr replay larger than `replay_file_bytes`; an API or osu!collector body
    larger than `api_body_bytes` is refused as too large.
    """

    osu_file_bytes: int = 16 * MB  # the largest ranked maps are a few MB
    objects_per_file: int = 500_000  # marathons hold tens of thousands
    api_body_bytes: int = 64 * MB  # a /api/v2/beatmaps answer of 50 maps is well under 1 MB
    replay_file_bytes: int = 16 * MB  # replays of long maps are a few MB

    @classmethod
    def from_config(cls, config: Config) -> Limits:
        def number(key: str, default: float) -> float:
            return config.number(f"KIAI_LIMIT_{key.upper()}", "limits", key, default, positive=True)

        base = cls()
        return cls(
            osu_file_bytes=int(number("osu_file_mb", base.osu_file_bytes / MB) * MB),
            objects_per_file=int(number("objects_per_file", base.objects_per_file)),
            api_body_bytes=int(number("api_body_mb", base.api_body_bytes / MB) * MB),
            replay_file_bytes=int(number("replay_file_mb", base.replay_file_bytes / MB) * MB),
        )


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise KiaiError(f"{path}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise KiaiError(f"{path}: cannot read ({exc.strerror})") from None


def load_config(
    db_path: Path | None = None, config_file: Path | None = None, environ: Mapping[str, str] | None = None
) -> Config:
    """Read `kiai.toml` (or `$KIAI_CONFIG`) if present and resolve paths; settings come from `environ` (default:
    the process's environment) over the file."""
    env = os.environ if environ is None else environ
    path = config_file or (Path(env[CONFIG_FILE_ENV]) if env.get(CONFIG_FILE_ENV) else None)
    if path is None and Path("kiai.toml").is_file():
        path = Path("kiai.toml")
    toml = _read_toml(path) if path is not None else {}
    config = Config(toml=toml, source_file=path, environ=env)
    paths = config.section("paths")
    config.data_dir = Path(env.get("KIAI_DATA_DIR") or paths.get("data_dir", DEFAULT_DATA_DIR))
    config.db_path = Path(db_path or env.get("KIAI_DB") or paths.get("db", DEFAULT_DB))
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
