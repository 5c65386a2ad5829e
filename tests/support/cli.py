"""The `kiai` command line for tests: `invoke` runs it in this process (a command's behaviour), `run_kiai` in a
subprocess as a user runs it (tests/e2e: the entry point, signals, worker processes, the installed wheel)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import traceback
import warnings
from collections.abc import Iterator
from contextlib import chdir, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from kiai.cli import run

COLUMNS = "200"  # both runners: a wide terminal's width, so tables are not squeezed to 80 columns

# Python's own warning filters at startup (pytest's are stricter or record them instead): warnings reach stderr
# in `invoke` as they do in a subprocess.
STARTUP_FILTERS = [
    ("default", None, DeprecationWarning, "__main__", 0),
    ("ignore", None, DeprecationWarning, None, 0),
    ("ignore", None, PendingDeprecationWarning, None, 0),
    ("ignore", None, ImportWarning, None, 0),
    ("ignore", None, ResourceWarning, None, 0),
]


@dataclass
class Invoked:
    """What `invoke` returns: the fields tests read from a subprocess.CompletedProcess."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    exception: BaseException | None = field(default=None, repr=False)  # one the command did not handle


def invoke(
    *args: str,
    db: Path | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    input_text: str | None = None,
    check: bool = True,
) -> Invoked:
    """Run `kiai ARGS` in this process (kiai.cli.run) and capture its exit code, stdout and stderr, as `run_kiai`
    does in a subprocess. `env` and `cwd` apply during the run only; stdin is `input_text` (else empty).

    An exception the command does not handle is re-raised with `check`; without it, it ends the run as in a
    subprocess: exit code 1 and its traceback on stderr."""
    argv = (["--db", str(db)] if db is not None else []) + list(args)
    exception: BaseException | None = None
    with (
        _environment({"COLUMNS": COLUMNS, **(env or {})}),
        chdir(cwd) if cwd is not None else nullcontext(),
        _streams(input_text) as captured,
        warnings.catch_warnings(),
    ):
        warnings.filters[:] = STARTUP_FILTERS
        try:
            returncode = run(argv)
        except Exception as exc:
            if check:
                raise
            traceback.print_exc(file=sys.stderr)
            returncode, exception = 1, exc
    result = Invoked(argv, returncode, captured.stdout, captured.stderr, exception)
    if check and result.returncode != 0:
        raise AssertionError(f"kiai {' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dataclass
class _Captured:
    stdout: str = ""
    stderr: str = ""


@contextmanager
def _streams(input_text: str | None) -> Iterator[_Captured]:
    """stdin from `input_text`; stdout and stderr into bytes (text streams with a .buffer, as a process's are),
    read as subprocess.run(text=True) reads them: decoded, with universal newlines."""
    captured = _Captured()
    saved = sys.stdin, sys.stdout, sys.stderr
    sys.stdin = io.TextIOWrapper(io.BytesIO((input_text or "").encode()), encoding="utf-8")
    sys.stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)
    sys.stderr = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)
    try:
        yield captured
    finally:
        captured.stdout, captured.stderr = _text(sys.stdout), _text(sys.stderr)
        sys.stdin, sys.stdout, sys.stderr = saved


def _text(stream: io.TextIOWrapper) -> str:
    stream.flush()
    data = stream.buffer.getvalue()  # type: ignore[attr-defined]
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8").read()


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
    full_env = {**os.environ, "COLUMNS": COLUMNS, **(env or {})}
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
