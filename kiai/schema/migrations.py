"""Schema versions of a warehouse and the migrations between them.

`kiai.schema_migrations` records each version a warehouse reached: created at it, or migrated to it.
A writing connection applies the pending migrations in order, each in one transaction (all of it or
nothing, also on Ctrl-C or kill -9), with a one-line notice; `kiai migrate` does the same with a
progress bar. A read-only connection refuses an older warehouse with one line saying to run
`kiai migrate`, and every connection refuses a newer one. A warehouse written before versions were
recorded is version 0 when it has landed or metadata tables (each migration checks what is there), else it is
new and gets the latest version.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kiai import schema
from kiai.catalog import METADATA_SCHEMA, SOURCE_SCHEMAS
from kiai.warehouse import WarehouseError, column_names, table_exists, transaction

if TYPE_CHECKING:
    import duckdb

    from kiai.load.osu_files import IngestSummary, ProgressCallback

VERSIONS = "kiai.schema_migrations"
VERSIONS_DDL = f"""
CREATE TABLE IF NOT EXISTS {VERSIONS} (
    version      INTEGER NOT NULL,    -- the schema version reached
    name         VARCHAR NOT NULL,
    how          VARCHAR NOT NULL,    -- created (a new warehouse) | migrated
    kiai_version VARCHAR NOT NULL,
    seconds      DOUBLE NOT NULL,
    detail       VARCHAR,
    applied_at   TIMESTAMP NOT NULL   -- UTC
)
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    summary: str  # what it changes, for the notice
    apply: Callable[[duckdb.DuckDBPyConnection, ProgressCallback | None], str]  # runs in the transaction; a detail


@dataclass
class Applied:
    migration: Migration
    seconds: float
    detail: str

    def line(self) -> str:
        return f"schema version {self.migration.version} ({self.migration.name}) in {self.seconds:.1f} s: {self.detail}"


def _lean_parsed_schema(con: duckdb.DuckDBPyConnection, on_progress: ProgressCallback | None) -> str:
    """Version 0 -> 1 (issue 20): the parsed tables rebuilt from the bytes kept in raw.osu_files.

    Rows of a file whose bytes are not kept (kiai never writes those) cannot be rebuilt: they stay in
    parsed.<table>_v0, which is dropped when nothing is left in it.
    """
    from kiai.load.osu_files import reparse_stale

    if not table_exists(con, "parsed", "beatmap_files"):
        schema.create_osu_tables(con)
        return "no parsed files to rebuild"
    old = [table for table in schema.PARSED_TABLES if table_exists(con, *table.split("."))]
    for table in old:
        con.execute(f"ALTER TABLE {table} RENAME TO {table.split('.')[1]}_v0")
    schema.create_osu_tables(con)
    md5s = [md5 for (md5,) in con.execute(f"SELECT md5 FROM {schema.RAW_FILES} ORDER BY md5").fetchall()]
    summary = reparse_stale(con, on_progress, md5s=md5s, in_transaction=True)
    left = 0
    for table in old:
        con.execute(f"DELETE FROM {table}_v0 WHERE md5 IN (SELECT md5 FROM {schema.RAW_FILES})")
        ((rows,),) = con.execute(f"SELECT count(*) FROM {table}_v0").fetchall()
        if rows:
            left += rows
        else:
            con.execute(f"DROP TABLE {table}_v0")
    detail = _reparsed(summary)
    if left:
        detail += f"; {left:,} rows of files without kept bytes left in parsed.*_v0"
    return detail


def _replay_download_attempts(con: duckdb.DuckDBPyConnection, on_progress: ProgressCallback | None) -> str:
    """Version 1 -> 2 (issue 18): raw.download_attempts logs replay downloads too: `kind` ('replay'; NULL for
    .osu files), `score_id` and `ruleset`, and no beatmap id for them. The rows stay as they are."""
    if not table_exists(con, "raw", "download_attempts"):
        return "no download attempts yet"
    for name, kind in (("kind", "VARCHAR"), ("score_id", "BIGINT"), ("ruleset", "VARCHAR")):
        _add_column(con, "raw.download_attempts", name, kind)
    con.execute("ALTER TABLE raw.download_attempts ALTER COLUMN beatmap_id DROP NOT NULL")
    ((rows,),) = con.execute("SELECT count(*) FROM raw.download_attempts").fetchall()
    return f"raw.download_attempts gained kind, score_id and ruleset; its {rows:,} rows are kept"


