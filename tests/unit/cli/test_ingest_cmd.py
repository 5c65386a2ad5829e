"""`kiai ingest osu-files`: real files, a real DuckDB file, the CLI in-process (tests.support.cli.invoke)."""

from __future__ import annotations

import hashlib
import io
import shutil
import tarfile
import zipfile
from pathlib import Path

import duckdb
import pytest

from kiai import warehouse
from kiai.load.osu_files import ingest_paths
from tests.support.cli import invoke
from tests.support.paths import OSU_FIXTURES

N_FIXTURES = len(list(OSU_FIXTURES.glob("*.osu")))


def counts(db: Path) -> dict[str, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        return counts_of(con)


def counts_of(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return {
        table: con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        for table in ("raw.osu_files", "parsed.beatmap_files", "parsed.hit_objects", "parsed.timing_points",
                      "parsed.breaks", "parsed.parse_errors")
    }  # fmt: skip


def test_ingest_fixtures_is_idempotent(db_path):
    first = invoke("ingest", "osu-files", str(OSU_FIXTURES), db=db_path)
    assert f"{N_FIXTURES} files: {N_FIXTURES} added" in first.stdout
    before = counts(db_path)
    assert before["raw.osu_files"] == before["parsed.beatmap_files"] == N_FIXTURES
    assert before["parsed.hit_objects"] == 21_328
    second = invoke("ingest", "osu-files", str(OSU_FIXTURES), db=db_path)
    assert f"0 added, {N_FIXTURES} unchanged" in second.stdout
    assert counts(db_path) == before
    with duckdb.connect(str(db_path), read_only=True) as con:
        # per-file object counts agree with the parsed metadata, and the bytes are kept exactly
        mismatched = con.execute(
            """SELECT count(*) FROM parsed.beatmap_files f
               JOIN (SELECT file_id, count(*) n FROM parsed.hit_objects GROUP BY file_id) h USING (file_id)
               WHERE n <> n_circles + n_sliders + n_spinners + n_holds"""
        ).fetchone()[0]
        assert mismatched == 0
        content, md5 = con.execute(
            "SELECT content, md5 FROM raw.osu_files WHERE path LIKE '%Soleily-Renatus-Gamu-Insane.osu'"
        ).fetchone()
        assert content == (OSU_FIXTURES / "Soleily-Renatus-Gamu-Insane.osu").read_bytes()
        assert md5 == "8e68653623fbbb2f1fa0988d97e38e28"


def test_new_version_of_a_beatmap_replaces_the_old(tmp_path, db_path):
    folder = tmp_path / "maps"
    folder.mkdir()
    original = (OSU_FIXTURES / "osu-1124896.osu").read_bytes()
    (folder / "1124896.osu").write_bytes(original)
    invoke("ingest", "osu-files", str(folder), db=db_path)
    updated = original.replace(b"[HitObjects]\r\n", b"[HitObjects]\r\n256,192,5,1,0,0:0:0:0:\r\n", 1)
    updated = updated if updated != original else original.replace(b"[HitObjects]\n", b"[HitObjects]\n256,192,5,1,0\n")
    assert updated != original
    (folder / "1124896.osu").write_bytes(updated)
    result = invoke("ingest", "osu-files", str(folder / "1124896.osu"), db=db_path)
    assert "1 replaced" in result.stdout
    after = counts(db_path)
    assert after["raw.osu_files"] == after["parsed.beatmap_files"] == 1
    assert after["parsed.hit_objects"] == 1044 + 1


def _age(con: duckdb.DuckDBPyConnection, md5s: list[str]) -> None:
    """Make these files look landed by an older parser."""
    con.execute(
        "UPDATE parsed.beatmap_files SET parser_version = parser_version - 1 WHERE md5 IN (SELECT unnest($m))",
        {"m": md5s},
    )


def test_files_of_an_older_parser_are_parsed_again_from_their_kept_bytes(db_path):
    invoke("ingest", "osu-files", str(OSU_FIXTURES), db=db_path)
    fresh = counts(db_path)
    with duckdb.connect(str(db_path)) as con:
        first, second = (row[0] for row in con.execute(
            "SELECT md5 FROM parsed.beatmap_files WHERE n_breaks > 0 ORDER BY md5 LIMIT 2").fetchall())  # fmt: skip
        third = con.execute("SELECT min(md5) FROM parsed.beatmap_files WHERE n_breaks = 0").fetchone()[0]
        _age(con, [first, second, third])
        file_ids = con.execute("SELECT md5, file_id FROM parsed.beatmap_files ORDER BY md5").fetchall()
        # what the older parser left: other rows than this one makes
        of = "file_id = (SELECT file_id FROM parsed.beatmap_files WHERE md5 = ?)"
        con.execute(f"DELETE FROM parsed.hit_objects WHERE {of} AND object_index % 2 = 0", [first])
        con.execute(f"UPDATE parsed.timing_points SET beat_length = 1 WHERE {of}", [second])
        con.execute(f"INSERT INTO parsed.breaks SELECT * FROM parsed.breaks WHERE {of}", [second])
    assert "3 files were parsed by an older kiai parser" in invoke("build-features", db=db_path).stderr
    again = invoke("ingest", "osu-files", str(OSU_FIXTURES), db=db_path)
    assert f"0 added, {N_FIXTURES} unchanged" in again.stdout  # the files are known: reparse is its own step

    result = invoke("ingest", "reparse", db=db_path)
    assert "0 added" in result.stdout and "3 parsed again by the new parser, 0 could not be parsed" in result.stdout
    assert counts(db_path) == fresh  # every row back, none twice
    with duckdb.connect(str(db_path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM parsed.timing_points WHERE beat_length = 1").fetchone() == (0,)
        assert con.execute("SELECT count(DISTINCT parser_version) FROM parsed.beatmap_files").fetchone() == (1,)
        # a file parsed again keeps its file id
        assert con.execute("SELECT md5, file_id FROM parsed.beatmap_files ORDER BY md5").fetchall() == file_ids
    assert "nothing to do" in invoke("ingest", "reparse", db=db_path).stdout
    assert "older kiai parser" not in invoke("build-features", db=db_path).stderr


def test_reparse_on_a_new_warehouse_has_nothing_to_do(db_path):
    assert "nothing to do" in invoke("ingest", "reparse", db=db_path).stdout


def test_reparse_in_batches_keeps_the_bytes_of_a_file_the_new_parser_rejects(db_path, monkeypatch):
    from kiai.load import osu_files

    con = warehouse.connect(db_path)
    ingest_paths(con, [OSU_FIXTURES])
    fresh = counts_of(con)
    # a file an older parser read and this one rejects: its bytes, and the rows the older parser made
    bad = b"not an osu file"
    bad_md5 = hashlib.md5(bad).hexdigest()
    con.execute("INSERT INTO raw.osu_files VALUES (?, NULL, 'old.osu', ?, ?, now())", [bad_md5, len(bad), bad])
    con.execute(
        "INSERT INTO parsed.beatmap_files (file_id, md5, mode, parser_version) "
        "VALUES (nextval('parsed.file_ids'), ?, 0, 1)",
        [bad_md5],
    )
    con.execute(
        "INSERT INTO parsed.hit_objects (file_id, object_index, time_ms, x, y, kind, new_combo, combo_skip, "
        "slider_velocity, kiai, time_order) SELECT file_id, 0, 0, 0, 0, 'circle', false, 0, 1, false, 0 "
        "FROM parsed.beatmap_files WHERE md5 = ?",
        [bad_md5],
    )
    md5s = [row[0] for row in con.execute("SELECT md5 FROM parsed.beatmap_files ORDER BY md5").fetchall()]
    _age(con, [m for m in md5s if m != bad_md5][:6])
    monkeypatch.setattr(osu_files, "BATCH_FILES", 2)  # 4 batches, through the worker processes
    summary = osu_files.reparse_stale(con, workers=2)
    assert (summary.files_reparsed, summary.parse_errors, summary.files_added) == (6, 1, 0)
    after = counts_of(con)
    assert after["raw.osu_files"] == fresh["raw.osu_files"] + 1  # the bytes stay, whatever the parser makes of them
    assert {k: v for k, v in after.items() if k.startswith("parsed.") and k != "parsed.parse_errors"} == {
        k: v for k, v in fresh.items() if k.startswith("parsed.") and k != "parsed.parse_errors"
    }
    assert con.execute("SELECT md5 FROM parsed.parse_errors").fetchall() == [(bad_md5,)]
    assert osu_files.stale_md5s(con) == []  # this parser has read (or failed on) every kept file
    con.close()


def test_bad_files_are_recorded_and_the_run_goes_on(tmp_path, db_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(OSU_FIXTURES / "old-stacking.osu", folder / "a.osu")
    (folder / "404.osu").write_bytes(b"<html><body>Not found</body></html>")
    (folder / "mode.osu").write_bytes(b"osu file format v14\n[General]\nMode: 9\n")
    result = invoke("ingest", "osu-files", str(folder), db=db_path)
    assert "2 could not be parsed" in result.stdout
    assert "not an .osu file" in result.stderr
    with duckdb.connect(str(db_path), read_only=True) as con:
        errors = con.execute("SELECT path, error FROM parsed.parse_errors ORDER BY path").fetchall()
    assert [Path(p).name for p, _ in errors] == ["404.osu", "mode.osu"]
    assert counts(db_path)["raw.osu_files"] == 1
    again = invoke("ingest", "osu-files", str(folder), db=db_path)  # known failures are not re-recorded
    assert "0 added, 3 unchanged" in again.stdout and counts(db_path)["parsed.parse_errors"] == 2


def test_osz_glob_and_streamed_tarball(tmp_path, db_path):
    names = ["osu-42587.osu", "osu-50859.osu", "Soleily-Renatus-Gamu-Normal.osu"]
    osz = tmp_path / "set.osz"
    with zipfile.ZipFile(osz, "w") as archive:
        for name in names[:2]:
            archive.write(OSU_FIXTURES / name, arcname=name)
        archive.writestr("audio.mp3", b"ID3 not a map")
    tarball = tmp_path / "2026_11_01_osu_files.tar.bz2"
    with tarfile.open(tarball, "w:bz2") as archive:
        archive.add(OSU_FIXTURES / names[2], arcname="2026_11_01_osu_files/129891.osu")
    invoke("ingest", "osu-files", str(osz), str(tarball), db=db_path)
    invoke("ingest", "osu-files", str(OSU_FIXTURES / "osu-1*.osu"), db=db_path)
    with duckdb.connect(str(db_path), read_only=True) as con:
        paths = [row[0] for row in con.execute("SELECT path FROM raw.osu_files ORDER BY path").fetchall()]
        from_name = con.execute("SELECT beatmap_id FROM raw.osu_files WHERE path LIKE '%129891.osu'").fetchone()
    assert sum("set.osz::" in p for p in paths) == 2
    assert sum(Path(p).name.startswith("osu-1") for p in paths) == 5
    assert from_name is not None


def test_truncated_tarball_keeps_what_was_read_and_the_run_goes_on(tmp_path, db_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for index, path in enumerate(sorted(OSU_FIXTURES.glob("osu-*.osu"))):
            archive.add(path, arcname=f"maps/{index + 1}.osu")
    data = buffer.getvalue()
    broken = tmp_path / "broken.tar"
    broken.write_bytes(data[: len(data) * 2 // 3])
    after = OSU_FIXTURES / "Soleily-Renatus-Gamu-Insane.osu"
    result = invoke("ingest", "osu-files", str(broken), str(after), db=db_path)
    assert "broken or truncated archive after" in result.stderr and "Traceback" not in result.stderr
    with duckdb.connect(str(db_path), read_only=True) as con:
        assert con.execute("SELECT path FROM parsed.parse_errors").fetchall() == [(str(broken),)]
        kept = con.execute("SELECT count(*) FROM raw.osu_files WHERE path LIKE '%broken.tar::%'").fetchone()[0]
        assert kept > 0
        assert con.execute("SELECT count(*) FROM raw.osu_files WHERE path = ?", [str(after)]).fetchone() == (1,)
    again = invoke("ingest", "osu-files", str(broken), str(after), db=db_path)
    assert f"0 added, {kept + 2} unchanged" in again.stdout and counts(db_path)["parsed.parse_errors"] == 1


def test_missing_input_is_a_clean_error(db_path):
    result = invoke("ingest", "osu-files", "no/such/folder", db=db_path, check=False)
    assert result.returncode == 1 and "no such file or folder" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("path", ["osu-1124896.osu"])
def test_ingest_api_returns_summary(tmp_path, path):
    con = warehouse.connect(tmp_path / "k.duckdb")
    summary = ingest_paths(con, [OSU_FIXTURES / path])
    assert (summary.files_added, summary.hit_objects) == (1, 1044)
