"""Nothing a user types loses work: writers wait for a busy warehouse (--wait / KIAI_WAIT), and a finished training
run is registered even when another process holds the warehouse. On real warehouse files, with a real second process
holding the lock. (`kiai sql` is read-only for real and its outputs never land on a database file:
tests/unit/cli/test_sql_cmd.py.)"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from kiai import warehouse
from kiai.ml.runs import UNREGISTERED, list_runs, unregistered_runs
from tests.support.cli import run_kiai
from tests.support.ml import make_dataset
from tests.support.scores import SCORES, count_rows, make_scores_db

HOLDER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "read")
print("holding", flush=True)
sys.stdin.readline()
"""


@pytest.fixture
def scores_db(tmp_path: Path) -> Path:
    return make_scores_db(tmp_path / "kiai.duckdb", run_kiai)


@contextmanager
def holding(db: Path, mode: str) -> Iterator[subprocess.Popen[str]]:
    """Another process with a `mode` ("read" or "write") connection to `db`, until the block ends."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(db), mode], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "holding\n"
        yield proc
    finally:
        release(proc)


def release(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=30)


def kiai(*args: str, db: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "kiai", "--db", str(db), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )


class Lines:
    """A stream read line by line in a thread, so a test can wait for a line with a timeout."""

    def __init__(self, stream: object) -> None:
        self.seen: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self._lines.put(line)
        self._lines.put(None)

    def wait_for(self, needle: str, timeout: float = 120) -> str:
        while True:
            line = self._lines.get(timeout=timeout)
            if line is None:
                raise AssertionError(f"{needle!r} never came; saw {self.seen}")
            self.seen.append(line)
            if needle in line:
                return line

    def rest(self) -> str:
        lines = []
        while (line := self._lines.get(timeout=120)) is not None:
            lines.append(line)
        self.seen += lines
        return "".join(lines)


# --- writers wait (--wait / KIAI_WAIT); readers blocked by a writer get a hint ---------------------------------


def test_wait_succeeds_when_the_holder_exits_in_time(scores_db: Path) -> None:
    with holding(scores_db, "write") as holder:
        proc = kiai("sql", "--write", "INSERT INTO ppy.scores VALUES (-1)", "--wait", "60", db=scores_db)
        stderr = Lines(proc.stderr)
        line = stderr.wait_for("waiting up to 60 s")
        assert f"process {holder.pid}" in line
        release(holder)
        assert proc.wait(timeout=60) == 0, stderr.rest()
    assert count_rows(scores_db) == SCORES + 1


@pytest.mark.parametrize("how", ["option", "env"])
def test_wait_fails_in_one_line_when_the_holder_stays(scores_db: Path, how: str) -> None:
    args, env = (["--wait", "1"], None) if how == "option" else ([], {"KIAI_WAIT": "1"})
    with holding(scores_db, "read") as holder:
        result = run_kiai("ingest", "osu-files", str(scores_db.parent), *args, db=scores_db, env=env, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[0].endswith("waiting up to 1 s for it (--wait)") and f"process {holder.pid}" in lines[0]
    assert len(lines) == 2 and f"still in use by process {holder.pid} after waiting 1 s" in lines[1]


def test_without_wait_a_writer_and_a_blocked_reader_are_told_who_and_how(scores_db: Path) -> None:
    with holding(scores_db, "read") as reader:
        writer = run_kiai("sql", "--write", "SELECT 1", db=scores_db, check=False)
    assert writer.returncode == 1 and f"process {reader.pid}" in writer.stderr and "--wait" in writer.stderr
    with holding(scores_db, "write") as holder:
        blocked = run_kiai("sql", "SELECT 1", db=scores_db, check=False)
    assert blocked.returncode == 1 and "Traceback" not in blocked.stderr
    assert f"process {holder.pid}" in blocked.stderr and "writing" in blocked.stderr and "--wait" in blocked.stderr


# --- a finished training run is always registered --------------------------------------------------------------


@pytest.fixture
def synthetic(tmp_path: Path) -> Path:
    db = tmp_path / "kiai.duckdb"
    make_dataset(db, n_sets=30)
    return db


def test_a_run_finishing_while_another_process_reads_is_registered_once_the_lock_frees(
    synthetic: Path, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    with holding(synthetic, "read") as holder:  # e.g. `kiai sql ... | less`, or a notebook
        proc = kiai("train", "lightgbm", "--models-dir", str(models), db=synthetic)
        stderr = Lines(proc.stderr)
        line = stderr.wait_for("waiting up to 120 s")
        assert f"process {holder.pid}" in line
        release(holder)
        assert proc.wait(timeout=120) == 0, stderr.rest()
    con = warehouse.connect(synthetic, read_only=True)
    (run,) = list_runs(con)
    con.close()
    assert run.path.parent == models.resolve() and not (run.path / UNREGISTERED).exists()


def test_a_run_kept_unregistered_is_registered_by_the_next_compare(synthetic: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    env = {"KIAI_MODELS_DIR": str(models)}
    with holding(synthetic, "read") as holder:
        result = run_kiai("train", "lightgbm", "--wait", "1", db=synthetic, env=env, check=False)
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert f"process {holder.pid}" in result.stderr and "`kiai compare`" in result.stderr
        (kept,) = unregistered_runs(models, synthetic)
        assert kept.run_id in result.stderr and (kept.path / "manifest.json").is_file()
        busy = run_kiai("compare", db=synthetic, env=env)  # still busy: compare reads and says so
        assert "wait to be registered" in busy.stderr and "no training runs yet" in busy.stdout
    compared = run_kiai("compare", "--format", "json", db=synthetic, env=env)
    assert f"registered run {kept.run_id}" in compared.stderr
    assert [row["run_id"] for row in json.loads(compared.stdout)] == [kept.run_id]
    assert unregistered_runs(models, synthetic) == []
    again = run_kiai("compare", "--format", "json", db=synthetic, env=env)
    assert "registered" not in again.stderr and len(json.loads(again.stdout)) == 1


def test_the_next_train_registers_a_waiting_run_first(synthetic: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    with holding(synthetic, "read"):
        first = run_kiai("train", "lightgbm", "--models-dir", str(models), "--wait", "0.5", db=synthetic, check=False)
    assert first.returncode == 1
    (waiting,) = unregistered_runs(models, synthetic)
    run_kiai("train", "lightgbm", "--models-dir", str(models), db=synthetic)
    con = warehouse.connect(synthetic, read_only=True)
    ids = [run.run_id for run in list_runs(con)]
    con.close()
    assert len(ids) == 2 and ids[0] == waiting.run_id and unregistered_runs(models, synthetic) == []
    other = tmp_path / "other.duckdb"  # a run waiting for one warehouse is never registered in another
    make_dataset(other, n_sets=30)
    assert unregistered_runs(models, other) == []
