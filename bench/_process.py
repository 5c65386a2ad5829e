"""Run a command as a child process and measure it: wall seconds, CPU seconds and true peak RSS of its tree.

    from _process import measure
    run = measure([sys.executable, "-m", "kiai", "--db", str(db), "ingest", "osu-files", str(folder)])
    run.seconds, run.cpu_seconds, run.peak_rss_mib, run.stdout

Why not wait4() or RUSAGE_CHILDREN directly: on Linux a process's ru_maxrss survives fork and exec, so a child
measured from the bench reports at least the bench's own peak RSS at spawn time (after a 600 MB peak in the bench,
a bare `python -c pass` child reports 613 MiB), and RUSAGE_CHILDREN is also the running maximum over every child
reaped so far. So the bench starts a small launcher (this file run as a script, ~14 MiB) that spawns the command
and waits for it: the command inherits only the launcher's high-water mark, and wait4() in the launcher gives
exactly the command's tree (the same `python -c pass` reads 14 MiB through it).

Peak RSS is the largest peak of any one process of the tree (the command, or a worker it forked), not their sum:
that is what ru_maxrss means for a tree, the kernel records it exactly (no polling, no missed peak), and a sum of
forked workers' RSS would count the pages they share copy-on-write with their parent once per worker. CPU seconds
are user + system of the whole tree. Both count the descendants the command waits for, as ProcessPoolExecutor's
and subprocess's do.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Measured:
    """One run of a command: its exit code, its output (text) and what it cost."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float  # wall time of the command, from its spawn to its exit
    cpu_seconds: float  # user + system of the command and every descendant it waited for
    peak_rss_mib: float  # the largest peak RSS of any one process in its tree


def measure(
    command: Sequence[str],
    *,
    cwd: Path | str | None = None,
    env: dict[str, str] | None = None,
    check: bool = True,
) -> Measured:
    """Run `command` to its end, its stdout and stderr captured; with `check`, a non-zero exit raises SystemExit
    with the end of its stderr."""
    report_read, report_write = os.pipe()
    with os.fdopen(report_read, "rb") as report:
        try:
            proc = subprocess.Popen(
                [sys.executable, __file__, str(report_write), *command],
                cwd=cwd,
                env=env,
                pass_fds=(report_write,),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        finally:
            os.close(report_write)  # the launcher holds the only write end: its exit ends the report
        stdout, stderr = proc.communicate()
        usage = json.loads(report.read() or b"null")
    out, err = stdout.decode(errors="replace"), stderr.decode(errors="replace")
    if usage is None:
        raise SystemExit(f"the launcher of {' '.join(command)} failed (exit {proc.returncode}):\n{err}")
    if check and usage["returncode"] != 0:
        tail = "\n".join(err.strip().splitlines()[-20:])
        raise SystemExit(f"{' '.join(command)} failed (exit {usage['returncode']}):\n{tail}")
    return Measured(stdout=out, stderr=err, **usage)


def _launch(report_fd: int, command: list[str]) -> int:
    """The launcher: spawn `command` (stdin, stdout and stderr inherited), wait for it, write its usage as JSON."""
    started = time.perf_counter()
    proc = subprocess.Popen(command)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    returncode = os.waitstatus_to_exitcode(status)
    with os.fdopen(report_fd, "w") as report:
        json.dump(
            {
                "returncode": returncode,
                "seconds": seconds,
                "cpu_seconds": usage.ru_utime + usage.ru_stime,
                "peak_rss_mib": usage.ru_maxrss / 1024,  # Linux: KiB
            },
            report,
        )
    return 0


if __name__ == "__main__":
    sys.exit(_launch(int(sys.argv[1]), sys.argv[2:]))
