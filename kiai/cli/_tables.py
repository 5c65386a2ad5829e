"""Tables for the terminal that never hide anything silently, the way the duckdb CLI shows wide results.

A table wider than the terminal shows the columns that fit and says which are hidden; a single row too
wide is shown vertically (one line per column). Into a pipe or a file (no terminal, no COLUMNS), a table
is printed at its full width: nothing is squeezed to 80 columns.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table

MAX_CELL = 40  # longer values end in an ellipsis, as in the duckdb CLI
BORDER = 3  # a column's padding (2) and its right border (1); the table adds one more for the left border
NUMBER = re.compile(r"-?[\d,]*\.?\d+(e[-+]?\d+)?|-?inf|nan", re.IGNORECASE)
EMPTY = {"", "NULL", "-"}


def unlimited(console: Console) -> bool:
    """Output goes to a pipe or a file and no COLUMNS asks for a width: print tables at full width."""
    return not console.is_terminal and not os.environ.get("COLUMNS")


def print_table(console: Console, table: Table) -> None:
    """Print a rich Table; into a pipe or a file at its natural width rather than squeezed to 80 columns."""
    if not unlimited(console):
        console.print(table)
        return
    natural = Measurement.get(console, console.options.update_width(1_000_000), table).maximum
    width = console.width
    console.width = max(width, natural)
    try:
        console.print(table)
    finally:
        console.width = width


def print_rows(
    console: Console,
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    note: Console | None = None,
    hint: str = "widen the terminal",
) -> None:
    """Cells (already text) as a table that fits the terminal, numbers right-aligned; the columns that do not
    fit are named on `note`, with `hint` saying how to see them."""
    note = note or console
    widths = [
        min(MAX_CELL, max([cell_len(name), *(cell_len(row[i]) for row in rows)])) for i, name in enumerate(columns)
    ]
    available = 1_000_000 if unlimited(console) else console.width
    shown = _columns_that_fit(widths, available)
    if len(shown) == len(columns):
        print_table(console, _table(columns, rows, range(len(columns)), widths))
        return
    if len(rows) == 1:  # one wide row: a line per column instead
        vertical = Table("column", "value", show_header=True)
        vertical.columns[1].overflow = "fold"
        for name, value in zip(columns, rows[0], strict=True):
            vertical.add_row(escape(name), escape(value))
        console.print(vertical)
        return
    print_table(console, _table(columns, rows, shown, widths))
    hidden = [columns[i] for i in range(len(columns)) if i not in shown]
    names = ", ".join(hidden[:6]) + (", …" if len(hidden) > 6 else "")
    note.print(
        f"{len(columns)} columns, {len(shown)} shown; {len(hidden)} hidden: {escape(names)} ({hint})",
        highlight=False,
        soft_wrap=True,
    )


def _columns_that_fit(widths: Sequence[int], available: int) -> list[int]:
    """As many columns as fit, from the left (at least one)."""
    shown: list[int] = []
    used = 1
    for i, width in enumerate(widths):
        if shown and used + width + BORDER > available:
            break
        shown.append(i)
        used += width + BORDER
    return shown


def _table(columns: Sequence[str], rows: Sequence[Sequence[str]], shown: Sequence[int], widths: list[int]) -> Table:
    table = Table(*(escape(columns[i]) for i in shown))
    for column, i in zip(table.columns, shown, strict=True):
        column.no_wrap, column.overflow, column.max_width = True, "ellipsis", widths[i]
        cells = [row[i] for row in rows if row[i] not in EMPTY]
        if cells and all(NUMBER.fullmatch(cell) for cell in cells):
            column.justify = "right"
    for row in rows:
        table.add_row(*(escape(row[i]) for i in shown))
    return table
