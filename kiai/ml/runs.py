"""The run registry: `models/<run_id>/` folders and the `kiai.training_runs` table in the warehouse.

A run folder carries `unregistered.json` (its registry row and the warehouse it belongs to) until the row is
in that warehouse: a run that finished while another process held the warehouse is registered later, by the
next `kiai train` or `kiai compare`, instead of being lost.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from kiai.errors import KiaiError
from kiai.ml.files import read_json, write_json
from kiai.transform import store
from kiai.warehouse import table_exists, transaction

MANIFEST = "manifest.json"
METRICS = "metrics.json"
PREDICTIONS = "predictions.csv"
TEST_PREDICTIONS = "test_predictions.csv"
UNREGISTERED = "unregistered.json"

DDL = """
CREATE TABLE IF NOT EXISTS {K}.training_runs (
    run_id VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL, path VARCHAR NOT NULL,
    dataset_hash VARCHAR NOT NULL, dataset_rows BIGINT NOT NULL, n_features INTEGER NOT NULL,
    labels VARCHAR NOT NULL,          -- JSON list, in model output order
    feature_version VARCHAR,          -- code fingerprint of beatmap_features (NULL: unknown)
    dataset_version VARCHAR,          -- code fingerprint of dataset
    fingerprints VARCHAR,             -- JSON: current_fingerprints() at training time (with data watermarks)
    split_seed INTEGER NOT NULL, folds INTEGER NOT NULL, split_hash VARCHAR NOT NULL,
    params VARCHAR NOT NULL,          -- JSON
    metrics VARCHAR NOT NULL,         -- JSON: {metric: {mean, std}}
    {ADDED}
)
"""
# Columns added after the first release (schema version 4, kiai.schema.migrations adds them to an older table;
# runs registered before it have part_metrics NULL: compare reads their parts from metrics.json).
ADDED_COLUMNS = {
    "repeats": "INTEGER DEFAULT 1",  # seeds split_seed .. split_seed + repeats - 1, each split into `folds`
    "part_metrics": "VARCHAR",  # JSON: per test part {repeat, fold, seed, n, train_rows, valid_rows, metrics...}
}


@dataclass
class Run:
    """One training run: where it lives and what it measured (`metrics`: name -> {"mean", "std"})."""

    run_id: str
    kind: str
    created_at: datetime
    path: Path
    metrics: dict[str, Any]
    labels: list[str] = field(default_factory=list)
    dataset_hash: str = ""
    dataset_rows: int = 0
    n_features: int = 0
    feature_version: str | None = None
    dataset_version: str | None = None
    fingerprints: dict[str, str] = field(default_factory=dict)
    split_seed: int = 0
    folds: int = 1
    split_hash: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    repeats: int = 1
    part_metrics: list[dict[str, Any]] = field(default_factory=list)

    def manifest(self) -> dict[str, Any]:
        path = self.path / MANIFEST
        if not path.is_file():
            raise KiaiError(f"run {self.run_id}: {path} is missing (was models/ moved or pruned?)")
        return read_json(path)


def ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS kiai")
    added = ", ".join(f"{name} {definition}" for name, definition in ADDED_COLUMNS.items())
    store.execute(con, DDL.replace("{ADDED}", added))


def add_columns(con: duckdb.DuckDBPyConnection) -> str:
    """Schema version 4: the ADDED_COLUMNS in a registry created before them (a migration; see kiai.schema)."""
    if not has_table(con):
        return "no training runs registered"
    for name, definition in ADDED_COLUMNS.items():
        store.execute(con, f"ALTER TABLE {{K}}.training_runs ADD COLUMN IF NOT EXISTS {name} {definition}")
    ((count,),) = store.execute(con, "SELECT count(*) FROM {K}.training_runs").fetchall()
    return f"{', '.join(ADDED_COLUMNS)} added to kiai.training_runs ({count:,} runs kept)"


def has_table(con: duckdb.DuckDBPyConnection) -> bool:
    return table_exists(con, "kiai", "training_runs")


_COLUMNS = (
    "run_id", "kind", "created_at", "path", "dataset_hash", "dataset_rows", "n_features", "labels",
    "feature_version", "dataset_version", "fingerprints", "split_seed", "folds", "split_hash", "params", "metrics",
    *ADDED_COLUMNS,
)  # fmt: skip
_JSON = {"labels", "fingerprints", "params", "metrics", "part_metrics"}
_EMPTY_LISTS = {"labels", "part_metrics"}


def _row(run: Run) -> list[Any]:
    values = []
    for name in _COLUMNS:
        value = getattr(run, name)
        if name in _JSON:
            value = json.dumps(value, sort_keys=True)
        elif name == "path":
            value = str(value)
        elif name == "created_at":
            value = value.isoformat()
        values.append(value)
    return values


def register(con: duckdb.DuckDBPyConnection, run: Run) -> None:
    """Insert the run's row (and create the table if needed) in one transaction."""
    placeholders = ", ".join("?" for _ in _COLUMNS)
    with transaction(con):
        ensure_table(con)
        store.execute(
            con, f"INSERT INTO {{K}}.training_runs ({', '.join(_COLUMNS)}) VALUES ({placeholders})", _row(run)
        )
    (run.path / UNREGISTERED).unlink(missing_ok=True)


