"""Discover the models: `**/*.sql` files with a TOML header, plus the vars they may use.

Models come from folders, lowest precedence first: the models kiai ships (package data, see `shipped_sql_dir`),
then the project's own folder (kiai.toml `[project] models`, written by `kiai init PATH`). A project model
with a shipped model's name replaces it; every other project model is added beside the shipped ones.
"""

from __future__ import annotations

import importlib.resources
import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from kiai.catalog import RESERVED_SCHEMAS
from kiai.config import Config, parse_assignments
from kiai.errors import KiaiError
from kiai.transform.column_tests import COLUMN_TESTS
from kiai.transform.materialization import DEFAULT, MATERIALIZATIONS, Materialization

HEADER_KEYS = {"materialized", "description", "columns", "counts"}
COLUMN_KEYS = {"description", "tests"}
_HEADER = re.compile(r"\A\s*/\*\s*kiai\b(?P<toml>.*?)\*/", re.DOTALL)
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*\Z")
SHIPPED = "kiai"  # the label of the models kiai ships
PROJECT = "project"  # the label of the project's own models


class ModelError(KiaiError):
    """A model file (or the model tree) is not valid."""


@dataclass(frozen=True)
class ColumnTest:
    kind: str
    args: dict[str, Any] = field(default_factory=dict)

    def label(self, column: str) -> str:
        extra = ", ".join(f"{k}={v!r}" for k, v in sorted(self.args.items()))
        return f"{self.kind}({column}{', ' + extra if extra else ''})"


@dataclass(frozen=True)
class Column:
    name: str
    description: str = ""
    tests: tuple[ColumnTest, ...] = ()


@dataclass(frozen=True)
class ModelFolder:
    """A folder of models and where it comes from: `kiai` (shipped), `sql_dir` (instead of those), `project`."""

    label: str
    path: Path


@dataclass(frozen=True)
class Model:
    """One `.sql` file: its name is the file stem, its schema the top folder under its models folder."""

    name: str
    schema: str
    path: Path
    body: str  # the SQL after the header (a Jinja template)
    folder: ModelFolder = ModelFolder(SHIPPED, Path())
    replaces: Model | None = None  # the model of the same name from an earlier folder that this one replaces
    materialized: str = DEFAULT
    description: str = ""
    columns: tuple[Column, ...] = ()
    counts: tuple[tuple[str, str], ...] = ()  # (label, scalar SQL) recorded in the build log

    @property
    def relation(self) -> str:
        return f"{self.schema}.{self.name}"

    def version_relation(self, fingerprint: str) -> str:
        return f"{self.schema}.{self.name}__{fingerprint}"

    @property
    def materialization(self) -> Materialization:
        return MATERIALIZATIONS[self.materialized]

    @property
    def tests(self) -> list[tuple[str, ColumnTest]]:
        return [(column.name, test) for column in self.columns for test in column.tests]

    @property
    def origin(self) -> str:
        """Where the model comes from, as `kiai models list` shows it: `kiai`, `project`, `project (replaces kiai)`."""
        return f"{self.folder.label} (replaces {self.replaces.folder.label})" if self.replaces else self.folder.label


@dataclass
class Project:
    folders: list[ModelFolder]
    models: dict[str, Model]
    vars: dict[str, Any]

    def get(self, name: str) -> Model:
        if name not in self.models:
            known = ", ".join(sorted(self.models)) or "none"
            where = " and ".join(str(folder.path) for folder in self.folders)
            raise ModelError(f"no model named {name!r} in {where} (models: {known})")
        return self.models[name]

    def describe(self) -> str:
        """How many models each folder gives and which replace an earlier folder's, e.g. for the build plan."""
        parts = []
        for folder in self.folders:
            mine = [m for m in self.models.values() if m.folder == folder]
            replacing = ", ".join(f"{m.name} replaces {m.replaces.folder.label}'s" for m in mine if m.replaces)
            parts.append(f"{len(mine)} from {folder.label} ({folder.path}{'; ' + replacing if replacing else ''})")
        return "models: " + ", ".join(parts)


