"""kiai.Warehouse called directly: a real DuckDB file, the sandbox on 127.0.0.1 for the network, and a recording
reporter in place of the terminal (events asserted instead of stderr parsed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiai import Warehouse, warehouse
from kiai.config import load_config
from kiai.errors import KiaiError
from kiai.progress import (
    ModelBuilt,
    Notice,
    PlanReady,
    RecordingReporter,
    TableImported,
    TaskAdvanced,
    TaskClosed,
    TaskNote,
    TaskStarted,
    task,
)
from kiai.sandbox import SandboxServer
from tests.support.cli import invoke
from tests.support.paths import FIXTURES
from tests.support.sandbox import project
from tests.support.sandbox import server as sandbox

server = sandbox  # the fixture: the sandbox world of tests/fixtures with two collections
OSU = FIXTURES / "osu"
DUMP = FIXTURES / "ppy_dump" / "2026_11_01_performance_osu_top_1000"


def online(tmp_path: Path, server: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Warehouse:
    """A Warehouse whose kiai.toml points at the sandbox (no pacing), in its own working folder."""
    folder, env = project(tmp_path, server)
    monkeypatch.chdir(folder)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    toml = folder / "kiai.toml"
    return Warehouse(config=load_config(config_file=toml), reporter=RecordingReporter())


def test_fetch_download_and_ingest_through_the_facade(server, tmp_path, monkeypatch):
    with online(tmp_path, server, monkeypatch) as wh:
        recorded: RecordingReporter = wh.reporter  # type: ignore[assignment]
        first = wh.fetch_collections()
        assert (first.configured, first.fetched, first.already_stored, first.not_found) == (3, 3, 0, 1)
        assert first.beatmaps_listed == len(server.world.osu_files)
        again = wh.fetch_collections()
        assert (again.fetched, again.already_stored) == (0, 3)

        beatmaps = wh.fetch_beatmaps()
        assert beatmaps.found == len(server.world.osu_files) and beatmaps.missing == []
        assert wh.fetch_beatmaps().skipped == len(server.world.osu_files)  # a rerun asks for nothing

        scores = wh.fetch_user_scores(7562902, "firsts", page_size=2)
        assert scores.seen == len(server.world.user_scores[(7562902, "firsts")]) and not scores.not_found
        assert wh.fetch_user_scores(424242).not_found
        with pytest.raises(KiaiError, match="--type must be one of"):
            wh.fetch_user_scores(7562902, "worst")

        result = wh.download_osu_files()
        assert result.download.downloaded == len(server.world.osu_files) and result.download.failed == {}
        assert result.ingested is not None and result.ingested.files_added == len(server.world.osu_files)
        assert wh.download_osu_files().download.skipped == len(server.world.osu_files)

    started = {event.task: event.description for event in recorded.of(TaskStarted)}
    assert {"collections", "beatmaps", "firsts scores of 7562902", ".osu files"} <= set(started.values())
    assert sorted(started) == sorted(event.task for event in recorded.of(TaskClosed))  # every bar closed
    downloads = next(t for t, d in started.items() if d == ".osu files")
    advanced = [e.completed for e in recorded.of(TaskAdvanced) if e.task == downloads]
    assert advanced == list(range(1, len(server.world.osu_files) + 1))
    assert any("MB free" in text for text in recorded.texts(Notice))
    # every connection was closed: another process can write at once
    invoke("sql", "--write", "SELECT 1", db=tmp_path / "wh.duckdb")


def test_a_server_asking_to_wait_is_a_note_on_the_task(server, tmp_path, monkeypatch):
    wh = online(tmp_path, server, monkeypatch)
    server.inject("429", path="/api/v2/beatmaps", times=1, retry_after="1")
    wh.fetch_beatmaps([sorted(server.world.osu_files)[0]])
    notes = wh.reporter.of(TaskNote)  # type: ignore[attr-defined]
    assert any(n.text and "waiting" in n.text for n in notes) and notes[-1].text is None  # shown, then cleared


def test_ingest_build_and_models(tmp_path):
    recorded = RecordingReporter()
    wh = Warehouse(tmp_path / "wh.duckdb", reporter=recorded)
    summary = wh.ingest([OSU])
    files = len(list(OSU.glob("*.osu")))
    assert summary.files_added == files and summary.parse_errors == 0
    assert wh.ingest([OSU]).files_unchanged == files
    assert wh.reparse() is None  # every file parsed by this parser
    counts = {(t.schema, t.name): t.rows for t in wh.tables()}
    assert counts[("parsed", "beatmap_files")] == files

    report = wh.build()
    assert report.ok and report.todo
    (plan,) = recorded.of(PlanReady)
    assert plan.plan is report
    assert [e.result.model for e in recorded.of(ModelBuilt)] == [r.model for r in report.results]
    assert not wh.build().todo and len(recorded.of(ModelBuilt)) == len(report.results)  # nothing rebuilt

    assert all(s.state == "up to date" for s in wh.model_statuses())
    details = wh.model("file_features")
    assert "parsed.hit_objects" in details.sources and "beatmap_features" in details.downstream
    assert any(v.current for v in details.versions)
    assert wh.model_diff("file_features").reasons == []
    assert wh.prune(keep=1) == []  # one version each: nothing to drop
    assert wh.migrate().applied == []


def test_query_yields_results_and_closes_the_connection(tmp_path):
    wh = Warehouse(tmp_path / "wh.duckdb")
    wh.create()
    with wh.query("SELECT $a + 1 AS b; SELECT 'two' AS c", {"a": 41}) as results:
        first = next(results)
        assert first.columns == ["b"] and list(first.rows()) == [(42,)]
        assert list(next(results).rows()) == [("two",)]  # each statement runs when its result is asked for
    with wh.query("SELECT `one` FROM (SELECT 1 AS `one`) AS t LIMIT 1", dialect="mysql") as (result,):
        assert list(result.rows()) == [(1,)]
    with pytest.raises(KiaiError, match="unknown --dialect"), wh.query("SELECT 1", dialect="oracle"):
        pass
    warehouse.connect(wh.path).close()  # nothing left open: a writer gets in


def test_import_dump_reports_each_table(tmp_path):
    recorded = RecordingReporter()
    result = Warehouse(tmp_path / "wh.duckdb", reporter=recorded).import_dump([DUMP], tables={"osu_beatmaps"})
    assert [t.name for t in result.tables] == ["osu_beatmaps"] and result.rows > 0
    assert [e.result.name for e in recorded.of(TableImported)] == ["osu_beatmaps"]
    (started,) = recorded.of(TaskStarted)
    assert started.description == "ppy dump" and recorded.of(TaskAdvanced)[-1].completed == started.total


def test_a_task_is_closed_when_its_block_fails():
    recorded = RecordingReporter()
    with pytest.raises(ValueError), task(recorded, "work", 3) as progress:
        progress.advance(2)
        raise ValueError
    assert [type(e) for e in recorded.events] == [TaskStarted, TaskAdvanced, TaskClosed]
    assert recorded.of(TaskAdvanced)[0].completed == 2
