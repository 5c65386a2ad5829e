"""`kiai ingest replays` on real files: the fixture replays land as the parser reads them, the same bytes twice
add nothing, bad files are error rows and the run goes on, worker processes land what one process lands, and
a published dump in o!rdr's layout lands its replays, its .osu files and its index."""

from __future__ import annotations

import hashlib
import zipfile

import duckdb
import numpy as np
import pytest

from kiai import warehouse
from kiai.load import replays
from kiai.load.replay_sources import ReplaySource
from kiai.osu.replay import MODES, REPLAY_PARSER_VERSION, parse_replay
from tests.support.cli import invoke
from tests.support.replays import distinct_copy, distinct_replays, fixture_replays, ordr_dump


def _connect(db_path):
    return warehouse.connect(db_path)


def test_fixture_replays_land_as_the_parser_reads_them(db_path):
    con = _connect(db_path)
    summary = replays.ingest_paths(con, [str(p) for p in fixture_replays()], workers=0)
    assert summary.replays_added == 8 and summary.parse_errors == 0
    for path in fixture_replays():
        data = path.read_bytes()
        replay = parse_replay(data)
        md5 = hashlib.md5(data).hexdigest()
        row = con.execute(
            "SELECT replay_id, beatmap_md5, mode, ruleset, game_version, player, n300, n100, n50, ngeki, nkatu, "
            "nmiss, score, max_combo, perfect, mods, mod_acronyms, played_at, life_bar, rng_seed, n_frames, "
            "CAST(score_info AS VARCHAR), parser_version, score_id, legacy_score_id "
            "FROM parsed.replays WHERE md5 = ?",
            [md5],
        ).fetchall()
        assert len(row) == 1, path.name
        (replay_id, *header, info, version, score_id, legacy_score_id) = row[0]
        assert header == [
            replay.beatmap_md5, replay.mode, MODES[replay.mode], replay.game_version, replay.player,
            replay.n300, replay.n100, replay.n50, replay.ngeki, replay.nkatu, replay.nmiss, replay.score,
            replay.max_combo, replay.perfect, replay.mods, replay.mod_acronyms, replay.played_at.replace(tzinfo=None),
            [{"time_ms": t, "life": life} for t, life in replay.life_bar], replay.rng_seed, replay.n_frames,
        ], path.name  # fmt: skip
        assert (info is None) == (replay.score_info is None) and version == REPLAY_PARSER_VERSION
        # the header's online id is a lazer replay's score id, a stable replay's legacy id
        if replay.is_lazer:
            assert (score_id, legacy_score_id) == (
                replay.online_score_id or (replay.score_info or {}).get("online_id"),
                None,
            )
        else:
            assert (score_id, legacy_score_id) == (None, replay.online_score_id)
        frames = con.execute(
            "SELECT frame_index, time_ms, x, y, keys FROM parsed.replay_frames WHERE replay_id = ? "
            "ORDER BY frame_index",
            [replay_id],
        ).fetchnumpy()
        assert np.array_equal(frames["frame_index"], np.arange(replay.n_frames))
        for name in ("time_ms", "x", "y", "keys"):
            assert np.array_equal(frames[name], getattr(replay, name)), (path.name, name)
        (raw,) = con.execute("SELECT content FROM raw.replays WHERE md5 = ?", [md5]).fetchall()[0]
        assert raw == data
    ids = [i for (i,) in con.execute("SELECT replay_id FROM parsed.replays").fetchall()]
    assert len(set(ids)) == 8

    before = _counts(con)
    again = replays.ingest_paths(con, [str(fixture_replays()[0].parent)], workers=0)
    assert (again.replays_added, again.replays_unchanged) == (0, 8)
    assert _counts(con) == before


def _counts(con) -> tuple[int, ...]:
    tables = ("raw.replays", "parsed.replays", "parsed.replay_frames", "parsed.replay_errors")
    return tuple(con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in tables)


