"""The CLI's Reporter: kiai.progress events as rich progress bars and lines on the terminal.

Bars go to stderr and only on a terminal; there, a task's note follows its description. Into a pipe or a
file the bars are hidden and a note becomes a line on stderr, so a log still says why a run waited.
Notices print on stdout, warnings on stderr. A command adds handlers for its own events (`on`), e.g. the
build's plan and each model's result, printed as they happen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from kiai.cli._common import state
from kiai.progress import Event, Notice, TaskAdvanced, TaskClosed, TaskNote, TaskStarted, Warned


class RichReporter:
    """Draws tasks as bars on one live display (nested tasks share it) and prints notices and warnings."""

    def __init__(self, on: dict[type, Callable[[Any], None]] | None = None, bars: Console | None = None) -> None:
        self.handlers = on or {}
        self.bars = bars or state.err_console
        self._progress: Progress | None = None
        self._tasks: dict[int, tuple[TaskID, str, bool]] = {}  # event task id -> (rich id, description, transient)
        self._details: dict[int, str] = {}

    def report(self, event: Event) -> None:
        handler = self.handlers.get(type(event))
        if handler is not None:
            handler(event)
        elif isinstance(event, TaskStarted):
            progress = self._live()
            rich_id = progress.add_task(event.description, total=event.total, rate="")
            self._tasks[event.task] = (rich_id, event.description, event.transient)
        elif isinstance(event, TaskAdvanced) and event.task in self._tasks:
            rich_id, _, transient = self._tasks[event.task]
            if event.description is not None:
                self._tasks[event.task] = (rich_id, event.description, transient)
            if event.detail is not None:
                self._details[event.task] = event.detail
            shown = [*(str(rate) for rate in event.rates), self._details.get(event.task, "")]
            self._live().update(
                rich_id,
                completed=event.completed,
                total=event.total,
                rate="  ".join(part for part in shown if part),
                **({"description": event.description} if event.description is not None else {}),
            )
        elif isinstance(event, TaskNote) and event.task in self._tasks:
            self._note(event)
        elif isinstance(event, TaskClosed) and event.task in self._tasks:
            self._close(event.task)
        elif isinstance(event, Notice):
            (state.err_console if event.to_stderr else state.console).print(
                escape(event.text), highlight=False, soft_wrap=True
            )
        elif isinstance(event, Warned):
            state.err_console.print(f"[yellow]warning:[/] {escape(event.text)}", highlight=False, soft_wrap=True)

    def _live(self) -> Progress:
        if self._progress is None:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TaskProgressColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=self.bars,
                disable=not self.bars.is_terminal,
            )
            self._progress.start()
        return self._progress

    def _note(self, event: TaskNote) -> None:
        rich_id, description, _ = self._tasks[event.task]
        progress = self._live()
        if progress.disable:
            if event.text:
                self.bars.print(f"{description}: {escape(event.text)}", highlight=False, soft_wrap=True)
        else:
            shown = description if event.text is None else f"{description} [yellow]{escape(event.text)}"
            progress.update(rich_id, description=shown)

    def _close(self, task: int) -> None:
        rich_id, _, transient = self._tasks.pop(task)
        self._details.pop(task, None)
        progress = self._live()
        if transient:
            progress.remove_task(rich_id)
        if not self._tasks:  # the last open task: stop the display, leaving the finished bars on screen
            progress.stop()
            self._progress = None


def reporter(**on: Callable[[Any], None]) -> RichReporter:
    """A RichReporter; keyword handlers by event class name, e.g. reporter(ModelBuilt=print_result)."""
    import kiai.progress as events

    return RichReporter({getattr(events, name): handler for name, handler in on.items()})