def shipped_sql_dir() -> Path:
    """The models, vars and SQL kiai ships: package data `kiai/sql` in an installed wheel (pyproject.toml maps the
    repository's top-level `sql/` there); in a source checkout (an editable install) that `sql/` itself, so edits to it
    are picked up."""
    package = importlib.resources.files("kiai")
    packaged = package / "sql"
    if packaged.is_dir():
        return Path(str(packaged))
    checkout = Path(str(package)).parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "sql").is_dir():
        return checkout / "sql"
    raise ModelError(f"this kiai installation has no shipped models ({packaged} is missing): reinstall kiai")


def base_folder(config: Config | None = None, root: Path | None = None) -> ModelFolder:
    """`root`, else `$KIAI_SQL_DIR` or kiai.toml `[paths] sql_dir` (instead of the shipped models), else the shipped
    models."""
    configured = config.setting("KIAI_SQL_DIR", "paths", "sql_dir") if config else os.environ.get("KIAI_SQL_DIR")
    base = root or configured
    return ModelFolder("sql_dir", Path(base)) if base else ModelFolder(SHIPPED, shipped_sql_dir())


def model_folders(config: Config | None = None, root: Path | None = None) -> list[ModelFolder]:
    """The folders to read models from, lowest precedence first.

    The base (`base_folder`), then the project's folder, kiai.toml `[project] models` (relative to kiai.toml); with
    `[project] shipped_models = false` that folder alone.
    """
    folders = [base_folder(config, root)]
    project = config.section("project") if config else {}
    if not project:
        return folders
    assert config is not None and config.source_file is not None
    unknown = set(project) - {"models", "shipped_models"}
    if (
        unknown
        or not isinstance(project.get("models"), str)
        or not isinstance(project.get("shipped_models", True), bool)
    ):
        raise ModelError(f'{config.source_file}: [project] takes models = "FOLDER" and shipped_models = true|false')
    folder = ModelFolder(PROJECT, config.source_file.parent / project["models"])
    if not folder.path.is_dir():
        raise ModelError(f"{config.source_file}: the [project] models folder {folder.path} does not exist")
    return [*folders, folder] if project.get("shipped_models", True) else [folder]


def load_project(
    folders: list[ModelFolder] | Path, config: Config | None = None, overrides: dict[str, Any] | None = None
) -> Project:
    """Read every model of the folders (a later folder's model replaces an earlier one of the same name) and
    resolve vars: each folder's vars.toml < kiai.toml [vars] < `overrides`."""
    if isinstance(folders, Path):
        folders = [ModelFolder("sql_dir", folders)]
    models: dict[str, Model] = {}
    variables: dict[str, Any] = {}
    for folder in folders:
        if not folder.path.is_dir():
            raise ModelError(f"models folder {folder.path} does not exist (set KIAI_SQL_DIR or [paths] sql_dir)")
        found: dict[str, Model] = {}
        for path in sorted(folder.path.rglob("*.sql")):
            model = parse_model(folder, path)
            if model.name in found:
                raise ModelError(f"model name {model.name!r} is used twice: {found[model.name].path} and {path}")
            replaced = models.get(model.name)
            found[model.name] = replace(model, replaces=replaced) if replaced else model
        models.update(found)
        variables.update(_read_vars(folder.path / "vars.toml"))
    if config is not None:
        variables.update(config.section("vars"))
    _check_overrides(overrides or {}, variables, models)
    variables.update(overrides or {})
    return Project(folders=folders, models=models, vars=variables)


_VAR_CALL = re.compile(r"""\bvar\(\s*['"]([^'"]+)['"]""")


def _check_overrides(overrides: dict[str, Any], variables: dict[str, Any], models: dict[str, Model]) -> None:
    """A --var must name a var that is set somewhere or that a model reads: a typo is an error, not a build
    that silently does nothing."""
    known = set(variables)
    for model in models.values():
        known.update(_VAR_CALL.findall(model.body))
    unknown = sorted(set(overrides) - known)
    if unknown:
        names = ", ".join(sorted(known)) or "none"
        raise ModelError(f"unknown var {', '.join(map(repr, unknown))} (--var); known vars: {names}")


