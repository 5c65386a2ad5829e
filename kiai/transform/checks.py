"""Column tests run after each model: not_null, unique, accepted_range, accepted_values, relationships."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb

from kiai.quoting import identifier, literal
from kiai.transform.project import ColumnTest, Model, Project

SAMPLE_ROWS = 5


@dataclass
class CheckResult:
    label: str
    failures: int
    columns: list[str] = field(default_factory=list)
    samples: list[tuple[Any, ...]] = field(default_factory=list)
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.failures == 0 and self.error is None


def failing_rows_sql(relation: str, column: str, test: ColumnTest, project: Project) -> str:
    """A query returning the rows that break the test (nulls pass every test but not_null)."""
    col = identifier(column)
    args = test.args
    if test.kind == "not_null":
        return f"SELECT * FROM {relation} WHERE {col} IS NULL"
    if test.kind == "unique":
        return (
            f"SELECT {col}, count(*) AS duplicates FROM {relation} WHERE {col} IS NOT NULL "
            f"GROUP BY {col} HAVING count(*) > 1"
        )
    if test.kind == "accepted_range":
        inclusive = args.get("inclusive", True)
        low, high = ("<", ">") if inclusive else ("<=", ">=")
        bounds = [f"{col} {low} {literal(args['min'])}"] if "min" in args else []
        bounds += [f"{col} {high} {literal(args['max'])}"] if "max" in args else []
        return f"SELECT * FROM {relation} WHERE {' OR '.join(bounds)}"
    if test.kind == "accepted_values":
        values = ", ".join(literal(v) for v in args["values"])
        return f"SELECT * FROM {relation} WHERE {col} IS NOT NULL AND {col} NOT IN ({values})"
    target = args["to"]
    target_relation = project.models[target].relation if target in project.models else target
    return (
        f"SELECT r.* FROM {relation} r ANTI JOIN {target_relation} t ON r.{col} = t.{identifier(args['field'])} "
        f"WHERE r.{col} IS NOT NULL"
    )


def run_tests(
    con: duckdb.DuckDBPyConnection, model: Model, relation: str, project: Project, output: set[str]
) -> list[CheckResult]:
    results = []
    for column, test in model.tests:
        label = test.label(column)
        if column.lower() not in output:
            results.append(CheckResult(label, 0, error=f"column {column!r} is not in the model's output"))
            continue
        query = failing_rows_sql(relation, column, test, project)
        try:
            (failures,) = con.execute(f"SELECT count(*) FROM ({query})").fetchall()[0]
            result = CheckResult(label, failures)
            if failures:
                cursor = con.execute(f"{query} LIMIT {SAMPLE_ROWS}")
                result.columns = [d[0] for d in cursor.description]
                result.samples = cursor.fetchall()
        except duckdb.Error as exc:
            result = CheckResult(label, 0, error=str(exc).splitlines()[0])
        results.append(result)
    return results


def check_dependencies(model: Model, project: Project) -> list[str]:
    """Models a relationships test reads: they must be built first."""
    return [
        test.args["to"] for _, test in model.tests if test.kind == "relationships" and test.args["to"] in project.models
    ]
