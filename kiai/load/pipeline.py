"""The batch pipeline both file ingests run (`.osu` files, `.osr` replays), and their worker processes.

This process prepares batches in order (read, hash, drop what is already landed, hand the rest to a
worker) and lands them in order, each in its own transaction; worker processes parse meanwhile and
leave their Arrow tables in a spool folder beside the warehouse, which the next run sweeps if a killed
one could not. DuckDB gets a memory limit while it lands, so peak memory does not grow with the corpus.
Workers leave Ctrl-C to this process and die with it, also on kill -9.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import os
import queue
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_all_start_methods, get_context
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import Protocol, TypeVar

import duckdb
import pyarrow as pa

from kiai.files import database_file, make_scratch, remove_scratch, scratch_root, sweep_scratch
from kiai.warehouse import appending, memory_limit, setting

READ_AHEAD = 2  # batches a reading thread keeps ready (read and hashed) ahead of the one handed out
IN_FLIGHT_PER_WORKER = 2  # batches queued per worker: they never wait for the main process to hand out work
INGEST_MEMORY_LIMIT = "256MB"  # DuckDB caches written blocks up to its limit: without one, RSS grows with the corpus
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc mallopt() parameters
PR_SET_PDEATHSIG = 1  # Linux prctl(): the signal a process gets when its parent dies


class Pending(Protocol):
    """A prepared batch: its parse may still run in a worker."""

    def ready(self) -> bool: ...


Batch = TypeVar("Batch")
Prepared = TypeVar("Prepared", bound=Pending)


def run_batches(
    con: duckdb.DuckDBPyConnection,
    batches: Iterable[tuple[Batch, bool]],
    prepare: Callable[[Batch, ProcessPoolExecutor | None, Path | None], Prepared],
    land: Callable[[Prepared], None],
    workers: int,
    scratch: str,
    worker_init: Callable[[int], None],
    always_spool: bool = False,
    in_transaction: bool = False,
    duckdb_threads: int | None = None,
) -> None:
    """Prepare each (batch, full) and land them in order. Workers start with the first full batch (only the
    last one can be short: a full one means more follow, worth starting them for); the spool folder with
    them, or at once with `always_spool` (a parse in this process writes there too). The batches land in the
    caller's transaction (`in_transaction`) or in their own, checkpointed at the end (kiai.warehouse.appending);
    DuckDB runs `duckdb_threads` threads meanwhile (default: its own setting)."""
    sweep_scratch(scratch_root(database_file(con)))  # spools of runs killed before they could remove them
    pending: deque[Prepared] = deque()
    pool: ProcessPoolExecutor | None = None
    spool: Path | None = None
    try:
        with (
            memory_limit(con, INGEST_MEMORY_LIMIT),
            setting(con, "threads", duckdb_threads) if duckdb_threads else contextlib.nullcontext(),
            appending(con, checkpoint=not in_transaction),
        ):
            for batch, full in batches:
                starting = pool is None and workers > 1 and full
                if spool is None and (always_spool or starting):
                    spool = make_scratch(database_file(con), scratch)
                if starting:
                    pool = ProcessPoolExecutor(
                        workers, mp_context=process_context(), initializer=worker_init, initargs=(os.getpid(),)
                    )
                pending.append(prepare(batch, pool, spool))
                # land at most one batch per batch handed out, so the workers never run dry while this
                # process lands a run of finished batches
                if len(pending) > max(IN_FLIGHT_PER_WORKER * workers, 1) or pending[0].ready():
                    land(pending.popleft())
            while pending:
                land(pending.popleft())
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if spool is not None:
            remove_scratch(spool)


def default_workers() -> int:
    return min(os.cpu_count() or 1, 4)


def landing_threads(workers: int) -> int:
    """DuckDB's threads while `.osu` batches land: half the cores when workers parse (at least one), else all.

    Storing the rows takes about as much CPU as parsing them (2.1 vs 1.9 CPU-s on the ingest bench), so the
    two halves keep pace; DuckDB's threads beyond that only contend with the workers: on 2 cores, one thread
    stores the bench's rows in 0.35 CPU-s less than two (2.55 vs 2.92 CPU-s for the whole main process).
    Not for replays: there parsing is the critical path, and bench/ingest_replays.py was no faster with it.
    """
    cores = os.cpu_count() or 1
    return max(1, cores // 2) if workers > 1 else cores


def process_context() -> BaseContext:
    """fork where the platform has it (no re-import of __main__, instant start), else the default."""
    methods = get_all_start_methods()
    return get_context("fork" if "fork" in methods else methods[0])


def start_worker(parent: int, niceness: int = 0) -> None:
    """A worker leaves Ctrl-C to the main process, which stops it and keeps finished batches, and dies with
    it: a worker outliving a killed ingest would hold its memory and its stdout forever. `niceness` yields
    the CPU to the main process where that is the critical path."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(parent)
    reuse_freed_memory()
    if niceness and hasattr(os, "nice"):
        os.nice(niceness)