def _metadata_columns(con: duckdb.DuckDBPyConnection, on_progress: ProgressCallback | None) -> str:
    """Version 2 -> 3 (issue 17): the columns kiai used to add to an older table whenever it met one, added
    once: kiai.model_versions.code_fingerprint (filled in from each version's stored SQL hash, vars and
    upstream), kiai.dataset_exports.split (NULL: exported without a split) and ppy.import_log.complete (true:
    imports before --allow-incomplete were complete). Every row is kept."""
    added = [
        f"{table}.{name}"
        for table, name, kind in (
            ("kiai.model_versions", "code_fingerprint", "VARCHAR"),
            ("kiai.dataset_exports", "split", "VARCHAR"),
            ("ppy.import_log", "complete", "BOOLEAN DEFAULT true"),
        )
        if _add_column(con, table, name, kind)
    ]
    if not added:
        return "nothing to add"
    detail = f"added {', '.join(added)}"
    if "kiai.model_versions.code_fingerprint" in added:
        from kiai.transform import store

        detail += f"; {store.fill_code_fingerprints(con):,} model versions got their code fingerprint"
    return detail


def _add_column(con: duckdb.DuckDBPyConnection, table: str, name: str, kind: str) -> bool:
    """Add the column to the table when the table exists without it; whether it did."""
    have = column_names(con, *table.split("."))
    if not have or name in have:
        return False
    con.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
    return True


def _training_run_parts(con: duckdb.DuckDBPyConnection, on_progress: ProgressCallback | None) -> str:
    """Version 3 -> 4 (issue 13): kiai.training_runs gets `repeats` and `part_metrics` (every run kept)."""
    from kiai.ml.runs import add_columns

    return add_columns(con)


def _hit_object_steps(con: duckdb.DuckDBPyConnection, on_progress: ProgressCallback | None) -> str:
    """Version 4 -> 5 (issue 20): parsed.hit_objects records the step into each object from the one before it in
    time order (time_order, interval_ms, distance_sq, previous_kiai), which parser version 4 computes: the table is
    made anew and the parsed rows of every file rebuilt from the bytes kept in raw.osu_files.

    Hit objects of a file whose bytes are not kept (kiai never writes those) cannot be rebuilt: they stay in
    parsed.hit_objects_v4, which is dropped when nothing is left in it. A warehouse that version 1 rebuilt in
    this run already has the columns and is left as it is.
    """
    from kiai.load.osu_files import reparse_stale

    have = column_names(con, "parsed", "hit_objects")
    if not have:
        return "no parsed hit objects"
    if "time_order" in have:
        return "parsed.hit_objects already records the steps"
    con.execute("ALTER TABLE parsed.hit_objects RENAME TO hit_objects_v4")
    kept = f"file_id IN (SELECT file_id FROM {schema.FILES} WHERE md5 IN (SELECT md5 FROM {schema.RAW_FILES}))"
    ((left,),) = con.execute(f"SELECT count(*) FROM parsed.hit_objects_v4 WHERE NOT {kept}").fetchall()
    con.execute(f"DELETE FROM parsed.hit_objects_v4 WHERE {kept}" if left else "DROP TABLE parsed.hit_objects_v4")
    schema.create_osu_tables(con)
    md5s = [md5 for (md5,) in con.execute(f"SELECT md5 FROM {schema.RAW_FILES} ORDER BY md5").fetchall()]
    summary = reparse_stale(con, on_progress, md5s=md5s, in_transaction=True)
    detail = _reparsed(summary)
    if left:
        detail += f"; {left:,} hit objects of files without kept bytes left in parsed.hit_objects_v4"
    return detail


def _reparsed(summary: IngestSummary) -> str:
    """What a migration that rebuilt parsed.* from the kept bytes did, in words."""
    detail = f"{summary.files_reparsed:,} files parsed again from their kept bytes, {summary.hit_objects:,} hit objects"
    if summary.parse_errors:
        detail += f", {summary.parse_errors:,} that this parser rejects kept as bytes with a parsed.parse_errors row"
    return detail


