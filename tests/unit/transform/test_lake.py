"""`kiai export lake`: every table as Parquet that other engines read alike, partitioned, fingerprinted, each table
replaced whole (a killed export leaves nothing a rerun trusts). Real warehouses, real Parquet read back by
DuckDB and pyarrow."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from kiai import warehouse
from kiai.transform import store
from kiai.transform.lake import LakeError, Progress, export_lake, read_manifest
from tests.support.cli import invoke

SOURCE_TABLES = """SELECT schema_name || '.' || table_name FROM duckdb_tables()
    WHERE database_name = current_database() AND schema_name IN ('raw', 'parsed', 'ppy')"""


def _read(lake: Path, relation: str) -> str:
    folder = lake / relation.replace(".", "/")
    return f"read_parquet('{folder}/**/*.parquet', hive_partitioning = true)"


@pytest.fixture(scope="module")
def demo_lake(demo_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Progress]]:
    lake = tmp_path_factory.mktemp("lake") / "lake"
    progress: list[Progress] = []
    con = warehouse.connect(demo_warehouse, read_only=True)
    try:
        export_lake(con, lake, on_progress=progress.append)
    finally:
        con.close()
    return lake, progress


def test_every_table_and_model_lands_with_its_rows(demo_warehouse: Path, demo_lake) -> None:
    lake, progress = demo_lake
    manifest = read_manifest(lake)
    con = warehouse.connect(demo_warehouse, read_only=True)
    try:
        sources = {r for (r,) in con.execute(SOURCE_TABLES).fetchall()}
        models = {f"{v.relation.split('.')[0]}.{v.model}" for v in store.current(con).values()}
        assert {"parsed.hit_objects", "ppy.scores", "raw.osu_files"} <= sources
        assert {"features.file_features", "staging.beatmaps"} <= models
        assert set(manifest["tables"]) == sources | models
        assert manifest["kiai_version"] and manifest["schema_version"] >= 1
        for relation, entry in manifest["tables"].items():
            (rows,) = con.execute(f"SELECT count(*) FROM {relation}").fetchall()[0]
            (landed,) = duckdb.connect().sql(f"SELECT count(*) FROM {_read(lake, relation)}").fetchall()[0]
            assert entry["rows"] == rows == landed, relation
        assert manifest["tables"]["features.file_features"]["model"]["fingerprint"]
        # the same rows, value for value: hit objects (ENUM kinds as text) and scores (UBIGINT ids as BIGINT)
        for relation in ("parsed.hit_objects", "ppy.scores", "features.file_features"):
            exclude = " EXCLUDE (file_id_range)" if relation == "parsed.hit_objects" else ""
            lake_rows = f"SELECT *{exclude} FROM {_read(lake, relation)}"
            columns = ", ".join(f'"{c}"' for c in con.sql(f"SELECT * FROM {relation}").columns)
            ours, theirs = f"SELECT {columns} FROM {relation}", f"SELECT {columns} FROM ({lake_rows})"
            only_ours = f"SELECT count(*) FROM ({ours} EXCEPT {theirs})"
            only_theirs = f"SELECT count(*) FROM ({theirs} EXCEPT {ours})"
            differ = con.execute(f"SELECT ({only_ours}) + ({only_theirs})").fetchall()[0][0]
            assert differ == 0, relation
    finally:
        con.close()
    written = {p.relation for p in progress}
    assert "parsed.hit_objects" in written
    last = [p for p in progress if p.relation == "parsed.hit_objects"][-1]
    assert last.rows_done == last.rows_total > 0 and last.bytes_written > 0


def test_types_every_engine_reads_alike(demo_lake) -> None:
    lake, _ = demo_lake
    manifest = read_manifest(lake)
    for entry in manifest["tables"].values():
        for file in entry["files"]:
            schema = pq.read_schema(lake / entry["path"] / file["path"])
            for field in schema:
                kind = str(field.type)
                assert not kind.startswith("uint"), (entry["path"], field)
                if kind.startswith("timestamp"):
                    assert kind == "timestamp[us, tz=UTC]", (entry["path"], field)
    scores = {c["name"]: c for c in manifest["tables"]["ppy.scores"]["columns"]}
    assert scores["id"]["source_type"] == "UBIGINT" and scores["id"]["type"] == "BIGINT"
    assert scores["data"]["type"] == "VARCHAR"  # JSON as text
    objects = {c["name"]: c for c in manifest["tables"]["parsed.hit_objects"]["columns"]}
    assert objects["kind"]["type"] == "VARCHAR" and objects["kind"]["source_type"].startswith("ENUM")
    osu_files = manifest["tables"]["raw.osu_files"]
    assert osu_files["dropped_columns"] == ["content"]
    assert "content" not in {c["name"] for c in osu_files["columns"]}


def test_partitions_are_hive_folders(demo_lake) -> None:
    lake, _ = demo_lake
    assert [p.name for p in (lake / "parsed" / "hit_objects").iterdir()] == ["file_id_range=0"]
    assert {p.name for p in (lake / "ppy" / "scores").iterdir()} == {"ruleset_id=0"}
    entry = read_manifest(lake)["tables"]["parsed.hit_objects"]
    assert entry["partition_column"] == {"name": "file_id_range", "type": "BIGINT"}
    # the folder column is the range's lower bound: every file id falls in its range
    (wrong,) = (
        duckdb.connect()
        .sql(
            f"SELECT count(*) FROM {_read(lake, 'parsed.hit_objects')} "
            "WHERE NOT (file_id >= file_id_range AND file_id < file_id_range + 10000)"
        )
        .fetchall()[0]
    )
    assert wrong == 0


def test_each_row_lands_in_its_partition_folder(db_path: Path, tmp_path: Path) -> None:
    """Range bounds as DuckDB's `//` draws them (truncating: -1 is in the range 0), and a NULL key in Hive's
    default partition."""
    con = warehouse.connect(db_path)
    con.execute(
        """
        CREATE OR REPLACE TABLE parsed.beatmap_files AS SELECT 1 AS file_id;  -- what hit objects' watermark reads
        CREATE OR REPLACE TABLE parsed.hit_objects AS
            SELECT * FROM (VALUES (-10000), (-9999), (-1), (0), (1), (9999), (10000), (19999), (20000)) t(file_id);
        CREATE OR REPLACE TABLE ppy.scores AS
            SELECT * FROM (VALUES (1, 0::UTINYINT), (2, 3::UTINYINT), (3, NULL), (4, 3::UTINYINT)) t(id, ruleset_id);
        """
    )
    con.close()
    lake = tmp_path / "lake"
    con = warehouse.connect(db_path, read_only=True)
    try:
        export_lake(con, lake)
    finally:
        con.close()
    objects = lake / "parsed" / "hit_objects"
    assert sorted(p.name for p in objects.iterdir()) == [
        "file_id_range=-10000",
        "file_id_range=0",
        "file_id_range=10000",
        "file_id_range=20000",
    ]
    read = duckdb.connect()
    rows = read.sql(f"SELECT file_id, file_id_range FROM {_read(lake, 'parsed.hit_objects')} ORDER BY 1").fetchall()
    assert (
        rows
        == read.sql(
            "SELECT file_id, (file_id // 10000) * 10000 FROM (VALUES (-10000), (-9999), (-1), (0), "
            "(1), (9999), (10000), (19999), (20000)) t(file_id) ORDER BY 1"
        ).fetchall()
    )
    scores = lake / "ppy" / "scores"
    assert sorted(p.name for p in scores.iterdir()) == [
        "ruleset_id=0",
        "ruleset_id=3",
        "ruleset_id=__HIVE_DEFAULT_PARTITION__",
    ]
    assert pq.read_table(scores / "ruleset_id=3").column_names == ["id"]  # the folder names the ruleset
    assert read.sql(f"SELECT id, ruleset_id FROM {_read(lake, 'ppy.scores')} ORDER BY 1").fetchall() == [
        (1, 0),
        (2, 3),
        (3, None),
        (4, 3),
    ]


def test_long_values_outgrow_the_small_memory_limit_and_still_export(db_path: Path, tmp_path: Path) -> None:
    """A vector of 2,048 BLOBs of 40 kB is beyond the export's memory limit for a table of two columns: that
    step runs again under the connection's own limit, which the connection has again afterwards."""
    con = warehouse.connect(db_path)
    con.execute(
        "CREATE TABLE raw.long_blobs AS SELECT range AS id, repeat(md5(range::VARCHAR), 1250)::BLOB AS content "
        "FROM range(2100)"
    )
    con.close()
    con = warehouse.connect(db_path, read_only=True)
    try:
        limit = "SELECT current_setting('memory_limit')"
        before = con.execute(limit).fetchall()
        export_lake(con, tmp_path / "lake", with_bytes=True)
        assert con.execute(limit).fetchall() == before
    finally:
        con.close()
    table = pq.read_table(tmp_path / "lake" / "raw" / "long_blobs")
    assert table.num_rows == 2100 and len(table.column("content")[0].as_py()) == 40_000


