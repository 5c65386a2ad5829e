"""How a model version is stored in the warehouse: its materialisation (the header's `materialized`).

A table computes the version once, when it is built; a view computes it whenever it is read, and so reads the
exact upstream versions it was built on (pruning keeps those). Each strategy says how its relation is created
and dropped; a new one (incremental, say) is one more entry here, named in the model header.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb


@dataclass(frozen=True)
class Materialization:
    name: str  # as the model header and kiai.model_versions.materialized write it
    keyword: str  # the kind of DuckDB relation
    reads_upstream: bool  # reading the relation reads its upstream versions

    def create(self, con: duckdb.DuckDBPyConnection, relation: str, sql: str) -> None:
        con.execute(f"CREATE OR REPLACE {self.keyword} {relation} AS {sql}")

    def drop_sql(self, relation: str) -> str:
        return f"DROP {self.keyword} IF EXISTS {relation}"


TABLE = Materialization("table", "TABLE", reads_upstream=False)
VIEW = Materialization("view", "VIEW", reads_upstream=True)
MATERIALIZATIONS = {m.name: m for m in (TABLE, VIEW)}
DEFAULT = TABLE.name
