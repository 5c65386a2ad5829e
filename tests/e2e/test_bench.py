"""`python -m bench --quick` runs a benchmark in its own process and prints one table from its figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import REPO


def test_bench_runner_quick_prints_the_table_and_writes_figures(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "sample_world", "--json", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    figures = json.loads(out.read_text())
    names = {f["figure"] for f in figures}
    assert {"generate the sample world", "generate vs ingest it"} <= names
    for f in figures:
        assert f["bench"] == "sample_world" and f["value"] > 0 and f["peer_value"] > 0
        assert f["ratio"] == f["value"] / f["peer_value"]
    for column in ("figure", "peer / ceiling", "ratio", "bar", "result"):
        assert column in proc.stdout
    assert "generate the sample world" in proc.stdout


def test_bench_runner_refuses_an_unknown_benchmark() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--only", "nope"], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode != 0 and "unknown benchmark" in proc.stderr


def test_measure_reports_the_peak_rss_of_the_child_tree_not_of_this_process() -> None:
    from bench._process import measure

    # This process's own peak: Linux hands it, as ru_maxrss, to any child this process spawns itself.
    ballast = b"x" * (256 << 20)
    bare = measure([sys.executable, "-c", "pass"])
    assert bare.returncode == 0 and bare.peak_rss_mib < 128, bare
    del ballast
    # A forked worker's peak counts (the tree's largest process), and its CPU time with it.
    worker = (
        "import os\npid = os.fork()\nif pid == 0:\n    data = b'x' * (160 << 20)\n    os._exit(0)\n"
        "os.waitpid(pid, 0)\nprint('done')"
    )
    run = measure([sys.executable, "-c", worker])
    assert run.stdout == "done\n" and 160 <= run.peak_rss_mib < 256, run
    assert run.cpu_seconds > 0 and run.seconds > 0


def test_measure_fails_on_a_failing_command_unless_told_not_to() -> None:
    from bench._process import measure

    failing = [sys.executable, "-c", "import sys; sys.exit('boom')"]
    assert measure(failing, check=False).returncode == 1
    with pytest.raises(SystemExit, match="boom"):
        measure(failing)
