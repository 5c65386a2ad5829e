"""Discover the models: `sql/**/*.sql` files with a TOML header, plus the vars they may use."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kiai
from kiai.config import Config, parse_assignments
from kiai.errors import KiaiError

SOURCE_SCHEMAS = ("raw", "parsed", "ppy")  # landed data: read by models, never written by them
RESERVED_SCHEMAS = (*SOURCE_SCHEMAS, "kiai", "main", "information_schema", "pg_catalog")
MATERIALIZATIONS = ("table", "view")
HEADER_KEYS = {"materialized", "description", "columns", "counts"}
COLUMN_KEYS = {"description", "tests"}
TEST_NAMES = {"not_null", "unique", "accepted_range", "accepted_values", "relationships"}
_HEADER = re.compile(r"\A\s*/\*\s*kiai\b(?P<toml>.*?)\*/", re.DOTALL)
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*\Z")


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
class Model:
    """One `.sql` file: its name is the file stem, its schema the top folder under the models dir."""

    name: str
    schema: str
    path: Path
    body: str  # the SQL after the header (a Jinja template)
    materialized: str = "table"
    description: str = ""
    columns: tuple[Column, ...] = ()
    counts: tuple[tuple[str, str], ...] = ()  # (label, scalar SQL) recorded in the build log

    @property
    def relation(self) -> str:
        return f"{self.schema}.{self.name}"

    def version_relation(self, fingerprint: str) -> str:
        return f"{self.schema}.{self.name}__{fingerprint}"

    @property
    def tests(self) -> list[tuple[str, ColumnTest]]:
        return [(column.name, test) for column in self.columns for test in column.tests]


@dataclass
class Project:
    root: Path
    models: dict[str, Model]
    vars: dict[str, Any]

    def get(self, name: str) -> Model:
        if name not in self.models:
            known = ", ".join(sorted(self.models)) or "none"
            raise ModelError(f"no model named {name!r} in {self.root} (models: {known})")
        return self.models[name]


def models_dir(config: Config | None = None) -> Path:
    """`$KIAI_SQL_DIR`, else kiai.toml `[paths] sql_dir`, else the `sql/` folder of the repository."""
    default = Path(kiai.__file__).resolve().parents[1] / "sql"
    if config is None:
        import os

        return Path(os.environ.get("KIAI_SQL_DIR") or default)
    return Path(config.setting("KIAI_SQL_DIR", "paths", "sql_dir", default))


def load_project(root: Path, config: Config | None = None, overrides: dict[str, Any] | None = None) -> Project:
    """Read every model under `root` and resolve vars: vars.toml < kiai.toml [vars] < `overrides`."""
    if not root.is_dir():
        raise ModelError(f"models folder {root} does not exist (set KIAI_SQL_DIR or [paths] sql_dir)")
    models: dict[str, Model] = {}
    for path in sorted(root.rglob("*.sql")):
        model = parse_model(root, path)
        if model.name in models:
            raise ModelError(f"model name {model.name!r} is used twice: {models[model.name].path} and {path}")
        models[model.name] = model
    variables = _read_vars(root / "vars.toml")
    if config is not None:
        variables.update(config.section("vars"))
    variables.update(overrides or {})
    return Project(root=root, models=models, vars=variables)


def parse_model(root: Path, path: Path) -> Model:
    relative = path.relative_to(root)
    if len(relative.parts) < 2:
        raise ModelError(f"{path}: put models in a folder named after their schema (e.g. sql/features/)")
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
    return _model_from_header(path, schema, name, text, header)


def _model_from_header(path: Path, schema: str, name: str, body: str, header: dict[str, Any]) -> Model:
    unknown = set(header) - HEADER_KEYS
    if unknown:
        raise ModelError(f"{path}: unknown header key(s) {sorted(unknown)}; allowed: {sorted(HEADER_KEYS)}")
    materialized = header.get("materialized", "table")
    if materialized not in MATERIALIZATIONS:
        raise ModelError(f"{path}: materialized must be 'table' or 'view', not {materialized!r}")
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
    if isinstance(spec, str):
        kind, args = spec, {}
    elif isinstance(spec, dict) and len(spec) == 1:
        kind, args = next(iter(spec.items()))
    else:
        kind, args = "?", None
    where = f"{path}: column {column}: test {spec!r}"
    if kind not in TEST_NAMES or not isinstance(args, dict):
        raise ModelError(f"{where} is not one of {sorted(TEST_NAMES)} (a name or {{name = {{...}}}})")
    if kind == "accepted_range" and not ({"min", "max"} & set(args)):
        raise ModelError(f"{where} needs min and/or max")
    if kind == "accepted_values" and not isinstance(args.get("values"), list):
        raise ModelError(f"{where} needs values = [...]")
    if kind == "relationships" and not (isinstance(args.get("to"), str) and isinstance(args.get("field"), str)):
        raise ModelError(f'{where} needs to = "model" and field = "column"')
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
