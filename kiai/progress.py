"""Progress bars for long loops (rich), quiet when not on a terminal unless forced."""

from __future__ import annotations

from collections.abc import Callable

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

stderr_console = Console(stderr=True)


def progress_bar(*extra_columns: TextColumn, transient: bool = False) -> Progress:
    """A progress bar on stderr; `extra_columns` show rates such as files/s or MB/s.

    Fields used by extra columns are passed to `Progress.update(task, **fields)`.
    """
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        *extra_columns,
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stderr_console,
        transient=transient,
        disable=not stderr_console.is_terminal,
    )


def show_notes(bar: Progress, task: TaskID) -> Callable[[str | None], None]:
    """A callback that shows a note after the task's description (None clears it), e.g. that the server
    asked to wait and until when; printed as a line on stderr when the bar is hidden (not a terminal)."""
    description = next(t.description for t in bar.tasks if t.id == task)

    def note(text: str | None) -> None:
        if bar.disable:
            if text:
                stderr_console.print(f"{description}: {escape(text)}", highlight=False, soft_wrap=True)
        else:
            bar.update(task, description=description if text is None else f"{description} [yellow]{escape(text)}")

    return note
