"""Fingerprint every model and decide what a build has to do, and why.

fingerprint = hash(canonical SQL, vars used, materialisation, upstream fingerprints, data watermarks)

The data watermark of a raw/parsed/ppy table is `count(*)` and `sum(hash(row))` over the whole row: any
insert, delete or in-place update changes it, checkpoints and vacuuming do not. It is computed once per
table per build. The big per-object tables of `parsed` are content-addressed: their rows for a file are a
function of its bytes (the md5) and the parser version, which parsed.beatmap_files holds for every file
beside its file_id (the loader replaces all of a file's rows, never updates them in place). Their watermark
is `count(*)` and `sum(hash(file_id))` plus the whole-row watermark of parsed.beatmap_files: a few ns a row
instead of ~45 ns (10 M hit objects: 0.45 s for whole rows), which is what keeps a no-op build under a second.
parsed.replay_frames is keyed the same way by replay_id, with parsed.replays (md5, parser version) as its index.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import duckdb

from kiai import schema
from kiai.errors import KiaiError
from kiai.transform import graph, store
from kiai.transform.checks import check_dependencies
from kiai.transform.project import Model, Project
from kiai.transform.render import Analysis, Rendered, analyse, cache_key, digest, render
from kiai.transform.store import FINGERPRINT_CHARS, Version, code_fingerprint


@dataclass
class Resolved:
    """A model rendered and fingerprinted against the warehouse as it is now."""

    model: Model
    rendered: Rendered
    analysis: Analysis
    sql_hash: str
    tests_hash: str
    upstream: dict[str, str] = field(default_factory=dict)
    watermarks: dict[str, str] = field(default_factory=dict)
    fingerprint: str = ""
    code_fingerprint: str = ""  # the same without data watermarks: the feature version


class Action(StrEnum):
    """What a build does with a model (kiai.model_builds.action)."""

    BUILD = "build"  # materialise a new version
    REUSE = "reuse"  # point the stable name at a stored version that passed these tests
    RETEST = "retest"  # the current version again, with changed (or failed) tests
    UP_TO_DATE = "up_to_date"  # nothing


@dataclass
class PlanItem:
    model: str
    relation: str
    fingerprint: str
    action: Action
    reasons: list[str]


@dataclass
class Graphs:
    order: list[str]
    deps: graph.Graph  # ref() edges
    resolved: dict[str, Resolved]
    sql_cache: dict[str, dict[str, Any]] = field(default_factory=dict)  # parse results of these models' SQL
    sql_cache_changed: bool = False  # differs from the stored cache: save it when writing


class MissingSourceError(KiaiError):
    """A model reads a raw/parsed/ppy table that the warehouse does not have (yet)."""


# content-addressed table -> (its key column, the table that maps each key to its md5 and parser version)
CONTENT_ADDRESSED = {
    **{table: ("file_id", schema.FILES) for table in schema.PER_FILE},
    **{table: ("replay_id", schema.REPLAYS) for table in schema.PER_REPLAY},
}


def watermark(con: duckdb.DuckDBPyConnection, relation: str, model: Model, marks: dict[str, str]) -> str:
    """The relation's data watermark, computed once per build: `marks` caches them by relation."""
    try:
        return table_watermark(con, relation, marks)
    except duckdb.CatalogException:
        raise MissingSourceError(f"{model.path}: reads {relation}, which does not exist in the warehouse") from None


def table_watermark(con: duckdb.DuckDBPyConnection, relation: str, marks: dict[str, str]) -> str:
    """`watermark` of any relation (also the lake export's): a missing one raises duckdb.CatalogException."""
    if relation in marks:
        return marks[relation]
    key, index = CONTENT_ADDRESSED.get(relation, ("t", None))
    count, total = con.execute(f"SELECT count(*), coalesce(sum(hash({key})), 0) FROM {relation} t").fetchall()[0]
    mark = f"{count}:{total}"
    if index is not None:
        mark += f"|{table_watermark(con, index, marks)}"
    marks[relation] = mark
    return mark