def _odd_warehouse(db: Path) -> None:
    con = warehouse.connect(db)
    con.execute(
        """
        CREATE TYPE ppy.mood AS ENUM ('calm', 'loud');
        CREATE TABLE ppy.odd AS SELECT * FROM (VALUES
            (18446744073709551615::UBIGINT, 200::UTINYINT, 4000000000::UINTEGER,
             10000000000000000000000000000000000000::HUGEINT,
             170141183460469231731687303715884105727::HUGEINT,
             'loud'::ppy.mood, TIMESTAMP_NS '2026-11-01 02:31:39.123456789', TIMESTAMP '2026-11-01 02:31:39.5',
             [1, 2]::UINTEGER[], {'n': 7::USMALLINT}),
            (1, 0, 0, -1, 1, 'calm', NULL, NULL, NULL, NULL)
        ) t(big, tiny, mid, huge, huger, mood, ns, ts, ids, s);
        CREATE TABLE ppy.small AS SELECT range::UBIGINT AS id FROM range(3);
        CREATE TABLE raw.blobs AS SELECT 'a' AS name, '\\x00\\x01'::BLOB AS content;
        """
    )
    con.close()


def test_unsigned_huge_enum_and_timestamps_become_portable_types(db_path: Path, tmp_path: Path) -> None:
    _odd_warehouse(db_path)
    con = warehouse.connect(db_path, read_only=True)
    try:
        export_lake(con, tmp_path / "lake")
        export_lake(con, tmp_path / "with_bytes", with_bytes=True)
    finally:
        con.close()
    odd = pq.read_table(tmp_path / "lake" / "ppy" / "odd")
    types = {f.name: str(f.type) for f in odd.schema}
    assert types["big"] == "decimal128(20, 0)"  # a value beyond BIGINT: the exact decimal
    assert types["tiny"] == "int16" and types["mid"] == "int64" and types["huge"] == "decimal128(38, 0)"
    assert types["huger"] == "string"  # beyond 38 digits: exact as text
    assert types["mood"] == "string" and types["ids"] == "list<element: int64>"
    assert types["s"] == "struct<n: int32>"
    assert types["ns"] == types["ts"] == "timestamp[us, tz=UTC]"
    rows = odd.sort_by("tiny").to_pylist()
    assert int(rows[1]["big"]) == 2**64 - 1 and int(rows[1]["huge"]) == 10**37 and rows[1]["huger"] == str(2**127 - 1)
    assert rows[1]["mid"] == 4_000_000_000 and rows[1]["mood"] == "loud" and rows[1]["ids"] == [1, 2]
    assert rows[1]["ts"].isoformat() == "2026-11-01T02:31:39.500000+00:00"  # kiai's naive timestamps are UTC
    assert str(pq.read_table(tmp_path / "lake" / "ppy" / "small").schema.field("id").type) == "int64"
    assert pq.read_table(tmp_path / "lake" / "raw" / "blobs").column_names == ["name"]
    assert pq.read_table(tmp_path / "with_bytes" / "raw" / "blobs").column("content").to_pylist() == [b"\x00\x01"]