def parse_model(folder: ModelFolder | Path, path: Path) -> Model:
    folder = folder if isinstance(folder, ModelFolder) else ModelFolder("sql_dir", folder)
    relative = path.relative_to(folder.path)
    if len(relative.parts) < 2:
        raise ModelError(f"{path}: put models in a folder named after their schema (e.g. models/features/)")
    schema, name = relative.parts[0], path.stem
    for what, value in (("schema folder", schema), ("model name", name)):
        if not _IDENTIFIER.match(value):
            raise ModelError(f"{path}: {what} {value!r} must be lower-case letters, digits and _")
    if "__" in name:
        raise ModelError(f"{path}: model names may not contain '__' (it separates the version)")
    if schema in RESERVED_SCHEMAS:
        raise ModelError(f"{path}: schema {schema!r} is reserved for landed data or metadata")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path}: cannot read ({exc})") from None
    header: dict[str, Any] = {}
    match = _HEADER.match(text)
    if match:
        try:
            header = tomllib.loads(match.group("toml"))
        except tomllib.TOMLDecodeError as exc:
            raise ModelError(f"{path}: header is not valid TOML ({exc})") from None
        text = text[match.end() :]
    if not text.strip():
        raise ModelError(f"{path}: no SELECT after the header")
    return _model_from_header(folder, path, schema, name, text, header)


def _model_from_header(
    folder: ModelFolder, path: Path, schema: str, name: str, body: str, header: dict[str, Any]
) -> Model:
    unknown = set(header) - HEADER_KEYS
    if unknown:
        raise ModelError(f"{path}: unknown header key(s) {sorted(unknown)}; allowed: {sorted(HEADER_KEYS)}")
    materialized = header.get("materialized", DEFAULT)
    if materialized not in MATERIALIZATIONS:
        known = " or ".join(repr(name) for name in MATERIALIZATIONS)
        raise ModelError(f"{path}: materialized must be {known}, not {materialized!r}")
    columns = header.get("columns", {})
    if not isinstance(columns, dict):
        raise ModelError(f"{path}: [columns] must be a table of [columns.NAME] tables")
    counts = header.get("counts", {})
    if not isinstance(counts, dict) or not all(isinstance(v, str) for v in counts.values()):
        raise ModelError(f"{path}: [counts] maps a label to a scalar SQL query string")
    return Model(
        name=name,
        schema=schema,
        path=path,
        body=body,
        folder=folder,
        materialized=materialized,
        description=str(header.get("description", "")),
        columns=tuple(_column(path, col, spec) for col, spec in columns.items()),
        counts=tuple(counts.items()),
    )


def _column(path: Path, name: str, spec: Any) -> Column:
    if not isinstance(spec, dict) or set(spec) - COLUMN_KEYS:
        raise ModelError(f"{path}: [columns.{name}] takes only {sorted(COLUMN_KEYS)}")
    tests = spec.get("tests", [])
    if not isinstance(tests, list):
        raise ModelError(f"{path}: [columns.{name}] tests must be a list")
    return Column(name, str(spec.get("description", "")), tuple(_test(path, name, t) for t in tests))


def _test(path: Path, column: str, spec: Any) -> ColumnTest:
    args: dict[str, Any] | None
    if isinstance(spec, str):
        kind, args = spec, {}
    elif isinstance(spec, dict) and len(spec) == 1:
        kind, args = next(iter(spec.items()))
    else:
        kind, args = "?", None
    where = f"{path}: column {column}: test {spec!r}"
    if kind not in COLUMN_TESTS or not isinstance(args, dict):
        raise ModelError(f"{where} is not one of {sorted(COLUMN_TESTS)} (a name or {{name = {{...}}}})")
    if not COLUMN_TESTS[kind].valid(args):
        raise ModelError(f"{where} needs {COLUMN_TESTS[kind].needs}")
    return ColumnTest(kind, dict(args))


def _read_vars(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ModelError(f"{path}: not valid TOML ({exc})") from None


def parse_var_overrides(items: list[str]) -> dict[str, Any]:
    """`--var NAME=VALUE` pairs (VALUE read as TOML when it parses, else as a string)."""
    return parse_assignments(items, "--var")
