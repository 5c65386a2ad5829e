"""Look at and tidy the models: status of each, what changed against the current version, pruning."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

import duckdb

from kiai.transform import graph, store
from kiai.transform.materialization import MATERIALIZATIONS
from kiai.transform.plan import Graphs, Resolved, assign_fingerprints, reasons
from kiai.transform.project import Project
from kiai.warehouse import transaction


@dataclass
class Status:
    name: str
    relation: str
    materialized: str
    current: store.Version | None
    versions: int
    state: str  # up to date | never built | changed: ... | file removed
    origin: str = "-"  # kiai | project | project (replaces kiai) | sql_dir; "-" once the file is gone


def statuses(con: duckdb.DuckDBPyConnection, project: Project, graphs: Graphs) -> list[Status]:
    """Every model on disk or in the warehouse, compared with a full rebuild's fingerprints."""
    versions = store.versions(con)
    current = store.current(con, versions)
    counts: dict[str, int] = {}
    for version in versions:
        counts[version.model] = counts.get(version.model, 0) + 1
    assign_fingerprints(graphs, set(project.models), current)
    result = []
    for name in graphs.order:
        item, old = graphs.resolved[name], current.get(name)
        if old is None:
            state = "never built"
        elif old.fingerprint == item.fingerprint and old.tests_passed:
            state = "up to date"
        elif old.fingerprint == item.fingerprint:
            state = "tests failed"
        else:
            state = "changed: " + "; ".join(reasons(item, old))
        model = item.model
        result.append(Status(name, model.relation, model.materialized, old, counts.get(name, 0), state, model.origin))
    for name, old in sorted(current.items()):
        if name not in project.models:
            relation = old.relation.rsplit("__", 1)[0]
            result.append(Status(name, relation, old.materialized, old, counts[name], "file removed"))
    return result


@dataclass
class Diff:
    model: str
    old: store.Version | None
    new: Resolved
    reasons: list[str]
    sql_diff: list[str]
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    retyped: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def breaking(self) -> bool:
        return bool(self.removed or self.retyped)


def _pretty(sql: str) -> list[str]:
    import sqlglot  # slow to import: only when a diff is shown

    try:
        return sqlglot.transpile(sql, read="duckdb", write="duckdb", pretty=True, comments=False)[0].splitlines()
    except sqlglot.errors.SqlglotError:
        return sql.splitlines()


def diff(con: duckdb.DuckDBPyConnection, project: Project, graphs: Graphs, name: str) -> Diff:
    """The model on disk against its current version: reasons, SQL diff, and column changes."""
    project.get(name)
    current = store.current(con)
    assign_fingerprints(graphs, set(project.models), current)
    new, old = graphs.resolved[name], current.get(name)
    if old is not None and old.fingerprint == new.fingerprint:
        return Diff(name, old, new, [], [])
    before = _pretty(old.sql) if old else []
    sql_diff = list(difflib.unified_diff(before, _pretty(new.rendered.sql), "current", "on disk", lineterm="", n=2))
    result = Diff(name, old, new, reasons(new, old), sql_diff)
    if old is None:
        return result
    try:
        rows = con.execute(f"DESCRIBE {new.rendered.sql.strip().rstrip(';')}").fetchall()
    except duckdb.Error as exc:
        result.note = f"columns unknown until built ({str(exc).splitlines()[0]})"
        return result
    old_types = {col: kind for col, kind in old.columns}
    new_types = {row[0]: row[1] for row in rows}
    result.added = [c for c in new_types if c not in old_types]
    result.removed = [c for c in old_types if c not in new_types]
    result.retyped = [
        f"{c}: {old_types[c]} -> {new_types[c]}" for c in new_types if c in old_types and old_types[c] != new_types[c]
    ]
    return result


def prune(con: duckdb.DuckDBPyConnection, keep: int) -> list[store.Version]:
    """Drop all but the `keep` newest versions of each model; current versions, and versions that a kept
    view version reads, always stay."""
    versions = store.versions(con)  # newest first within each model
    kept: set[tuple[str, str]] = set()
    seen: dict[str, int] = {}
    for version in versions:
        seen[version.model] = seen.get(version.model, 0) + 1
        if version.current or seen[version.model] <= keep:
            kept.add((version.model, version.fingerprint))
    by_key = {(v.model, v.fingerprint): v for v in versions}
    todo = list(kept)
    while todo:
        reader = by_key.get(todo.pop())
        if reader is None or not MATERIALIZATIONS[reader.materialized].reads_upstream:
            continue
        for upstream in reader.upstream.items():
            if upstream not in kept:
                kept.add(upstream)
                todo.append(upstream)
    dropped = [v for v in versions if (v.model, v.fingerprint) not in kept]
    with transaction(con):
        for version in dropped:
            store.drop_version(con, version)
    return dropped


def neighbours(graphs: Graphs, name: str) -> tuple[list[str], list[str]]:
    """(upstream, downstream) model names of one model."""
    return sorted(graphs.deps[name]), sorted(graph.downstream(graphs.deps).get(name, []))
