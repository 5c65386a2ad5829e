"""The real `kiai` entry point in a subprocess, as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_kiai(
    *args: str,
    db: Path | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    input_text: str | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run the real `kiai` entry point in a subprocess (as a user would) and capture its output."""
    command = [sys.executable, "-m", "kiai"]
    if db is not None:
        command += ["--db", str(db)]
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    result = subprocess.run(
        command + list(args),
        capture_output=True,
        text=True,
        cwd=cwd,
        env=full_env,
        input=input_text,
        timeout=600,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"kiai {' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result