def test_unchanged_tables_are_skipped_and_changed_ones_rewritten(db_path: Path, tmp_path: Path) -> None:
    _odd_warehouse(db_path)
    lake = tmp_path / "lake"
    first = invoke("export", "lake", str(lake), db=db_path)
    assert "written   ppy.odd" in first.stdout and "0 unchanged" in first.stdout
    again = invoke("export", "lake", str(lake), db=db_path)
    assert "0 tables written" in again.stdout and "unchanged ppy.odd" in again.stdout
    con = warehouse.connect(db_path)
    con.execute("INSERT INTO ppy.small VALUES (3)")
    con.execute("DROP TABLE raw.blobs")
    con.close()
    status = _export_statuses(db_path, lake)
    assert status["ppy.small"] == "written" and status["ppy.odd"] == "unchanged"
    assert status["raw.blobs"] == "removed" and not (lake / "raw" / "blobs").exists()
    assert "raw.blobs" not in read_manifest(lake)["tables"]
    assert duckdb.connect().sql(f"SELECT count(*) FROM {_read(lake, 'ppy.small')}").fetchall()[0][0] == 4


def test_a_table_whose_files_were_damaged_is_written_again(db_path: Path, tmp_path: Path) -> None:
    _odd_warehouse(db_path)
    lake = tmp_path / "lake"
    con = warehouse.connect(db_path, read_only=True)
    try:
        export_lake(con, lake)
        (file,) = (lake / "ppy" / "small").glob("*.parquet")
        file.write_bytes(file.read_bytes()[:10])  # truncated by hand, or by a half-copied lake
        (lake / ".tmp-ppy.odd-abc").mkdir()  # what a killed export leaves
        report = export_lake(con, lake)
    finally:
        con.close()
    assert {t.relation for t in report.written} == {"ppy.small"}
    assert not (lake / ".tmp-ppy.odd-abc").exists()
    assert pq.read_table(lake / "ppy" / "small").num_rows == 3


