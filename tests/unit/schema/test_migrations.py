"""Warehouses written by an older kiai: recognised by their schema version, migrated all or nothing by `kiai migrate`
or any writing command (with a notice), refused with one line by reading commands. Real warehouse files, the real
CLI, and a migration killed with SIGKILL."""

from __future__ import annotations

import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from kiai import warehouse
from kiai.osu import PARSER_VERSION
from kiai.schema import migrations
from tests.support.cli import invoke
from tests.support.legacy import STEP_COLUMNS, write_version_0, write_version_4
from tests.support.paths import OSU_FIXTURES, SAME_TIME_FIXTURES

PARSED = ("beatmap_files", "hit_objects", "timing_points", "breaks")


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse of the current layout with the fixtures and one parse error."""
    folder = tmp_path_factory.mktemp("fresh")
    (folder / "broken.osu").write_bytes(b"<html>not a map</html>")
    db = folder / "kiai.duckdb"
    invoke("ingest", "osu-files", str(OSU_FIXTURES), str(SAME_TIME_FIXTURES), str(folder / "broken.osu"), db=db)
    return db


@pytest.fixture
def old(fresh: Path, tmp_path: Path) -> Path:
    """The same warehouse as kiai left it before schema versions (version 0)."""
    db = tmp_path / "old.duckdb"
    write_version_0(fresh, db)
    return db


def comparable(rows: list[tuple]) -> list[tuple]:
    """NaN (a timing point's beat length may be one) equal to NaN."""
    return [tuple("NaN" if isinstance(v, float) and math.isnan(v) else v for v in row) for row in rows]


def parsed_rows(db: Path) -> dict[str, list[tuple]]:
    """Every parsed row, with its file's md5 instead of the file id (ids are per warehouse)."""
    with duckdb.connect(str(db), read_only=True) as con:
        rows = {
            "beatmap_files": con.execute("SELECT * EXCLUDE (file_id) FROM parsed.beatmap_files ORDER BY md5").fetchall()
        }
        for table in PARSED[1:]:
            rows[table] = con.execute(
                f"SELECT f.md5, t.* EXCLUDE (file_id) FROM parsed.{table} t "
                "JOIN parsed.beatmap_files f USING (file_id) ORDER BY ALL"
            ).fetchall()
        rows["raw"] = con.execute("SELECT md5, path, content FROM raw.osu_files ORDER BY md5").fetchall()
        rows["errors"] = con.execute("SELECT md5, path, error FROM parsed.parse_errors ORDER BY ALL").fetchall()
    return {name: comparable(table) for name, table in rows.items()}


MIGRATED = [(m.version, m.name, "migrated") for m in migrations.MIGRATIONS]  # a version 0 warehouse, migrated


def version_rows(db: Path) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("SELECT version, name, how FROM kiai.schema_migrations ORDER BY applied_at").fetchall()


def test_a_new_warehouse_is_created_at_the_latest_version(tmp_path):
    db = tmp_path / "new.duckdb"
    warehouse.connect(db).close()
    assert version_rows(db) == [(migrations.LATEST, migrations.MIGRATIONS[-1].name, "created")]
    assert "nothing to do" in invoke("migrate", db=db).stdout


def test_reading_an_older_warehouse_says_what_to_run(old):
    for command in (["sql", "SELECT 1"], ["tables"]):
        result = invoke(*command, db=old, check=False)
        assert result.returncode == 1 and "Traceback" not in result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and f"run `kiai --db {old} migrate`" in lines[0], result.stderr
        assert "older kiai (schema version 0" in lines[0]
    with duckdb.connect(str(old), read_only=True) as con:  # and it left it as it was
        versions = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'schema_migrations'")
        assert versions.fetchone() == (0,)


def test_migrate_rebuilds_the_parsed_rows_from_the_kept_bytes(old, fresh):
    result = invoke("migrate", db=old)
    migrated = r"migrated .* to schema version 1 \(lean parsed schema\) in [\d.]+ s: 46 files parsed again"
    assert re.search(migrated, result.stdout)
    assert parsed_rows(old) == parsed_rows(fresh)  # every row, and the bytes and the parse error, as a new ingest
    assert version_rows(old) == MIGRATED
    with duckdb.connect(str(old), read_only=True) as con:
        left = con.execute("SELECT table_name FROM duckdb_tables() WHERE table_name LIKE '%_v0'").fetchall()
        assert left == []
        assert con.execute("SELECT DISTINCT parser_version FROM parsed.beatmap_files").fetchall() == [(PARSER_VERSION,)]
    assert "nothing to do" in invoke("migrate", db=old).stdout
    assert invoke("sql", "--format", "csv", "SELECT count(*) AS n FROM parsed.beatmap_files", db=old).stdout == (
        "n\n46\n"
    )


def test_a_writing_command_migrates_first_with_a_notice(old, tmp_path):
    extra = tmp_path / "extra.osu"
    extra.write_bytes((OSU_FIXTURES / "osu-1124896.osu").read_bytes() + b"\n// another copy\n")
    result = invoke("ingest", "osu-files", str(extra), db=old)
    notice = [line for line in result.stderr.splitlines() if line.startswith("migrat")]
    assert len(notice) == 2 * len(MIGRATED) and "to schema version 1" in notice[0], notice
    assert "46 files parsed again" in notice[1], notice
    assert "to schema version 4" in notice[-4] and "no training runs registered" in notice[-3], notice
    assert "to schema version 5" in notice[-2] and "already records the steps" in notice[-1], notice  # by 1
    assert "1 files: 1 added" in result.stdout
    assert version_rows(old) == MIGRATED
    assert table_counts(old)["parsed.beatmap_files"] == 47


def test_rows_without_kept_bytes_are_kept_aside(old):
    """kiai always lands bytes and rows together; rows of a file without bytes cannot be rebuilt, so they stay."""
    with duckdb.connect(str(old)) as con:
        md5 = con.execute("SELECT md5 FROM parsed.beatmap_files WHERE n_breaks > 0 ORDER BY md5 LIMIT 1").fetchone()[0]
        (objects,) = con.execute("SELECT count(*) FROM parsed.hit_objects WHERE md5 = ?", [md5]).fetchone()
        con.execute("DELETE FROM raw.osu_files WHERE md5 = ?", [md5])
    con = warehouse.connect(old)
    try:
        kept = {t: con.execute(f"SELECT count(*) FROM parsed.{t}_v0 WHERE md5 = ?", [md5]).fetchone()[0]
                for t in PARSED}  # fmt: skip
        assert kept["beatmap_files"] == 1 and kept["hit_objects"] == objects and kept["breaks"] > 0
        assert con.execute("SELECT count(*) FROM parsed.hit_objects_v0 WHERE md5 <> ?", [md5]).fetchone() == (0,)
        assert con.execute("SELECT count(*) FROM parsed.beatmap_files").fetchone() == (45,)
        (detail,) = con.execute("SELECT detail FROM kiai.schema_migrations WHERE version = 1").fetchone()
        assert "rows of files without kept bytes left in parsed.*_v0" in detail
    finally:
        con.close()


def test_a_version_4_warehouse_gets_the_steps_with_nothing_lost(fresh, tmp_path):
    """Today's layout before the step columns (schema version 4, parser version 3): migrating makes parsed.hit_objects
    anew and rebuilds every file's rows from its kept bytes, as a new ingest lands them; hit objects of a file
    whose bytes are gone stay in parsed.hit_objects_v4."""
    old = tmp_path / "v4.duckdb"
    write_version_4(fresh, old)
    with duckdb.connect(str(old), read_only=True) as con:
        assert STEP_COLUMNS[0] not in {c for (c, *_) in con.execute("DESCRIBE parsed.hit_objects").fetchall()}
    result = invoke("migrate", db=old)
    assert re.search(r"to schema version 5 \(hit object steps\) in [\d.]+ s: 46 files parsed again", result.stdout)
    assert parsed_rows(old) == parsed_rows(fresh)
    assert version_rows(old)[-1] == (5, "hit object steps", "migrated")
    with duckdb.connect(str(old), read_only=True) as con:
        assert con.execute("SELECT DISTINCT parser_version FROM parsed.beatmap_files").fetchall() == [(PARSER_VERSION,)]
        assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '%_v4'").fetchone() == (0,)

    aside = tmp_path / "aside.duckdb"
    write_version_4(fresh, aside)
    with duckdb.connect(str(aside)) as con:
        file_id, md5 = con.execute("SELECT file_id, md5 FROM parsed.beatmap_files ORDER BY md5 LIMIT 1").fetchone()
        before = con.execute("SELECT * FROM parsed.hit_objects WHERE file_id = ? ORDER BY ALL", [file_id]).fetchall()
        con.execute("DELETE FROM raw.osu_files WHERE md5 = ?", [md5])
    assert "hit objects of files without kept bytes left in parsed.hit_objects_v4" in invoke("migrate", db=aside).stdout
    with duckdb.connect(str(aside), read_only=True) as con:
        assert con.execute("SELECT * FROM parsed.hit_objects_v4 ORDER BY ALL").fetchall() == before and before
        assert con.execute("SELECT count(*) FROM parsed.hit_objects WHERE file_id = ?", [file_id]).fetchone() == (0,)


def test_a_newer_warehouse_is_refused(tmp_path):
    db = tmp_path / "newer.duckdb"
    con = warehouse.connect(db)
    con.execute("UPDATE kiai.schema_migrations SET version = 99")
    con.close()
    for read_only in (True, False):
        with pytest.raises(warehouse.WarehouseError, match="schema version 99, newer than this kiai knows"):
            warehouse.connect(db, read_only=read_only)


def table_counts(db: Path) -> dict[str, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        names = [f"parsed.{t}" for t in PARSED] + ["raw.osu_files", "parsed.parse_errors"]
        return {name: con.execute(f"SELECT count(*) FROM {name}").fetchone()[0] for name in names}


def test_a_killed_migration_leaves_the_old_warehouse_and_running_again_finishes(tmp_path):
    """kill -9 while a writing command migrates: the migration was one transaction, so the warehouse is still
    version 0 with every row; the next run migrates it."""
    folder = tmp_path / "maps"
    folder.mkdir()
    for copy in range(20):  # more files to parse, so that the kill lands mid-migration
        for path in sorted(OSU_FIXTURES.glob("*.osu")):
            beatmap_id = 1_000_000 + copy * 100 + len(list(folder.iterdir()))
            data = re.sub(rb"(?m)^BeatmapID:.*$", f"BeatmapID:{beatmap_id}".encode(), path.read_bytes())
            (folder / f"{beatmap_id}.osu").write_bytes(data + f"\n// copy {copy}\n".encode())
    fresh, old = tmp_path / "fresh.duckdb", tmp_path / "old.duckdb"
    invoke("ingest", "osu-files", str(folder), db=fresh)
    write_version_0(fresh, old)
    before = table_counts(old)
    process = subprocess.Popen(
        [sys.executable, "-m", "kiai", "--db", str(old), "ingest", "reparse"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert process.stderr is not None
    first = process.stderr.readline()
    assert first.startswith("migrating warehouse"), first
    time.sleep(0.2)  # into the migration's transaction: it takes seconds
    assert process.poll() is None
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert table_counts(old) == before
    assert "older kiai (schema version 0" in invoke("sql", "SELECT 1", db=old, check=False).stderr
    invoke("migrate", db=old)
    assert parsed_rows(old) == parsed_rows(fresh)


def test_the_metadata_columns_are_added_once_and_every_row_kept(tmp_path):
    """A warehouse at the version before `metadata columns` whose dump log and export log lack their newer
    columns: migrating adds them, with what the old rows meant (complete imports, no split)."""
    db = tmp_path / "v2.duckdb"
    metadata = next(m for m in migrations.MIGRATIONS if m.name == "metadata columns")
    con = warehouse.connect(db)
    con.execute("CREATE TABLE ppy.import_log (source VARCHAR NOT NULL, table_name VARCHAR NOT NULL)")
    con.execute("INSERT INTO ppy.import_log VALUES ('2026_01_01_dump', 'scores')")
    con.execute("CREATE TABLE kiai.dataset_exports (export_id VARCHAR NOT NULL, path VARCHAR NOT NULL)")
    con.execute("INSERT INTO kiai.dataset_exports VALUES ('abc', 'd.csv')")
    con.execute("UPDATE kiai.schema_migrations SET version = ?", [metadata.version - 1])
    con.close()
    result = invoke("migrate", db=db)
    assert "added kiai.dataset_exports.split, ppy.import_log.complete" in result.stdout
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT * FROM ppy.import_log").fetchall() == [("2026_01_01_dump", "scores", True)]
        assert con.execute("SELECT * FROM kiai.dataset_exports").fetchall() == [("abc", "d.csv", None)]
    assert "nothing to do" in invoke("migrate", db=db).stdout


def test_a_warehouse_of_landed_api_answers_only_is_old_too(tmp_path):
    """Before schema versions, a warehouse that only fetched had no parsed tables; it is version 0 all the same,
    so its download log gains the replay columns (version 2) instead of being taken for a new warehouse."""
    db = tmp_path / "fetched.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE SCHEMA raw")
        con.execute(
            "CREATE TABLE raw.download_attempts (beatmap_id BIGINT NOT NULL, outcome VARCHAR NOT NULL, "
            "expected_md5 VARCHAR NOT NULL, attempted_at TIMESTAMP NOT NULL)"
        )
        con.execute("INSERT INTO raw.download_attempts VALUES (7, 'ok', '', '2026-01-01')")
    con = warehouse.connect(db)
    try:
        assert migrations.stored_version(con) == migrations.LATEST
        rows = con.execute("SELECT beatmap_id, outcome, kind, score_id FROM raw.download_attempts").fetchall()
        assert rows == [(7, "ok", None, None)]
    finally:
        con.close()
    assert version_rows(db) == MIGRATED
