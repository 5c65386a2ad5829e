"""Build the models: plan, then materialise each new version in dependency order, test it, log it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import duckdb

from kiai.config import Config
from kiai.errors import KiaiError
from kiai.transform import graph, store
from kiai.transform.checks import CheckResult, run_tests
from kiai.transform.plan import (
    Action,
    Graphs,
    MissingSourceError,
    PlanItem,
    Resolved,
    analyse_project,
    assign_fingerprints,
    plan,
    reasons,
)
from kiai.transform.project import PROJECT, Model, Project, load_project, model_folders
from kiai.transform.render import render
from kiai.warehouse import table_exists, transaction, utc_now


class Status(StrEnum):
    """How a model's build ended (kiai.model_builds.status)."""

    BUILT = "built"
    REUSED = "reused"
    RETESTED = "retested"
    TESTS_FAILED = "tests_failed"  # built, but the stable name still points at the previous version
    ERROR = "error"
    SKIPPED = "skipped"  # an upstream model failed

    @property
    def ok(self) -> bool:
        return self in (Status.BUILT, Status.REUSED, Status.RETESTED)


DONE = {Action.BUILD: Status.BUILT, Action.REUSE: Status.REUSED, Action.RETEST: Status.RETESTED}


@dataclass
class ModelResult:
    model: str
    fingerprint: str
    action: Action
    status: Status
    rows: int | None = None
    seconds: float = 0.0
    message: str = ""
    tests: list[CheckResult] = field(default_factory=list)
    counts: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status.ok


@dataclass
class BuildReport:
    run_id: str
    plan: list[PlanItem]
    results: list[ModelResult] = field(default_factory=list)
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)  # e.g. a selected model built on a stale upstream
    sources: str = ""  # where the models come from (Project.describe), when a project adds its own

    @property
    def todo(self) -> list[PlanItem]:
        return [item for item in self.plan if item.action != Action.UP_TO_DATE]

    @property
    def ok(self) -> bool:
        return all(result.ok for result in self.results)

    @property
    def failed(self) -> list[ModelResult]:
        return [result for result in self.results if not result.ok]


Listener = Callable[[str, Any], None]  # ("plan", BuildReport) | ("start", PlanItem) | ("done", ModelResult)


def prepare(
    con: duckdb.DuckDBPyConnection,
    root: Path | None = None,
    config: Config | None = None,
    variables: dict[str, Any] | None = None,
) -> tuple[Project, Graphs]:
    """Load the models (`root`, else the shipped ones, plus the project's) and render, check and order them against
    this warehouse."""
    project = load_project(model_folders(config, root), config, variables)
    return project, analyse_project(con, project)


def build(
    con: duckdb.DuckDBPyConnection,
    root: Path | None = None,
    *,
    config: Config | None = None,
    variables: dict[str, Any] | None = None,
    select: Iterable[str] | None = None,
    full_refresh: bool = False,
    listener: Listener | None = None,
) -> BuildReport:
    """Build what changed among the selected models (all by default) and return what happened.

    Test failures and SQL errors are reported in the result (`report.ok`), not raised; the models
    downstream of a failure are skipped. Invalid model files raise `KiaiError`.
    """
    started = time.perf_counter()
    store.ensure_tables(con)
    try:
        project, graphs = prepare(con, root, config, variables)
    except MissingSourceError:
        # a new warehouse: create the landing tables (the loaders are imported only here, they are heavy)
        from kiai.load import ensure_tables as ensure_landing_tables

        ensure_landing_tables(con)
        project, graphs = prepare(con, root, config, variables)
    if graphs.sql_cache_changed:
        with transaction(con):
            store.save_sql_cache(con, graphs.sql_cache)
    selected = graph.select(project, graphs.deps, select) if select else set(project.models)
    versions = store.versions(con)
    current = store.current(con, versions)
    stored = {(v.model, v.fingerprint): v for v in versions}
    assign_fingerprints(graphs, selected, current)
    report = BuildReport(run_id=uuid.uuid4().hex[:12], plan=plan(graphs, selected, current, stored, full_refresh))
    report.warnings = stale_upstream_warnings(graphs, selected, current) + old_parser_warnings(con)
    report.sources = project.describe() if any(f.label == PROJECT for f in project.folders) else ""
    emit = listener or (lambda _event, _payload: None)
    emit("plan", report)
    failed: set[str] = set()
    for item in report.todo:
        emit("start", item)
        blocked = [up for up in graphs.deps[item.model] if up in failed]
        if blocked:
            result = ModelResult(item.model, item.fingerprint, item.action, Status.SKIPPED)
            result.message = f"upstream {', '.join(blocked)} failed"
        else:
            result = _run(con, project, graphs, item, stored.get((item.model, item.fingerprint)))
        if not result.ok:
            failed.add(item.model)
        _log(con, report.run_id, item, result)
        report.results.append(result)
        emit("done", result)
    report.seconds = time.perf_counter() - started
    return report


def old_parser_warnings(con: duckdb.DuckDBPyConnection) -> list[str]:
    """A warning when parsed.* holds rows of an older parser than the one the features are versioned with."""
    if not table_exists(con, "parsed", "beatmap_files"):
        return []
    ((count,),) = con.execute(
        "SELECT count(*) FROM parsed.beatmap_files WHERE parser_version < ?", [store.parser_version()]
    ).fetchall()
    if not count:
        return []
    return [f"{count:,} files were parsed by an older kiai parser; `kiai ingest reparse` parses them again"]


