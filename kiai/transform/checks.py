"""Run a model's column tests after it is built (the kinds: kiai.transform.column_tests) and keep what failed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb

from kiai.quoting import identifier
from kiai.transform.column_tests import COLUMN_TESTS
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
    """A query returning the rows that break the test (kiai.transform.column_tests)."""

    def resolve(name: str) -> str:
        return project.models[name].relation if name in project.models else name

    return COLUMN_TESTS[test.kind].failing_rows(relation, identifier(column), test.args, resolve)


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
    reads = (COLUMN_TESTS[test.kind].reads(test.args) for _, test in model.tests)
    return [name for name in reads if name in project.models]
