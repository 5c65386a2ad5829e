"""Names and values written into SQL text, quoted in one place.

Values are bound as parameters wherever DuckDB takes them; text is written into a statement only where it
cannot be a parameter: file paths of ATTACH and COPY, names of tables and columns, the MySQL dialect's
catalog queries, and model SQL rendered from vars.
"""

from __future__ import annotations

from typing import Any


def identifier(name: str) -> str:
    """A table, column or catalog name as a quoted identifier, its double quotes doubled."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: Any) -> str:
    """A Python value as a DuckDB literal: NULL, TRUE/FALSE, numbers as written, lists as `[...]`, anything
    else as a string with its single quotes doubled."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    return "'" + str(value).replace("'", "''") + "'"