def analyse_project(con: duckdb.DuckDBPyConnection, project: Project) -> Graphs:
    """Render and check every model, order them, and compute the fingerprints of a full rebuild."""
    resolved: dict[str, Resolved] = {}
    deps: graph.Graph = {}
    edges: graph.Graph = {}
    stored = store.load_sql_cache(con)
    cache = dict(stored)  # analyse() adds what it had to parse
    for name, model in project.models.items():
        rendered = render(model, project)
        analysis = analyse(model, project, rendered, cache)
        resolved[name] = Resolved(
            model=model,
            rendered=rendered,
            analysis=analysis,
            sql_hash=digest(analysis.canonical),
            tests_hash=digest([(c, t.kind, t.args) for c, t in model.tests]),
        )
        deps[name] = list(rendered.refs)
        edges[name] = sorted(set(rendered.refs) | set(check_dependencies(model, project)) - {name})
    order = graph.order(project, edges)
    marks: dict[str, str] = {}
    for name in order:
        item = resolved[name]
        item.watermarks = {relation: watermark(con, relation, item.model, marks) for relation in item.analysis.sources}
    used = {key: cache[key] for key in (cache_key(item.rendered.sql) for item in resolved.values())}
    return Graphs(order=order, deps=deps, resolved=resolved, sql_cache=used, sql_cache_changed=used != stored)


def fingerprint(item: Resolved, upstream: dict[str, str]) -> str:
    item.upstream = upstream
    return digest(
        item.sql_hash,
        item.rendered.vars,
        item.model.materialized,
        item.upstream,
        item.watermarks,
    )[:FINGERPRINT_CHARS]


def assign_fingerprints(graphs: Graphs, selected: set[str], current: dict[str, Version]) -> None:
    """Selected models get new fingerprints; the others keep the version their stable name points at."""
    effective: dict[str, str] = {}
    effective_code: dict[str, str] = {}
    for name in graphs.order:
        item = graphs.resolved[name]
        upstream = {}
        missing = [up for up in graphs.deps[name] if up not in effective]
        if missing and name not in selected:
            continue  # neither built nor asked for: nothing to fingerprint
        for up in graphs.deps[name]:
            if up not in effective:
                raise KiaiError(
                    f"{item.model.path}: upstream model {up!r} has never been built; "
                    f"select it too (e.g. --select +{name})"
                )
            upstream[up] = effective[up]
        item.fingerprint = fingerprint(item, upstream)
        item.code_fingerprint = code_fingerprint(
            item.sql_hash,
            item.rendered.vars,
            item.model.materialized,
            {up: effective_code.get(up, "") for up in graphs.deps[name]},
            item.analysis.sources,
        )
        if name in selected:
            effective[name], effective_code[name] = item.fingerprint, item.code_fingerprint
        elif name in current:
            effective[name] = current[name].fingerprint
            effective_code[name] = current[name].code_fingerprint or ""


def reasons(item: Resolved, old: Version | None) -> list[str]:
    """Why the model's fingerprint differs from its current version."""
    if old is None:
        return ["new model"]
    why = []
    if old.sql_hash != item.sql_hash:
        why.append("SQL changed")
    if old.materialized != item.model.materialized:
        why.append(f"materialized {old.materialized} -> {item.model.materialized}")
    for name in sorted(set(old.vars) | set(item.rendered.vars)):
        before, after = old.vars.get(name, "unset"), item.rendered.vars.get(name, "unset")
        if before != after:
            why.append(f"var {name}: {before!r} -> {after!r}")
    for name in sorted(set(old.upstream) | set(item.upstream)):
        if old.upstream.get(name) != item.upstream.get(name):
            why.append(f"upstream {name} changed")
    for relation in sorted(set(old.watermarks) & set(item.watermarks)):
        if old.watermarks[relation] != item.watermarks[relation]:
            why.append(f"data changed in {relation}")
    return why or ["fingerprint changed"]


def plan(
    graphs: Graphs,
    selected: set[str],
    current: dict[str, Version],
    stored: dict[tuple[str, str], Version],
    full_refresh: bool,
) -> list[PlanItem]:
    items = []
    for name in graphs.order:
        if name not in selected:
            continue
        item = graphs.resolved[name]
        old = current.get(name)
        same = stored.get((name, item.fingerprint))
        action, why = Action.BUILD, reasons(item, old) if not (old and old.fingerprint == item.fingerprint) else []
        if full_refresh:
            why = ["--full-refresh", *why]
        elif old and old.fingerprint == item.fingerprint:
            if old.tests_hash == item.tests_hash and old.tests_passed:
                action = Action.UP_TO_DATE
            else:
                action, why = (
                    Action.RETEST,
                    ["tests changed" if old.tests_hash != item.tests_hash else "tests failed"],
                )
        elif same is not None and same.tests_passed and same.tests_hash == item.tests_hash:
            action, why = Action.REUSE, [*why, f"version {item.fingerprint} from {same.created_at:%Y-%m-%d %H:%M}"]
        if item.model.replaces and action != Action.UP_TO_DATE:
            why = [f"{item.model.folder.label} model replaces {item.model.replaces.folder.label}'s", *why]
        items.append(PlanItem(name, item.model.relation, item.fingerprint, action, why))
    return items


def describe_vars(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in sorted(values.items()))
