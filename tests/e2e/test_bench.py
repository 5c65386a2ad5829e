"""`python -m bench --quick` runs a benchmark in its own process and prints one table from its figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
