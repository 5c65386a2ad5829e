"""What a killed ingest or dump import leaves behind: no worker processes, no scratch after the next run.

Real processes: an ingest in a subprocess with its worker pool, killed with SIGKILL and SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kiai.files import make_scratch, remove_scratch, scratch_root, sweep_scratch
from tests.support.cli import run_kiai
from tests.support.paths import OSU_FIXTURES

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")

SLOW_INGEST = """
import sys, time
from pathlib import Path
from kiai import warehouse
from kiai.load import osu_files
from kiai.load.osu_sources import OsuSource

osu_files.BATCH_FILES = 2
datas = [p.read_bytes() for p in sorted(Path(sys.argv[2]).glob("osu-*.osu"))]

def sources():
    for i in range(10**6):
        yield OsuSource(f"m{i}.osu", datas[i % len(datas)] + b"// %d\\n" % i)
        time.sleep(0.02)

print("ingesting", flush=True)
osu_files.ingest_sources(warehouse.connect(sys.argv[1]), sources(), workers=2)
"""


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            state, ppid = stat.rsplit(")", 1)[1].split()[:2]
            if int(ppid) == pid and state not in "ZX":
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] not in "ZX"
    except OSError:
        return False


def _wait(condition, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_workers_die_with_a_killed_ingest_and_its_scratch_is_swept(tmp_path, how):
    db = tmp_path / "wh" / "k.duckdb"
    db.parent.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_INGEST, str(db), str(OSU_FIXTURES)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"ingesting\n"
        assert _wait(lambda: len(_children(proc.pid)) == 2), "the worker pool did not start"
        workers = _children(proc.pid)
        assert list(scratch_root(db).glob("ingest-*"))
        os.kill(proc.pid, how)
        proc.wait(timeout=30)
        # the workers go with it, and with them every holder of the pipe: a reader sees its end
        assert _wait(lambda: not any(_alive(pid) for pid in workers), 10), "a worker outlived its parent"
        rest: list[bytes] = []
        reader = threading.Thread(target=lambda: rest.append(proc.stdout.read()), daemon=True)
        reader.start()
        reader.join(10)
        assert rest, "something still holds the ingest's stdout"
    finally:
        if proc.poll() is None:
            proc.kill()
    assert list(scratch_root(db).glob("ingest-*")), "the killed run could not remove its spool"
    run_kiai("ingest", "osu-files", str(OSU_FIXTURES / "old-stacking.osu"), db=db)
    assert not scratch_root(db).exists()  # swept at the start of the next run


def test_a_live_scratch_folder_is_never_swept(tmp_path):
    warehouse_file = tmp_path / "k.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from kiai.files import make_scratch;"
         "print(make_scratch(Path(sys.argv[1]), 'dump'), flush=True); time.sleep(60)", str(warehouse_file)],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        live = Path(holder.stdout.readline().strip())
        mine = make_scratch(warehouse_file, "ingest")
        assert live.is_dir() and mine.is_dir() and live.parent == mine.parent == scratch_root(warehouse_file)
        assert sweep_scratch(scratch_root(warehouse_file)) == []  # both held
        holder.kill()
        holder.wait()
        assert sweep_scratch(scratch_root(warehouse_file)) == [live]
        assert mine.is_dir()
        remove_scratch(mine)
        assert not scratch_root(warehouse_file).exists()
    finally:
        holder.kill()
