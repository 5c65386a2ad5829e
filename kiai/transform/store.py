"""The runner's metadata in schema `kiai`: model versions, current versions, the build log."""

from __future__ import annotations

import ast
import functools
import importlib.util
import json
import sys
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from kiai import schema
from kiai.quoting import identifier
from kiai.transform.materialization import MATERIALIZATIONS
from kiai.transform.render import digest
from kiai.warehouse import table_exists, utc_now

FINGERPRINT_CHARS = 12

_JSON_FIELDS = ("vars", "upstream", "watermarks", "columns")


@dataclass
class Version:
    model: str
    fingerprint: str
    relation: str
    materialized: str
    path: str | None
    sql: str
    sql_hash: str
    vars: dict[str, Any]
    upstream: dict[str, str]
    watermarks: dict[str, str]
    columns: list[list[str]]  # [name, type]
    tests_hash: str
    tests_passed: bool | None
    rows: int | None
    created_at: datetime
    code_fingerprint: str | None = None
    current: bool = False


_METADATA_SCHEMA: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, str] = weakref.WeakKeyDictionary()


def _sql(con: duckdb.DuckDBPyConnection, text: str) -> str:
    """Qualify the metadata tables with the catalog: a warehouse file named kiai.duckdb makes `kiai.x`
    ambiguous between catalog and schema. Looked up once per connection (a build writes ~150 statements)."""
    if con not in _METADATA_SCHEMA:
        (catalog,) = con.execute("SELECT current_database()").fetchall()[0]
        _METADATA_SCHEMA[con] = identifier(catalog) + ".kiai"
    return text.replace("{K}", _METADATA_SCHEMA[con])


def execute(con: duckdb.DuckDBPyConnection, text: str, params: Any = None) -> duckdb.DuckDBPyConnection:
    """Run SQL on the metadata tables, written as `{K}.table` (the catalog-qualified `kiai` schema)."""
    return con.execute(_sql(con, text), params)


def code_fingerprint(
    sql_hash: str,
    variables: dict[str, Any],
    materialized: str,
    upstream: dict[str, str],
    sources: Iterable[str] = (),
) -> str:
    """The feature version: canonical SQL, vars, materialisation and upstream code fingerprints; no data.
    A model reading parsed.* (`sources`) also hashes kiai.osu's PARSER_VERSION (and one reading the replay
    tables its REPLAY_PARSER_VERSION): a new parser computes other values from the same file."""
    parts: list[Any] = ["code", sql_hash, variables, materialized, upstream]
    sources = list(sources)
    if any(source.startswith("parsed.") for source in sources):
        parts.append({"parser_version": parser_version()})
    if any(source.startswith("parsed.replay") for source in sources):
        parts.append({"replay_parser_version": parser_version(REPLAY_PARSER)})
    return digest(*parts)[:FINGERPRINT_CHARS]


OSU_PARSER = ("kiai.osu.parser", "PARSER_VERSION")
REPLAY_PARSER = ("kiai.osu.replay", "REPLAY_PARSER_VERSION")


def parser_version(parser: tuple[str, str] = OSU_PARSER) -> int:
    """kiai.osu's PARSER_VERSION (or another parser's version constant). Read from its source when the parser
    is not loaded: importing it pulls in NumPy, which a no-op `kiai build-features` must not pay for."""
    module, name = parser
    loaded = sys.modules.get(module)
    if loaded is not None:
        return int(getattr(loaded, name))
    return _parser_version_from_source(module, name)


