"""Render a model's Jinja (`ref()`, `var()`) and analyse the SQL with sqlglot.

A model is rendered twice: once with `ref()` giving the stable names (`features.x`), which is what the
fingerprint hashes and what users read; once with the exact upstream version tables, which is what runs.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jinja2

from kiai.catalog import ENDPOINTS, SOURCE_SCHEMAS
from kiai.quoting import literal
from kiai.transform.project import Model, ModelError, Project

_MISSING = object()


def identifier(value: Any) -> str:
    """A var value as a quoted column name: lower case, runs of other characters as `_` ("finger control")."""
    name = re.sub(r"[^a-z0-9]+", "_", str(value).lower()).strip("_")
    if not name:
        raise ModelError(f"{value!r} gives an empty column name")
    return f'"{name}"'


_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)
_ENV.filters["sql"] = literal  # for strings and lists from vars
_ENV.filters["identifier"] = identifier


def tag_regex(word: Any) -> str:
    """The `tag_regex` filter: an RE2 pattern for a whole tag, case left to the caller; a keyword of several
    words matches those tags in a row ("finger control"). Shared by every model that reads tags."""
    return r"(^|\s)" + r"\s+".join(re.escape(w) for w in str(word).split()) + r"(\s|$)"


_ENV.filters["tag_regex"] = tag_regex


@functools.lru_cache(maxsize=512)
def _template(text: str) -> jinja2.Template:
    """A model's body compiled once per process: a build renders each model two or three times."""
    return _ENV.from_string(text)


@dataclass
class Rendered:
    sql: str
    refs: list[str] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)


def render(
    model: Model,
    project: Project,
    resolve: Callable[[Model], str] | None = None,
    text: str | None = None,
    this: str | None = None,
) -> Rendered:
    """Render the model (or `text` in its context); `resolve` maps an upstream model to its relation and
    `{{ this }}` is the model's own relation (for [counts] queries run after the build)."""
    result = Rendered(sql="")

    def ref(name: str) -> str:
        if name not in project.models:
            raise ModelError(f"{model.path}: ref({name!r}) names no model")
        if name == model.name:
            raise ModelError(f"{model.path}: ref({name!r}) refers to the model itself")
        if name not in result.refs:
            result.refs.append(name)
        upstream = project.models[name]
        return resolve(upstream) if resolve else upstream.relation

    def var(name: str, default: Any = _MISSING) -> Any:
        if name in project.vars:
            value = project.vars[name]
        elif default is not _MISSING:
            value = default
        else:
            raise ModelError(f"{model.path}: var({name!r}) is not set in vars.toml, kiai.toml [vars] or --var")
        result.vars[name] = value
        return value

    def fail(message: str) -> str:
        raise ModelError(f"{model.path}: {message}")

    def is_endpoint(name: str, alias: str = "") -> str:
        if name not in ENDPOINTS:
            raise ModelError(f"{model.path}: is_endpoint({name!r}) names no endpoint; one of {', '.join(ENDPOINTS)}")
        return ENDPOINTS[name].where(alias)

    try:
        template = _template(model.body if text is None else text)
        result.sql = template.render(ref=ref, var=var, this=this or model.relation, fail=fail, is_endpoint=is_endpoint)
    except jinja2.TemplateError as exc:
        lineno = getattr(exc, "lineno", None)  # syntax errors carry one, undefined names not
        line = f" line {lineno}" if lineno else ""
        raise ModelError(f"{model.path}:{line} template error: {exc}") from None
    return result


@dataclass
class Analysis:
    canonical: str  # sqlglot-normalised SQL: formatting and comments do not count
    sources: list[str]  # raw/parsed/ppy tables read, as schema.table


def cache_key(sql: str) -> str:
    """The parse cache's key: the SQL text and the sqlglot version (read without importing sqlglot, which
    takes ~50 ms: a build whose models are all in the cache never imports it)."""
    global _SQLGLOT_VERSION
    if _SQLGLOT_VERSION is None:
        from importlib.metadata import version

        _SQLGLOT_VERSION = version("sqlglot")
    return digest("sqlglot", _SQLGLOT_VERSION, sql)[:32]


_SQLGLOT_VERSION: str | None = None


def parse_sql(sql: str) -> dict[str, Any]:
    """What the checks and the fingerprint need from sqlglot, as JSON (cached by `analyse`): the canonical
    SQL, the named tables read (schema, name), the CTE names, and whether it is exactly one query."""
    import sqlglot
    from sqlglot import exp

    statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        return {"statements": len(statements), "query": False}
    tree = statements[0]
    tables = [
        [table.db.lower(), table.name.lower()]
        for table in tree.find_all(exp.Table)
        if isinstance(table.this, exp.Identifier)  # not table functions: range(), read_parquet(), ...
    ]
    return {
        "statements": 1,
        "query": True,
        "canonical": tree.sql(dialect="duckdb", comments=False, normalize=True),
        "tables": tables,
        "ctes": sorted({cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}),
    }


def analyse(
    model: Model, project: Project, rendered: Rendered, cache: dict[str, dict[str, Any]] | None = None
) -> Analysis:
    """Check the rendered SQL is one query whose model tables all come through `ref()`.

    `cache` maps a hash of the rendered SQL to `parse_sql`'s answer: parsing is most of a no-op build."""
    key = cache_key(rendered.sql)
    parsed = cache.get(key) if cache is not None else None
    if parsed is None:
        from sqlglot.errors import ParseError

        try:
            parsed = parse_sql(rendered.sql)
        except ParseError as exc:
            first = str(exc).splitlines()[0]
            raise ModelError(f"{model.path}: SQL does not parse: {first}") from None
        if cache is not None:
            cache[key] = parsed
    if not parsed["query"]:
        raise ModelError(f"{model.path}: a model is exactly one SELECT (found {parsed['statements']} statements)")
    ctes = set(parsed["ctes"])
    schemas = {m.schema for m in project.models.values()}
    refs = {project.models[name].relation for name in rendered.refs}
    sources: set[str] = set()
    for schema, name in parsed["tables"]:
        if not schema:
            if name in ctes:
                continue
            hint = f"write {{{{ ref('{name}') }}}}" if name in project.models else "name its schema"
            raise ModelError(f"{model.path}: table {name!r} has no schema; {hint}")
        relation = f"{schema}.{name}"
        if schema in SOURCE_SCHEMAS:
            sources.add(relation)
        elif schema in schemas and relation not in refs:
            base = name.split("__")[0]
            if base in project.models:
                raise ModelError(f"{model.path}: reads {relation} directly; write {{{{ ref('{base}') }}}}")
            raise ModelError(f"{model.path}: reads {relation}, which is no model")
    return Analysis(canonical=parsed["canonical"], sources=sorted(sources))


def digest(*parts: Any) -> str:
    """A short stable hex hash of JSON-able parts."""
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