MIGRATIONS = (
    Migration(
        1,
        "lean parsed schema",
        "integer file ids, ENUM kinds, the timing context at every hit object; parsed.* rebuilt from the "
        "kept .osu bytes",
        _lean_parsed_schema,
    ),
    Migration(
        2,
        "replay downloads",
        "raw.download_attempts logs replay downloads too (kind, score_id, ruleset columns)",
        _replay_download_attempts,
    ),
    Migration(
        3,
        "metadata columns",
        "the columns kiai added to older metadata tables on the fly, added once (model code fingerprints, "
        "export splits, complete dump imports)",
        _metadata_columns,
    ),
    Migration(
        4,
        "training run parts",
        "kiai.training_runs records repeats and each test part's metrics (for paired comparisons)",
        _training_run_parts,
    ),
    Migration(
        5,
        "hit object steps",
        "parsed.hit_objects records the step into each object from the one before it (time_order, interval_ms, "
        "distance_sq, previous_kiai); parsed.* rebuilt from the kept .osu bytes",
        _hit_object_steps,
    ),
)
LATEST = MIGRATIONS[-1].version


def stored_version(con: duckdb.DuckDBPyConnection) -> int | None:
    """The warehouse's schema version; None for a new one (nothing landed or kept, no version recorded)."""
    if table_exists(con, "kiai", "schema_migrations"):
        ((version,),) = con.execute(f"SELECT max(version) FROM {VERSIONS}").fetchall()
        if version is not None:
            return int(version)
    ((tables,),) = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND list_contains(?, schema_name) AND table_name <> 'schema_migrations'",
        [[*SOURCE_SCHEMAS, METADATA_SCHEMA]],
    ).fetchall()
    return 0 if tables else None


def pending(con: duckdb.DuckDBPyConnection) -> list[Migration]:
    version = stored_version(con)
    return [] if version is None else [m for m in MIGRATIONS if m.version > version]


def check(con: duckdb.DuckDBPyConnection, path: Path, read_only: bool) -> None:
    """Refuse a warehouse newer than this kiai, and (read-only) one that needs `kiai migrate`."""
    version = stored_version(con)
    if version is not None and version > LATEST:
        raise WarehouseError(
            f"warehouse {path} has schema version {version}, newer than this kiai knows ({LATEST}): upgrade kiai"
        )
    if read_only and version is not None and version < LATEST:
        raise WarehouseError(
            f"warehouse {path} was written by an older kiai (schema version {version}, this kiai uses {LATEST}): "
            f"run `kiai --db {path} migrate` to bring it up to date ({MIGRATIONS[-1].summary})"
        )


def on_connect(con: duckdb.DuckDBPyConnection, path: Path, read_only: bool, migrate: bool) -> None:
    """The hook `kiai.warehouse.connect` runs: check the version; a writing connection stamps a new
    warehouse and (with `migrate`) applies what is pending, with a one-line notice on stderr."""
    check(con, path, read_only)
    if read_only:
        return
    if stored_version(con) is None:
        _record(con, MIGRATIONS[-1], "created", 0.0, None)
    elif migrate and pending(con):
        upgrade(con, path, notice=_stderr)


def upgrade(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    on_progress: ProgressCallback | None = None,
    notice: Callable[[str], None] | None = None,
) -> list[Applied]:
    """Apply the pending migrations in order, each with its version row in one transaction."""
    applied = []
    for migration in pending(con):
        if notice:
            notice(
                f"migrating warehouse {path} to schema version {migration.version}: {migration.summary} "
                "(once; `kiai migrate` does it with a progress bar)"
            )
        started = time.perf_counter()
        with transaction(con):
            detail = migration.apply(con, on_progress)
            seconds = time.perf_counter() - started
            _record(con, migration, "migrated", seconds, detail)
        applied.append(Applied(migration, seconds, detail))
        if notice:
            notice(f"migrated to {applied[-1].line()}")
    return applied


def _record(con: duckdb.DuckDBPyConnection, migration: Migration, how: str, seconds: float, detail: str | None) -> None:
    from kiai import __version__

    con.execute(VERSIONS_DDL)
    con.execute(
        f"INSERT INTO {VERSIONS} VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            migration.version,
            migration.name,
            how,
            __version__,
            seconds,
            detail,
            dt.datetime.now(dt.UTC).replace(tzinfo=None),
        ],
    )


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