def test_bad_replays_are_error_rows_and_the_run_goes_on(tmp_path, db_path, monkeypatch):
    good = fixture_replays()[0].read_bytes()
    folder = tmp_path / "replays"
    folder.mkdir()
    (folder / "a-good.osr").write_bytes(good)
    (folder / "b-truncated.osr").write_bytes(good[: len(good) // 2])
    (folder / "c-html.osr").write_bytes(b"<!DOCTYPE html><html>Too many requests</html>")
    (folder / "d-big.osr").write_bytes(good + bytes(2 * 2**20))  # over the 1 MB limit set below
    with zipfile.ZipFile(folder / "e-export.zip", "w") as archive:
        archive.writestr("Replays/one.osr", distinct_copy(fixture_replays()[1], 1))
        archive.writestr("Replays/readme.txt", "not a replay")
    (folder / "f-not-a-zip.zip").write_bytes(b"PK but not really")
    monkeypatch.setenv("KIAI_LIMIT_REPLAY_FILE_MB", "1")
    result = invoke("ingest", "replays", str(folder), db=db_path)
    assert "6 replays: 2 added, 0 unchanged, 4 could not be parsed" in result.stdout, result.stdout
    assert "Traceback" not in result.stderr
    with duckdb.connect(str(db_path), read_only=True) as con:
        errors = dict(con.execute("SELECT regexp_extract(path, '[^/]+$'), error FROM parsed.replay_errors").fetchall())
        assert sorted(errors) == ["b-truncated.osr", "c-html.osr", "d-big.osr", "f-not-a-zip.zip"]
        assert errors["b-truncated.osr"].startswith("truncated")
        assert "unknown mode" in errors["c-html.osr"]
        assert "larger than 1 MB" in errors["d-big.osr"] and "not a valid zip" in errors["f-not-a-zip.zip"]
        assert all("\n" not in e for e in errors.values())
        paths = [p for (p,) in con.execute("SELECT path FROM raw.replays ORDER BY path").fetchall()]
        assert paths[1].endswith("e-export.zip::Replays/one.osr")
    again = invoke("ingest", "replays", str(folder), db=db_path, env={"KIAI_LIMIT_REPLAY_FILE_MB": "1"})
    assert (
        "6 replays: 0 added, 6 unchanged, 0 could not be parsed" in again.stdout
    )  # errors are not recorded twice, again.stdout


def test_worker_processes_land_what_one_process_lands(tmp_path, monkeypatch):
    monkeypatch.setattr(replays, "BATCH_FILES", 7)  # several batches, so the pool starts (fork: inherited)
    monkeypatch.setattr(replays, "FRAMES_PER_CHUNK", 10_000)  # several record batches per spooled file
    sources = [ReplaySource(f"r{i}.osr", data) for i, data in enumerate(distinct_replays(40))]
    sources.insert(5, ReplaySource("bad.osr", b"\x00\x01"))
    tables = {}
    for workers in (0, 2):
        con = warehouse.connect(tmp_path / f"w{workers}.duckdb")
        summary = replays.ingest_sources(con, sources, workers=workers)
        assert (summary.replays_added, summary.parse_errors) == (40, 1)
        tables[workers] = con.execute(
            "SELECT r.md5, f.frame_index, f.time_ms, f.x, f.y, f.keys FROM parsed.replay_frames f "
            "JOIN parsed.replays r USING (replay_id) ORDER BY r.md5, f.frame_index"
        ).fetchall()
        assert not list(tmp_path.glob(f".w{workers}.duckdb.scratch/*")), "the spool is removed"
    assert tables[0] == tables[2] and len(tables[0]) > 100_000


def test_ids_a_fetch_brings_fill_those_an_ingest_lacked(db_path):
    con = _connect(db_path)
    data = distinct_copy(fixture_replays()[-1], 3, online_score_id=None)
    replays.ingest_sources(con, [ReplaySource("local.osr", data)], workers=0)
    assert con.execute("SELECT score_id, legacy_score_id FROM parsed.replays").fetchall() == [(None, None)]
    summary = replays.ingest_sources(con, [ReplaySource("fetched.osr", data, 777, 555)], workers=0)
    assert summary.replays_added == 0
    for table in ("raw.replays", "parsed.replays"):
        assert con.execute(f"SELECT score_id, legacy_score_id FROM {table}").fetchall() == [(777, 555)]


def test_an_ordr_dump_lands_its_replays_maps_and_index(tmp_path, db_path):
    kinds = ordr_dump(tmp_path / "ordr-replay-dump")
    result = invoke("ingest", "replays", str(tmp_path / "ordr-replay-dump"), db=db_path)
    assert "5 replays: 4 added, 0 unchanged, 1 could not be parsed" in result.stdout, result.stdout
    assert "5 index rows in raw.replay_dump_index, beatmaps: 3 added" in result.stdout
    with duckdb.connect(str(db_path), read_only=True) as con:
        index = con.execute(
            'SELECT "replayHash", osr_md5, "performance-pp", "beatmap-title" FROM raw.replay_dump_index'
        ).fetchall()
        assert len(index) == 5
        for replay_hash, osr_md5, pp, title in index:
            assert (osr_md5 == replay_hash) == (kinds[replay_hash] != "broken"), kinds[replay_hash]
            assert isinstance(pp, int) and title.startswith("map ")
        # replays of the maps in beatmaps/ join their parsed .osu files through beatmap_md5
        joined = con.execute(
            "SELECT count(*) FROM parsed.replays r JOIN parsed.beatmap_files b ON b.md5 = r.beatmap_md5"
        ).fetchall()[0][0]
        assert joined == sum(kind == "map" for kind in kinds.values())
    again = invoke("ingest", "replays", str(tmp_path / "ordr-replay-dump" / "data"), db=db_path)
    assert "Warning" not in result.stderr + again.stderr
    assert "0 added, 5 unchanged" in again.stdout and "beatmaps: 0 added, 3 unchanged" in again.stdout
    with duckdb.connect(str(db_path), read_only=True) as con:
        dumps = con.execute("SELECT dump, count(*) FROM raw.replay_dump_index GROUP BY ALL").fetchall()
    assert [n for _, n in dumps] == [5], "the same dump again replaces its rows"


def test_missing_input_is_one_line(db_path):
    result = invoke("ingest", "replays", "/nonexistent/replays", db=db_path, check=False)
    assert result.returncode == 1 and "no such file or folder" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("cut", [0, 1, 40, 200])
def test_prefixes_of_a_replay_are_error_rows(db_path, cut):
    data = fixture_replays()[3].read_bytes()[:cut]
    con = _connect(db_path)
    summary = replays.ingest_sources(con, [ReplaySource("cut.osr", data)], workers=0)
    assert summary.parse_errors == 1 and summary.replays_added == 0