def test_kill_9_mid_table_leaves_nothing_a_rerun_trusts(db_path: Path, tmp_path: Path) -> None:
    con = warehouse.connect(db_path)
    con.execute("CREATE TABLE ppy.a_first AS SELECT range AS id FROM range(10)")
    con.execute(
        "CREATE TABLE ppy.big AS SELECT range AS id, hash(range) AS h, range::VARCHAR AS s FROM range(30000000)"
    )
    con.close()
    lake = tmp_path / "lake"
    command = [sys.executable, "-m", "kiai", "--db", str(db_path), "export", "lake", str(lake)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not any(p.name.startswith(".tmp-ppy.big") for p in lake.glob(".tmp-*")):
            assert proc.poll() is None, "the export ended before it was killed"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    manifest = json.loads((lake / "manifest.json").read_text()) if (lake / "manifest.json").exists() else {}
    assert "ppy.big" not in manifest.get("tables", {})  # never vouched for
    status = _export_statuses(db_path, lake)
    assert status["ppy.big"] == "written" and status["ppy.a_first"] == "unchanged"
    assert not list(lake.glob(".tmp-*"))
    assert pq.ParquetDataset(lake / "ppy" / "big").read().num_rows == 30_000_000


def test_a_lake_path_that_is_a_file_is_refused(db_path: Path, tmp_path: Path) -> None:
    _odd_warehouse(db_path)
    con = warehouse.connect(db_path, read_only=True)
    try:
        with pytest.raises(LakeError, match="is a file"):
            export_lake(con, _file(tmp_path))
        with pytest.raises(Exception, match="DuckDB database file"):
            export_lake(con, db_path)
    finally:
        con.close()


def _file(tmp_path: Path) -> Path:
    path = tmp_path / "not_a_folder"
    path.write_text("x")
    return path


def _export_statuses(db_path: Path, lake: Path) -> dict[str, str]:
    """Export the warehouse at db_path into lake again: each table's status (written, unchanged, removed)."""
    con = warehouse.connect(db_path, read_only=True)
    try:
        return {t.relation: t.status for t in export_lake(con, lake).tables}
    finally:
        con.close()
