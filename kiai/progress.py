"""Progress bars for long loops (rich), quiet when not on a terminal unless forced."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
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
