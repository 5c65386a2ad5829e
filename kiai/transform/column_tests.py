"""The kinds of column test a model's header may declare (`tests = ["not_null", {accepted_range = {...}}]`).

A kind is defined in one place: its name, what it checks (the docs), what its arguments must be, and the SQL of
the rows that break it. The model reader validates against this registry, the runner runs its SQL; a new kind
is one more entry. Nulls pass every test but not_null, as in dbt.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kiai.quoting import identifier, literal

Resolve = Callable[[str], str]  # a model name to the relation it is read from (other names stay as they are)


@dataclass(frozen=True)
class TestKind:
    name: str
    doc: str
    failing_rows: Callable[[str, str, dict[str, Any], Resolve], str]  # (relation, quoted column, args, resolve)
    needs: str = ""  # what the arguments must be, as the error says it
    valid: Callable[[dict[str, Any]], bool] = lambda args: True
    reads: Callable[[dict[str, Any]], str | None] = lambda args: None  # a model that must be built first

    __test__ = False  # not a pytest class, for all its name


def _not_null(relation: str, col: str, args: dict[str, Any], resolve: Resolve) -> str:
    return f"SELECT * FROM {relation} WHERE {col} IS NULL"


def _unique(relation: str, col: str, args: dict[str, Any], resolve: Resolve) -> str:
    return (
        f"SELECT {col}, count(*) AS duplicates FROM {relation} WHERE {col} IS NOT NULL "
        f"GROUP BY {col} HAVING count(*) > 1"
    )


def _accepted_range(relation: str, col: str, args: dict[str, Any], resolve: Resolve) -> str:
    low, high = ("<", ">") if args.get("inclusive", True) else ("<=", ">=")
    bounds = [f"{col} {low} {literal(args['min'])}"] if "min" in args else []
    bounds += [f"{col} {high} {literal(args['max'])}"] if "max" in args else []
    return f"SELECT * FROM {relation} WHERE {' OR '.join(bounds)}"


def _accepted_values(relation: str, col: str, args: dict[str, Any], resolve: Resolve) -> str:
    values = ", ".join(literal(v) for v in args["values"])
    return f"SELECT * FROM {relation} WHERE {col} IS NOT NULL AND {col} NOT IN ({values})"


def _relationships(relation: str, col: str, args: dict[str, Any], resolve: Resolve) -> str:
    return (
        f"SELECT r.* FROM {relation} r ANTI JOIN {resolve(args['to'])} t ON r.{col} = t.{identifier(args['field'])} "
        f"WHERE r.{col} IS NOT NULL"
    )


KINDS = (
    TestKind("not_null", "no NULL in the column", _not_null),
    TestKind("unique", "no value twice", _unique),
    TestKind(
        "accepted_range",
        "every value within min and/or max (inclusive = false: strictly)",
        _accepted_range,
        needs="min and/or max",
        valid=lambda args: bool({"min", "max"} & set(args)),
    ),
    TestKind(
        "accepted_values",
        "every value one of the list",
        _accepted_values,
        needs="values = [...]",
        valid=lambda args: isinstance(args.get("values"), list),
    ),
    TestKind(
        "relationships",
        "every value found in the column `field` of the model (or table) `to`",
        _relationships,
        needs='to = "model" and field = "column"',
        valid=lambda args: isinstance(args.get("to"), str) and isinstance(args.get("field"), str),
        reads=lambda args: args["to"],
    ),
)
COLUMN_TESTS = {kind.name: kind for kind in KINDS}
