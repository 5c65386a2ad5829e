"""Ctrl-C while a long command works: exit 130, one line on stderr, nothing half-written kept.

Each command runs in its own session and gets SIGINT on its whole process group, as a terminal's Ctrl-C
does (ingest's workers included), at a moment it is provably working: it has the warehouse open, or it has
printed that it started.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiai import warehouse
from kiai.cli import INTERRUPTED
from kiai.load.osu_files import ingest_paths
from tests.support.cli import run_kiai
from tests.support.ml import sample_warehouse

pytestmark = pytest.mark.slow
COPIES = 8  # the sample world's .osu files, each made a new beatmap 8 times over: about 2 s of ingest
DUMP_ROWS = 3_000_000  # about 1.5 s of import


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("interrupt")
    db, sample = sample_warehouse(folder)
    many = folder / "many"
    many.mkdir()
    for k in range(1, COPIES + 1):
        for path in sorted(sample.osu_dir.glob("*.osu")):  # type: ignore[attr-defined]
            text = path.read_bytes()
            text = re.sub(rb"BeatmapID:(\d+)", lambda m, k=k: b"BeatmapID:%d" % (int(m.group(1)) + k * 10**7), text)
            (many / f"{path.stem}_{k}.osu").write_bytes(text)
    return {"folder": folder, "db": db, "many": many}


_started: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def _no_leftovers() -> Iterator[None]:
    """A failing test must not leave a command running (the SQL one would run for hours)."""
    yield
    while _started:
        proc = _started.pop()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _start(
    *args: str, db: Path | None = None, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    database = ["--db", str(db), "--wait", "60"] if db is not None else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "kiai", *database, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        start_new_session=True,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )
    _started.append(proc)
    return proc


def _when_open(db: Path, proc: subprocess.Popen[str], timeout: float = 120) -> None:
    """Return once `proc` has the warehouse file open (read from /proc: looking does not touch the lock)."""
    deadline = time.monotonic() + timeout
    fds = Path(f"/proc/{proc.pid}/fd")
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            if any(os.path.realpath(fd) == str(db.resolve()) for fd in fds.iterdir()):
                return
        except OSError:
            pass  # a descriptor closed while looking
        time.sleep(0.05)
    raise AssertionError("the command never opened the warehouse")


def _when_printed(stream: object, needle: str) -> None:
    for line in stream:  # type: ignore[attr-defined]
        if needle in line:
            return
    raise AssertionError(f"{needle!r} never printed")


def _interrupt(proc: subprocess.Popen[str], after: float = 0.0) -> tuple[str, str]:
    """Ctrl-C to the process group; returns (stdout, stderr) and checks exit 130 and the one line."""
    time.sleep(after)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (out, err)
    assert err.strip() == INTERRUPTED, err
    return out, err


def _scratch() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).iterdir() if p.name.startswith("kiai-")}


def _one(db: Path, sql: str) -> int:
    con = warehouse.connect(db, read_only=True)
    try:
        return con.execute(sql).fetchall()[0][0]
    finally:
        con.close()


def test_sql_long_query(world: dict[str, Path]) -> None:
    db = world["db"]
    forever = "SELECT count(*) FROM range(1000000000000) t(x) WHERE x % 7 = 3"
    proc = _start("sql", forever, db=db)
    _when_open(db, proc)
    _interrupt(proc, after=0.5)
    out = world["folder"] / "rows.csv"
    proc = _start("sql", "SELECT x, x * 2 AS y FROM range(1000000000) t(x)", "-o", str(out), db=db)
    _when_open(db, proc)
    _interrupt(proc, after=1.0)
    assert not out.exists() and not list(world["folder"].glob(".rows.csv.*"))


def test_ingest_keeps_whole_batches_and_a_rerun_finishes(world: dict[str, Path], tmp_path: Path) -> None:
    db = tmp_path / "kiai.duckdb"
    before = _scratch()
    proc = _start("ingest", "osu-files", str(world["many"]), db=db)
    _when_open(db, proc)
    _interrupt(proc, after=0.5)
    assert _scratch() == before and sorted(p.name for p in tmp_path.iterdir()) == ["kiai.duckdb"]
    landed = _one(db, "SELECT count(*) FROM parsed.beatmap_files") if db.exists() else 0
    files = len(list(world["many"].iterdir()))
    assert landed < files
    half = "SELECT count(*) FROM parsed.beatmap_files f WHERE NOT EXISTS (SELECT 1 FROM raw.osu_files r USING (md5))"
    assert landed == 0 or _one(db, half) == 0
    rerun = run_kiai("ingest", "osu-files", str(world["many"]), db=db)
    assert f"{files:,} files: {files - landed:,} added, {landed:,} unchanged" in rerun.stdout
    objects = _one(world["db"], "SELECT count(*) FROM parsed.hit_objects")
    assert _one(db, "SELECT count(*) FROM parsed.hit_objects") == COPIES * objects


def test_dump_import_is_all_or_nothing(world: dict[str, Path], tmp_path: Path) -> None:
    dump = tmp_path / "scores.sql"
    with dump.open("w") as handle:
        handle.write(
            "CREATE TABLE `scores` (`id` bigint NOT NULL, `user_id` int NOT NULL, `pp` float, PRIMARY KEY (`id`));\n"
            "LOCK TABLES `scores` WRITE;\n"
        )
        for start in range(0, DUMP_ROWS, 1000):
            values = ",".join(f"({i},{i % 9973},{i * 0.37:.2f})" for i in range(start, start + 1000))
            handle.write(f"INSERT INTO `scores` VALUES {values};\n")
        handle.write("UNLOCK TABLES;\n-- Dump completed on 2026-11-01  2:31:39\n")  # a whole dump, as mysqldump ends it
    db = tmp_path / "kiai.duckdb"
    shutil.copy(world["db"], db)
    columns = "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'ppy' AND table_name = 'scores'"
    before = _one(db, columns), _one(db, "SELECT count(*) FROM ppy.scores")  # the empty stand-in until a dump lands
    proc = _start("import", "ppy-dump", str(dump), db=db)
    _when_open(db, proc)
    _interrupt(proc, after=0.3)
    assert (_one(db, columns), _one(db, "SELECT count(*) FROM ppy.scores")) == before


def test_build_features_keeps_only_finished_models(world: dict[str, Path], tmp_path: Path) -> None:
    db = tmp_path / "kiai.duckdb"
    shutil.copy(world["db"], db)
    con = warehouse.connect(db)
    ingest_paths(con, [world["many"]])  # ~9x the parsed rows: the build takes a while
    con.close()
    proc = _start("build-features", db=db)
    assert proc.stdout is not None
    _when_printed(proc.stdout, "built ")
    _interrupt(proc)
    versions = (
        "SELECT count(*) FROM kiai.model_versions v WHERE NOT EXISTS "
        "(SELECT 1 FROM information_schema.tables t WHERE t.table_name = v.model || '__' || v.fingerprint)"
    )
    assert _one(db, versions) == 0
    rerun = run_kiai("build-features", db=db)
    assert "models done" in rerun.stdout or "nothing to do" in rerun.stdout


def test_train_keras_keeps_no_run(world: dict[str, Path], tmp_path: Path) -> None:
    models = tmp_path / "models"
    proc = _start("train", "keras", "--models-dir", str(models), db=world["db"])
    assert proc.stderr is not None
    _when_printed(proc.stderr, "training keras on")
    _interrupt(proc, after=2.0)  # in model.fit
    assert not models.exists() or list(models.iterdir()) == []
    assert _one(world["db"], "SELECT count(*) FROM information_schema.tables WHERE table_name = 'training_runs'") == 0


def test_demo_stops_at_the_interrupted_step(tmp_path: Path) -> None:
    proc = _start("demo", "--quick", cwd=tmp_path, env={"KIAI_DB": "", "KIAI_CONFIG": "", "KIAI_DATA_DIR": ""})
    assert proc.stdout is not None
    _when_printed(proc.stdout, "Download and ingest")
    out, _ = _interrupt(proc, after=0.5)
    assert "Train" not in out and "Done" not in out
    assert not (tmp_path / "models").exists() and not (tmp_path / "reports").exists()
