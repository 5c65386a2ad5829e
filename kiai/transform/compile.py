"""`kiai models compile --dialect spark`: the models as Spark SQL, to run on a cluster over the Parquet lake.

Each model is rendered (Jinja, vars) with `ref()` giving stable `<schema>.<model>` names, qualified by sqlglot
against the warehouse's columns (stars and `EXCLUDE` expanded, every column tied to its table), rewritten
where sqlglot's transpilation falls short (`kiai.transform.rewrites`) and written in build order as
`OUT/<NN>_<schema>.<model>.sql`. `OUT/manifest.json` lists every model: its file, or why it stays DuckDB-only
(Spark then reads its rows from the lake); `OUT/run_models.py` runs them with spark-submit.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

import kiai
from kiai.catalog import SOURCE_SCHEMAS
from kiai.errors import KiaiError
from kiai.files import atomic_write
from kiai.transform import graph, rewrites, store
from kiai.transform.checks import check_dependencies
from kiai.transform.project import Project
from kiai.transform.render import render

DIALECTS = ("spark",)
RUNNER = Path(__file__).with_name("spark_runner.py")
RUNNER_NAME = "run_models.py"
COMPILED_MANIFEST = "manifest.json"

Schema = dict[str, dict[str, dict[str, str]]]  # schema -> table -> column -> type


@dataclass
class CompiledModel:
    model: str
    relation: str  # schema.model
    position: int  # 1-based build order
    path: str  # the model file
    sql: str | None = None  # None: DuckDB-only, see `reason`
    reason: str | None = None
    reads: list[str] = field(default_factory=list)  # the relations it reads, sources and models

    @property
    def file_name(self) -> str:
        return f"{self.position:02d}_{self.relation}.sql"


def warehouse_schema(con: duckdb.DuckDBPyConnection) -> Schema:
    """The columns of the landed tables, and of each model's current version (used when sqlglot cannot
    derive a model's columns itself)."""
    schema: Schema = {}
    rows = con.execute(
        f"""SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns()
        WHERE database_name = current_database() AND schema_name IN ({", ".join("?" * len(SOURCE_SCHEMAS))})
        ORDER BY schema_name, table_name, column_index""",
        list(SOURCE_SCHEMAS),
    ).fetchall()
    for schema_name, table, column, kind in rows:
        schema.setdefault(schema_name, {}).setdefault(table, {})[column] = _type(kind)
    for version in store.current(con).values():
        model_schema = version.relation.split(".")[0]
        schema.setdefault(model_schema, {})[version.model] = {name: _type(kind) for name, kind in version.columns}
    return schema


def _type(kind: str) -> str:
    """A column type sqlglot can read: DuckDB's ENUM(...) and types it does not know become VARCHAR / UNKNOWN."""
    from sqlglot import exp
    from sqlglot.errors import ParseError

    if kind.startswith("ENUM("):
        return "VARCHAR"
    try:
        exp.DataType.build(kind, dialect="duckdb")
    except (ParseError, ValueError):
        return "UNKNOWN"
    return kind


def compile_models(project: Project, schema: Schema, dialect: str = "spark") -> list[CompiledModel]:
    """Every model of `project`, in build order, as `dialect` SQL or with the reason it stays DuckDB-only."""
    if dialect not in DIALECTS:
        raise KiaiError(f"unknown dialect {dialect!r}; kiai compiles to: {', '.join(DIALECTS)}")
    schema = {name: dict(tables) for name, tables in schema.items()}
    rendered = {name: render(model, project) for name, model in project.models.items()}
    edges = {
        name: sorted(set(r.refs) | set(check_dependencies(project.models[name], project)) - {name})
        for name, r in rendered.items()
    }
    results = []
    for position, name in enumerate(graph.order(project, edges), start=1):
        model = project.models[name]
        compiled = CompiledModel(name, model.relation, position, str(model.path))
        try:
            compiled.sql, compiled.reads, columns = to_spark(rendered[name].sql, schema)
        except NotPortable as exc:
            compiled.reason, compiled.reads, columns = str(exc), exc.reads, exc.columns
        if columns:
            schema.setdefault(model.schema, {})[model.name] = columns
        results.append(compiled)
    return results


class NotPortable(KiaiError):
    """A model that stays DuckDB-only: why, what it reads and (when sqlglot could tell) its columns."""

    def __init__(self, reason: str, reads: list[str] | None = None, columns: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.reads = reads or []
        self.columns = columns or {}


def to_spark(sql: str, schema: Schema) -> tuple[str, list[str], dict[str, str]]:
    """DuckDB SQL as Spark SQL, the relations it reads and its output columns; NotPortable says why not."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ErrorLevel, OptimizeError, SqlglotError
    from sqlglot.optimizer.qualify import qualify

    tree = sqlglot.parse_one(sql, read=rewrites.DuckDBAsWritten)
    # A CTE is referred to without a schema, so every qualified table is a read, even one named like a CTE.
    reads = sorted({f"{t.db}.{t.name}" for t in tree.find_all(exp.Table) if t.db})
    missing = [r for r in reads if r.split(".")[1] not in schema.get(r.split(".")[0], {})]
    if missing:
        raise NotPortable(f"reads {', '.join(missing)}, which this warehouse does not have (yet)", reads)
    try:
        tables: dict[str, object] = dict(schema)  # the parameter's type in sqlglot
        tree = qualify(tree, schema=tables, dialect=rewrites.DuckDBAsWritten, quote_identifiers=False)
    except OptimizeError as exc:
        raise NotPortable(f"sqlglot cannot resolve its columns: {str(exc).splitlines()[0]}", reads) from None
    if not isinstance(tree, exp.Query):  # a model is one SELECT (or WITH … SELECT)
        raise NotPortable("not a query", reads)
    columns = {name: "UNKNOWN" for name in tree.named_selects}
    reason = rewrites.not_portable(tree)
    if reason:
        raise NotPortable(reason, reads, columns)
    try:
        tree = rewrites.for_spark(tree)
        text = tree.sql(dialect="spark", pretty=True, unsupported_level=ErrorLevel.RAISE)
    except (ValueError, SqlglotError) as exc:
        raise NotPortable(f"no Spark form: {str(exc).splitlines()[0]}", reads, columns) from None
    return text, reads, columns


def write_compiled(models: list[CompiledModel], out: Path, dialect: str = "spark") -> list[Path]:
    """Write each portable model's SQL, the manifest and the runner into `out` (old compiled files removed)."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("[0-9][0-9]*_*.sql"):
        old.unlink()
    written = []
    for model in models:
        if model.sql is None:
            continue
        header = (
            f"-- {model.relation}: kiai {kiai.__version__} compiled {Path(model.path).name} for {dialect}\n"
            f"-- reads: {', '.join(model.reads) or '-'}\n"
        )
        written.append(atomic_write(out / model.file_name, header + model.sql + "\n"))
    manifest: dict[str, Any] = {
        "dialect": dialect,
        "kiai_version": kiai.__version__,
        "models": [
            {
                "model": m.relation,
                "file": m.file_name if m.sql is not None else None,
                "duckdb_only": m.reason,
                "reads": m.reads,
                "source": m.path,
            }
            for m in models
        ],
    }
    atomic_write(out / COMPILED_MANIFEST, json.dumps(manifest, indent=1) + "\n")
    shutil.copyfile(RUNNER, out / RUNNER_NAME)
    return written