def warehouse_path(con: duckdb.DuckDBPyConnection) -> Path:
    """The file of the connection's current database (what `unregistered.json` names)."""
    (path,) = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchall()[0]
    return Path(path).resolve()


def mark_unregistered(folder: Path, run: Run, warehouse: Path) -> None:
    """Write `unregistered.json` into a run folder: the row to insert, and into which warehouse."""
    write_json(folder / UNREGISTERED, {"warehouse": str(warehouse), "row": dict(zip(_COLUMNS, _row(run), strict=True))})


def unregistered_runs(models_dir: Path, warehouse: Path) -> list[Run]:
    """Run folders under `models_dir` still waiting to be registered in `warehouse`, oldest first."""
    found = []
    for marker in sorted(Path(models_dir).glob(f"*/{UNREGISTERED}")):
        try:
            data = read_json(marker)
        except (OSError, ValueError):
            continue  # a folder being removed, or not ours
        if Path(data["warehouse"]).resolve() == Path(warehouse).resolve():
            found.append(_from_row({**data["row"], "path": str(marker.parent.resolve())}))
    return sorted(found, key=lambda run: (run.created_at, run.run_id))


def register_unregistered(con: duckdb.DuckDBPyConnection, models_dir: Path) -> list[Run]:
    """Register every run folder waiting for this warehouse (a run already in the registry only loses its
    marker); returns the runs registered now."""
    known = {run.run_id for run in list_runs(con)}
    registered = []
    for run in unregistered_runs(models_dir, warehouse_path(con)):
        if run.run_id in known:
            (run.path / UNREGISTERED).unlink(missing_ok=True)
            continue
        register(con, run)
        registered.append(run)
    return registered


def _from_row(values: dict[str, Any]) -> Run:
    """A Run from a registry row or an unregistered.json row (either may predate the ADDED_COLUMNS)."""
    values = {name: values.get(name) for name in _COLUMNS}
    for name in _JSON:
        value = values[name]
        values[name] = json.loads(value) if value else ([] if name in _EMPTY_LISTS else {})
    values["repeats"] = values["repeats"] or 1
    values["path"] = Path(values["path"])
    if isinstance(values["created_at"], str):
        values["created_at"] = datetime.fromisoformat(values["created_at"])
    return Run(**values)


def list_runs(con: duckdb.DuckDBPyConnection) -> list[Run]:
    """Every registered run, oldest first."""
    if not has_table(con):
        return []
    rows = store.execute(
        con, f"SELECT {', '.join(_COLUMNS)} FROM {{K}}.training_runs ORDER BY created_at, run_id"
    ).fetchall()
    return [_from_row(dict(zip(_COLUMNS, row, strict=True))) for row in rows]


def get_run(con: duckdb.DuckDBPyConnection, run_id: str | None = None) -> Run:
    """A run by id (a unique prefix is enough), or the latest one."""
    runs = list_runs(con)
    if not runs:
        raise KiaiError("no training runs yet: run `kiai train lightgbm` or `kiai train keras` first")
    if run_id is None:
        return runs[-1]
    matches = [run for run in runs if run.run_id == run_id] or [run for run in runs if run.run_id.startswith(run_id)]
    if len(matches) != 1:
        known = ", ".join(run.run_id for run in runs[-5:])
        what = "no run" if not matches else f"{len(matches)} runs match"
        raise KiaiError(f"{what} {run_id!r} (latest: {known})")
    return matches[0]