@functools.cache
def _parser_version_from_source(module: str = OSU_PARSER[0], name: str = OSU_PARSER[1]) -> int:
    package, _, file = module.rpartition(".")
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.submodule_search_locations
    source = Path(next(iter(spec.submodule_search_locations))) / f"{file}.py"
    for node in ast.parse(source.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return int(ast.literal_eval(node.value))
    raise RuntimeError(f"no {name} in {source}")


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the metadata tables that do not exist yet (kiai/schema/models.sql)."""
    execute(con, schema.ddl("models"))


def fill_code_fingerprints(con: duckdb.DuckDBPyConnection) -> int:
    """Store every version's code fingerprint, deriving those stored without one as `versions` does; how many
    versions have one. Schema version 3 runs it once, when it adds the column (kiai.schema.migrations)."""
    filled = [version for version in versions(con) if version.code_fingerprint]
    for version in filled:
        execute(
            con,
            "UPDATE {K}.model_versions SET code_fingerprint = ? WHERE model = ? AND fingerprint = ?",
            [version.code_fingerprint, version.model, version.fingerprint],
        )
    return len(filled)


def _fill_code_fingerprints(result: list[Version]) -> None:
    """Versions stored before code fingerprints existed: derive them from the stored SQL hash, vars and
    upstream versions (left None when an upstream version was pruned)."""
    by_key = {(v.model, v.fingerprint): v for v in result}

    def code(version: Version, seen: frozenset[tuple[str, str]]) -> str | None:
        if version.code_fingerprint:
            return version.code_fingerprint
        upstream: dict[str, str] = {}
        for name, fp in version.upstream.items():
            up = by_key.get((name, fp))
            upstream_code = None if up is None or (name, fp) in seen else code(up, seen | {(name, fp)})
            if upstream_code is None:
                return None
            upstream[name] = upstream_code
        version.code_fingerprint = code_fingerprint(
            version.sql_hash, version.vars, version.materialized, upstream, version.watermarks
        )
        return version.code_fingerprint

    for version in result:
        code(version, frozenset({(version.model, version.fingerprint)}))


def has_tables(con: duckdb.DuckDBPyConnection) -> bool:
    return table_exists(con, "kiai", "model_versions")


def versions(con: duckdb.DuckDBPyConnection, model: str | None = None) -> list[Version]:
    """Stored versions, newest first; `current` marks the one the stable name points at."""
    if not has_tables(con):
        return []
    rows = execute(
        con,
        """
        SELECT v.model, v.fingerprint, v.relation, v.materialized, v.path, v.sql, v.sql_hash, v.vars,
               v.upstream, v.watermarks, v.columns, v.tests_hash, v.tests_passed, v.rows, v.created_at,
               v.code_fingerprint, c.fingerprint IS NOT NULL
        FROM {K}.model_versions v
        LEFT JOIN {K}.model_current c USING (model, fingerprint)
        WHERE $model IS NULL OR v.model = $model
        ORDER BY v.model, v.created_at DESC
        """,
        {"model": model},
    ).fetchall()
    result = []
    for row in rows:
        values = dict(zip(Version.__dataclass_fields__, row, strict=True))
        for name in _JSON_FIELDS:
            values[name] = json.loads(values[name] or "null") or ({} if name != "columns" else [])
        result.append(Version(**values))
    _fill_code_fingerprints(result)
    return result


def current(con: duckdb.DuckDBPyConnection, stored: list[Version] | None = None) -> dict[str, Version]:
    """The current version of each model, from `stored` when the caller has already read `versions(con)`."""
    return {v.model: v for v in (versions(con) if stored is None else stored) if v.current}


def current_fingerprints(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Model name -> fingerprint of the version its stable name points at."""
    if not has_tables(con):
        return {}
    return dict(execute(con, "SELECT model, fingerprint FROM {K}.model_current ORDER BY model").fetchall())


def load_sql_cache(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    """The stored parse results of the models' SQL (empty on a warehouse that has none yet)."""
    if not table_exists(con, "kiai", "sql_cache"):
        return {}
    return {key: json.loads(parsed) for key, parsed in execute(con, "SELECT key, parsed FROM {K}.sql_cache").fetchall()}


def save_sql_cache(con: duckdb.DuckDBPyConnection, entries: dict[str, dict[str, Any]]) -> None:
    """Keep the parse results of the current models only."""
    execute(con, "DELETE FROM {K}.sql_cache")
    if entries:
        execute(
            con,
            "INSERT INTO {K}.sql_cache SELECT * FROM (VALUES " + ", ".join(["(?, ?)"] * len(entries)) + ")",
            [v for key, parsed in entries.items() for v in (key, json.dumps(parsed))],
        )


def current_code_fingerprints(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Model name -> code fingerprint (feature version) of its current version: equal in two warehouses built
    from the same SQL and vars, whatever their data."""
    return {name: v.code_fingerprint for name, v in sorted(current(con).items()) if v.code_fingerprint}


def save_version(con: duckdb.DuckDBPyConnection, version: Version) -> None:
    execute(
        con,
        "DELETE FROM {K}.model_versions WHERE model = ? AND fingerprint = ?",
        [version.model, version.fingerprint],
    )
    values = [
        json.dumps(getattr(version, name), sort_keys=True, default=str)
        if name in _JSON_FIELDS
        else getattr(version, name)
        for name in Version.__dataclass_fields__
        if name != "current"
    ]
    execute(con, "INSERT INTO {K}.model_versions VALUES " + f" ({', '.join('?' * len(values))})", values)


def set_tests(con: duckdb.DuckDBPyConnection, model: str, fingerprint: str, tests_hash: str, ok: bool) -> None:
    execute(
        con,
        "UPDATE {K}.model_versions SET tests_hash = ?, tests_passed = ? WHERE model = ? AND fingerprint = ?",
        [tests_hash, ok, model, fingerprint],
    )


def set_current(con: duckdb.DuckDBPyConnection, model: str, fingerprint: str) -> None:
    execute(con, "DELETE FROM {K}.model_current WHERE model = ?", [model])
    execute(con, "INSERT INTO {K}.model_current VALUES (?, ?, ?)", [model, fingerprint, utc_now()])


def drop_version(con: duckdb.DuckDBPyConnection, version: Version) -> None:
    execute(con, MATERIALIZATIONS[version.materialized].drop_sql(version.relation))
    execute(
        con,
        "DELETE FROM {K}.model_versions WHERE model = ? AND fingerprint = ?",
        [version.model, version.fingerprint],
    )


def log_build(con: duckdb.DuckDBPyConnection, **row: Any) -> None:
    counts = row.get("counts")
    execute(
        con,
        "INSERT INTO {K}.model_builds VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            row["run_id"],
            row["model"],
            row.get("fingerprint"),
            row["action"],
            row["started_at"],
            row["finished_at"],
            row.get("rows"),
            row["status"],
            row.get("message"),
            json.dumps(counts) if counts else None,
        ],
    )


def log_tests(con: duckdb.DuckDBPyConnection, model: str, fingerprint: str, results: list[tuple[str, int]]) -> None:
    """One INSERT for all of a model's test results."""
    if not results:
        return
    now = utc_now()
    execute(
        con,
        "INSERT INTO {K}.model_test_results VALUES " + ", ".join(["(?, ?, ?, ?, ?)"] * len(results)),
        [v for label, failures in results for v in (model, fingerprint, label, failures, now)],
    )
