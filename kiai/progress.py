"""Progress and notices as typed events sent to one `Reporter`, so library code never prints.

The CLI's reporter (kiai.cli._progress) draws bars and lines on the terminal with rich; tests pass a
`RecordingReporter` and assert on the events; everything else defaults to `NULL_REPORTER`, which drops them.
A long loop reports through a `Task`: started once, advanced with rates (files/s, MB/s), noted (a server asked
to wait, until when), closed.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

_task_ids = itertools.count(1)


@dataclass(frozen=True)
class Rate:
    """A speed: `value` units per second, e.g. Rate(120.0, "files/s")."""

    value: float
    unit: str

    def __str__(self) -> str:
        digits = 1 if self.unit.startswith("MB") else 0
        return f"{self.value:,.{digits}f} {self.unit}"


@dataclass(frozen=True)
class TaskStarted:
    task: int
    description: str
    total: float | None
    transient: bool = False  # the bar goes away when the task closes (its result is printed instead)


@dataclass(frozen=True)
class TaskAdvanced:
    task: int
    completed: float
    total: float | None
    rates: tuple[Rate, ...] = ()
    description: str | None = None  # a new description (e.g. the table being written), None: unchanged
    detail: str | None = None  # shown in the bar only (e.g. free disk space), None: unchanged


@dataclass(frozen=True)
class TaskNote:
    """A note shown with the task (why it is waiting, free disk space); None clears it."""

    task: int
    text: str | None


@dataclass(frozen=True)
class TaskClosed:
    task: int


@dataclass(frozen=True)
class Notice:
    """A line worth reading as it happens (how long a queue takes, free disk space); `to_stderr` for one that is
    about the run rather than its output (waiting for a lock), so that piped results stay clean."""

    text: str
    to_stderr: bool = False


@dataclass(frozen=True)
class Warned:
    """A warning: something the user should know, that does not stop the work."""

    text: str


@dataclass(frozen=True)
class PlanReady:
    """The build plan of the SQL models (kiai.transform.runner's BuildPlan), before anything runs."""

    plan: Any


@dataclass(frozen=True)
class ModelBuilt:
    """One model done (kiai.transform.runner's ModelResult: built, reused, failed, skipped …)."""

    result: Any


@dataclass(frozen=True)
class BatchLanded:
    """Rows landed in the warehouse in one transaction (e.g. one fetched replay and its frames)."""

    what: str
    items: int
    rows: int = 0


@dataclass(frozen=True)
class TableImported:
    """One table of a dump or a lake written (the importer's or exporter's result for it)."""

    result: Any


@dataclass(frozen=True)
class FoldDone:
    """One part of a training run (a holdout or a fold) trained and scored."""

    part: str
    metrics: dict[str, float] = field(default_factory=dict)


Event = (
    TaskStarted
    | TaskAdvanced
    | TaskNote
    | TaskClosed
    | Notice
    | Warned
    | PlanReady
    | ModelBuilt
    | BatchLanded
    | TableImported
    | FoldDone
)
E = TypeVar("E")


class Reporter(Protocol):
    def report(self, event: Event) -> None: ...


class NullReporter:
    """Drops every event: the default for library callers that show nothing."""

    def report(self, event: Event) -> None:
        pass


NULL_REPORTER = NullReporter()


@dataclass
class RecordingReporter:
    """Keeps every event, for tests."""

    events: list[Event] = field(default_factory=list)

    def report(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: type[E]) -> list[E]:
        """The recorded events of one kind, in order."""
        return [event for event in self.events if isinstance(event, kind)]

    def texts(self, kind: type[Notice | Warned | TaskNote] = Notice) -> list[str]:
        return [event.text for event in self.of(kind) if event.text is not None]


class Task:
    """One long loop's progress, reported as TaskStarted, TaskAdvanced, TaskNote and TaskClosed."""

    def __init__(self, reporter: Reporter, description: str, total: float | None, transient: bool = False) -> None:
        self.reporter, self.id, self.total, self.completed = reporter, next(_task_ids), total, 0.0
        reporter.report(TaskStarted(self.id, description, total, transient))

    def advance(self, by: float = 1, rates: tuple[Rate, ...] = ()) -> None:
        self.update(self.completed + by, rates=rates)

    def update(
        self,
        completed: float,
        total: float | None = None,
        rates: tuple[Rate, ...] = (),
        description: str | None = None,
        detail: str | None = None,
    ) -> None:
        self.completed = completed
        self.total = self.total if total is None else total
        self.reporter.report(TaskAdvanced(self.id, completed, self.total, rates, description, detail))

    def note(self, text: str | None) -> None:
        self.reporter.report(TaskNote(self.id, text))

    def close(self) -> None:
        self.reporter.report(TaskClosed(self.id))


@contextmanager
def task(reporter: Reporter, description: str, total: float | None = None, transient: bool = False) -> Iterator[Task]:
    """A Task for the block; closed however the block ends."""
    current = Task(reporter, description, total, transient)
    try:
        yield current
    finally:
        current.close()


def rates(seconds: float, **counts: float) -> tuple[Rate, ...]:
    """Rates of counts over `seconds`: rates(2.0, files=10, MB=3.0) -> (5 files/s, 1.5 MB/s)."""
    seconds = max(seconds, 1e-9)
    return tuple(Rate(count / seconds, f"{unit}/s") for unit, count in counts.items())