def reuse_freed_memory() -> None:
    """Ask glibc to keep large freed blocks for reuse instead of returning them to the kernel.

    Parsing a batch makes many NumPy temporaries of several MB; by default each is a fresh mmap,
    and the kernel zeroes its pages on first touch: about a fifth of the parse time. Blocks up to
    32 MiB (glibc's ceiling) then come from the heap, which keeps up to 128 MiB of free memory.
    Elsewhere (no glibc) this does nothing.
    """
    try:
        libc = ctypes.CDLL(None)
        if libc.mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1:  # 0: refused, and then the trim setting stays too
            libc.mallopt(M_TRIM_THRESHOLD, 128 << 20)
    except (OSError, AttributeError, TypeError):
        pass


def die_with_parent(parent: int) -> None:
    """End this process when `parent` dies: a kernel signal on Linux (prctl), else a watching thread."""
    try:
        signalled = ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL) == 0
    except (OSError, AttributeError, TypeError):
        signalled = False
    if not signalled:
        threading.Thread(target=_watch_parent, args=(parent,), name="kiai-parent-watch", daemon=True).start()
    if os.getppid() != parent:  # it died before the signal was asked for
        os._exit(1)


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def insert(con: duckdb.DuckDBPyConnection, table: str, data: object) -> None:
    """INSERT an Arrow table (or record batch reader) by column name."""
    con.register("_kiai_batch", data)
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _kiai_batch")
    finally:
        con.unregister("_kiai_batch")


Item = TypeVar("Item")
_DONE = object()


def read_ahead(
    items: Iterable[Item], depth: int = READ_AHEAD, touch: Callable[[Item], object] | None = None
) -> Generator[Item, None, None]:
    """The items of `items`, made by a thread of its own up to `depth` items ahead of the consumer, each
    `touch`ed there first (e.g. hashed).

    Reading files and md5 release the GIL, so this process reads and hashes batch N+1 while DuckDB lands
    batch N, instead of one after the other: reading and hashing are ~1/4 of this process's work on the
    ingest bench. An error of `items` is raised to the consumer; a consumer that stops (an error, Ctrl-C)
    stops the thread at its next item. `items` must not use a DuckDB connection the consumer uses.
    """
    ready: queue.Queue[tuple[object, BaseException | None]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: tuple[object, BaseException | None]) -> bool:
        while not stop.is_set():
            try:
                ready.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        iterator = iter(items)
        try:
            for item in iterator:
                if touch is not None:
                    touch(item)
                if not put((item, None)):
                    return
            put((_DONE, None))
        except BaseException as exc:  # handed to the consumer, which raises it
            put((None, exc))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:  # a generator's open files (an archive) close now, not when collected
                close()

    threading.Thread(target=produce, name="kiai-read-ahead", daemon=True).start()
    try:
        while True:
            item, error = ready.get()
            if error is not None:
                raise error
            if item is _DONE:
                return
            yield item  # type: ignore[misc]
    finally:
        stop.set()


class HasData(Protocol):
    @property
    def data(self) -> bytes: ...


Source = TypeVar("Source", bound=HasData)


def cut_batches(
    sources: Iterable[Source], max_files: int, max_bytes: int, max_lines: int | None = None
) -> Generator[tuple[list[Source], bool], None, None]:
    """Batches of at most `max_files` files, `max_bytes` bytes or `max_lines` lines (whichever comes first;
    a single bigger file is a batch of its own), each with whether it is full: only the last one is not."""
    batch: list[Source] = []
    size = lines = 0
    for source in sources:
        batch.append(source)
        size += len(source.data)
        if max_lines is not None:
            lines += source.data.count(b"\n")
        if len(batch) >= max_files or size >= max_bytes or (max_lines is not None and lines >= max_lines):
            yield batch, True
            batch, size, lines = [], 0, 0
    if batch:
        yield batch, False


def known_refusals(con: duckdb.DuckDBPyConnection, table: str, refused: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """Of (path, reason) pairs of inputs that could not be read: those already in the error `table`."""
    rows = con.execute(
        f"SELECT path, error FROM {table} WHERE path IN (SELECT unnest($paths))",
        {"paths": sorted({path for path, _ in refused})},
    ).fetchall()
    return {(path, error) for path, error in rows} & refused


def error_rows(errors: list[tuple[str, str, str]], parser_version: int, seen_at: dt.datetime) -> pa.Table:
    """(md5, path, error) triples as rows of an error table (parsed.parse_errors, parsed.replay_errors)."""
    return pa.table(
        {
            "md5": [e[0] for e in errors],
            "path": [e[1] for e in errors],
            "error": [e[2] for e in errors],
            "parser_version": pa.array([parser_version] * len(errors), pa.int32()),
            "seen_at": pa.array([seen_at] * len(errors), pa.timestamp("us")),
        }
    )