def stale_upstream_warnings(graphs: Graphs, selected: set[str], current: dict[str, store.Version]) -> list[str]:
    """Selected models that read, directly or not, an unselected model whose current version is out of date."""
    stale: dict[str, list[str]] = {}
    for name in graphs.order:
        if name in selected or name not in current:
            continue
        item: Resolved = graphs.resolved[name]
        if current[name].fingerprint != item.fingerprint:
            stale[name] = reasons(item, current[name])
        elif any(up in stale for up in graphs.deps[name]):
            stale[name] = []  # its own version is fine, but it reads a stale one
    warnings = []
    for name in graphs.order:
        if name not in selected:
            continue
        upstream = graph.upstream_closure(name, graphs.deps)
        behind = [up for up in graphs.order if up in stale and up in upstream]
        if behind:
            roots = [up for up in behind if stale[up]]
            why = "; ".join(f"{up} ({', '.join(stale[up])})" for up in roots)
            between = [up for up in behind if not stale[up]]
            via = f" and {', '.join(between)} downstream of it" if between else ""
            warnings.append(f"{name} is built on stale upstream {why}{via}; build them too: --select +{name}")
    return warnings


def _run(
    con: duckdb.DuckDBPyConnection,
    project: Project,
    graphs: Graphs,
    item: PlanItem,
    old: store.Version | None,
) -> ModelResult:
    resolved = graphs.resolved[item.model]
    model = resolved.model
    result = ModelResult(item.model, item.fingerprint, item.action, Status.BUILT)
    started = time.perf_counter()
    relation = model.version_relation(item.fingerprint)
    try:
        with transaction(con):
            if item.action == Action.BUILD:
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {model.schema}")
                sql = _executable_sql(model, project, graphs)
                model.materialization.create(con, relation, sql)
            columns = [[row[0], row[1]] for row in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
            (result.rows,) = con.execute(f"SELECT count(*) FROM {relation}").fetchall()[0]
            result.tests = run_tests(con, model, relation, project, {c[0].lower() for c in columns})
            passed = all(test.passed for test in result.tests)
            if item.action == Action.BUILD or old is None:
                store.save_version(con, _version(resolved, relation, columns, result.rows, passed))
            else:
                store.set_tests(con, model.name, item.fingerprint, resolved.tests_hash, passed)
            store.log_tests(con, model.name, item.fingerprint, [(t.label, t.failures) for t in result.tests])
            if passed:
                con.execute(f"CREATE OR REPLACE VIEW {model.relation} AS SELECT * FROM {relation}")
                store.set_current(con, model.name, item.fingerprint)
                result.counts = _counts(con, model, project, graphs)
                result.status = DONE[item.action]
            else:
                failing = [t for t in result.tests if not t.passed]
                result.status = Status.TESTS_FAILED
                result.message = "; ".join(
                    f"{t.label}: {t.error}" if t.error else f"{t.label}: {t.failures:,} failing rows" for t in failing
                )
    except (duckdb.Error, KiaiError) as exc:
        result.status = Status.ERROR
        result.message = f"{model.path}: {str(exc).splitlines()[0]}"
    result.seconds = time.perf_counter() - started
    return result


def _executable_sql(model: Model, project: Project, graphs: Graphs) -> str:
    """The model with each ref() pointing at the exact upstream version it was fingerprinted with."""
    upstream = graphs.resolved[model.name].upstream
    rendered = render(model, project, resolve=lambda up: up.version_relation(upstream[up.name]))
    return rendered.sql.strip().rstrip(";")


def _counts(con: duckdb.DuckDBPyConnection, model: Model, project: Project, graphs: Graphs) -> dict[str, Any]:
    """The header's [counts] queries (e.g. rows left out), recorded in the build log."""
    upstream = graphs.resolved[model.name].upstream
    this = model.version_relation(graphs.resolved[model.name].fingerprint)
    values = {}
    for label, query in model.counts:
        sql = render(model, project, lambda up: up.version_relation(upstream[up.name]), text=query, this=this).sql
        (values[label],) = con.execute(f"SELECT ({sql.strip().rstrip(';')})").fetchall()[0]
    return values


def _version(resolved: Any, relation: str, columns: list[list[str]], rows: int, passed: bool) -> store.Version:
    model: Model = resolved.model
    return store.Version(
        model=model.name,
        fingerprint=resolved.fingerprint,
        relation=relation,
        materialized=model.materialized,
        path=str(model.path),
        sql=resolved.rendered.sql.strip(),
        sql_hash=resolved.sql_hash,
        vars=resolved.rendered.vars,
        upstream=resolved.upstream,
        watermarks=resolved.watermarks,
        columns=columns,
        tests_hash=resolved.tests_hash,
        tests_passed=passed,
        rows=rows,
        created_at=utc_now(),
        code_fingerprint=resolved.code_fingerprint,
    )


def _log(con: duckdb.DuckDBPyConnection, run_id: str, item: PlanItem, result: ModelResult) -> None:
    finished = utc_now()
    store.log_build(
        con,
        run_id=run_id,
        model=item.model,
        fingerprint=item.fingerprint,
        action=item.action,
        started_at=finished - timedelta(seconds=result.seconds),
        finished_at=finished,
        rows=result.rows,
        status=result.status,
        message=result.message or None,
        counts=result.counts,
    )
