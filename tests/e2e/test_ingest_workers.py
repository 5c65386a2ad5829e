"""An ingest whose batches are parsed by worker processes (forked from this one) lands what an inline one does."""

from __future__ import annotations

from kiai import warehouse
from tests.support.paths import OSU_FIXTURES

N_FIXTURES = len(list(OSU_FIXTURES.glob("*.osu")))


def test_ingest_in_worker_processes_matches_inline(tmp_path):
    """Several batches parsed by worker processes land exactly what one inline batch does."""
    from kiai.load import osu_files

    paths = sorted(OSU_FIXTURES.glob("*.osu"))
    results = {}
    for workers in (0, 2):
        con = warehouse.connect(tmp_path / f"w{workers}.duckdb")
        old = osu_files.BATCH_FILES
        osu_files.BATCH_FILES = 5
        try:
            summary = osu_files.ingest_sources(con, osu_files.read_sources(paths), workers=workers)
        finally:
            osu_files.BATCH_FILES = old
        results[workers] = con.execute(
            "SELECT md5, count(*), sum(time_ms), sum(coalesce(end_time_ms, 0)), string_agg(curve_points, '' ORDER BY "
            "object_index), sum(beat_length), sum(slider_velocity), count(*) FILTER (kiai) "
            "FROM parsed.hit_objects JOIN parsed.beatmap_files USING (file_id) GROUP BY md5 ORDER BY md5"
        ).fetchall()
        assert summary.files_added == N_FIXTURES
        con.close()
    assert results[0] == results[2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w0.duckdb", "w2.duckdb"]  # the workers' spool is gone
