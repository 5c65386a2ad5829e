"""Ctrl-C for the CLI: remember it, stop the warehouse's running queries, let main() end in one line.

Libraries turn the KeyboardInterrupt into their own errors (DuckDB: `RuntimeError: Query interrupted` or
an InterruptException; TensorFlow through pybind11; Typer: `Exit(130)`), so main() asks `interrupted()`
rather than looking at what arrived.

Python runs a signal handler only between bytecodes of the main thread, and DuckDB does not always let it
(a big range or join ran on for minutes after Ctrl-C). So a watcher thread, woken by Python's signal wakeup
fd, gives the handler a moment; if it has not run by then, the watcher interrupts the queries itself and
the handler, when it finally runs, raises nothing more: one exception unwinds, and cleanup code (finally
blocks, rollbacks) is not hit by a second one.
"""

from __future__ import annotations

import signal
import socket
import sys
import threading
from types import FrameType

HANDLER_GRACE_SECONDS = 0.5

_lock = threading.Lock()
_state = {"interrupted": False, "handled": False, "watcher_acted": False}


def install() -> None:
    """Handle SIGINT from now on (main thread only)."""
    _state.update(interrupted=False, handled=False, watcher_acted=False)
    signal.signal(signal.SIGINT, _on_sigint)
    reader, writer = socket.socketpair()
    writer.setblocking(False)
    signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    threading.Thread(target=_watch, args=(reader, writer), name="kiai-sigint", daemon=True).start()


def interrupted() -> bool:
    return _state["interrupted"]


def ignore_more() -> None:
    """Ignore further Ctrl-C (while the one line is printed and the process exits)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    with _lock:
        _state["interrupted"] = _state["handled"] = True
        if _state["watcher_acted"]:
            return  # the interrupted query is already raising
    _interrupt_queries()  # inside DuckDB's own signal check: stop the query this raise interrupts
    signal.default_int_handler(signum, frame)  # KeyboardInterrupt, as Python does


def _watch(reader: socket.socket, writer: socket.socket) -> None:
    """Runs as the signal arrives, even while the main thread is inside DuckDB (which drops the GIL)."""
    while data := reader.recv(64):
        if signal.SIGINT not in data:
            continue
        _state["interrupted"] = True
        timer = threading.Timer(HANDLER_GRACE_SECONDS, _interrupt_if_unhandled)
        timer.daemon = True
        timer.start()
    del writer  # kept alive as long as the wakeup fd points at it


def _interrupt_if_unhandled() -> None:
    with _lock:
        if _state["handled"] or _state["watcher_acted"]:
            return
        _state["watcher_acted"] = True
    _interrupt_queries()


def _interrupt_queries() -> None:
    """Interrupt the warehouse's running queries. None runs before kiai.warehouse is imported, so it is looked up,
    not imported: importing it (and DuckDB, ~0.05 s) at start-up would slow every command, `kiai --help` too, and
    importing it in a signal handler could meet an import under way in the main thread."""
    warehouse = sys.modules.get("kiai.warehouse")
    interrupt = getattr(warehouse, "interrupt_queries", None)  # None too while the module is being imported
    if interrupt is not None:
        interrupt()
