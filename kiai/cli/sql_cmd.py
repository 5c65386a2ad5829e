"""`kiai sql`: ad-hoc SQL over the warehouse (DuckDB SQL, or MySQL transpiled with sqlglot)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperCommand

from kiai.cli._common import state
from kiai.cli._tables import print_rows
from kiai.errors import KiaiError

if TYPE_CHECKING:  # kiai.query is imported when the command runs: it brings DuckDB, ~0.05 s of every start-up
    from kiai import query

TERMINAL_ROW_LIMIT = 1000
PAIR = "\0"


def sql(
    sql_text: str | None = typer.Argument(None, metavar="QUERY", help="SQL text, or - to read stdin."),
    file: Path | None = typer.Option(
        None, "--file", "-f", help="Read the SQL from a file [default: the QUERY argument]."
    ),
    fmt: str | None = typer.Option(
        None,
        "--format",
        help="table | csv | json | jsonl | markdown | parquet [default: the --output suffix's, else table].",
    ),
    output: Path | None = typer.Option(
        None,
        "--output",
        "-o",
        help="Write to a file, in its suffix's format (.csv .json .jsonl .md .parquet) [default: the terminal].",
    ),
    param: list[str] = typer.Option(
        [], "--param", "-p", metavar="NAME VALUE", help="A named parameter, used as $NAME."
    ),
    dialect: str = typer.Option("duckdb", "--dialect", help="duckdb | mysql (transpiled with sqlglot)."),
    write: bool = typer.Option(False, "--write", help="Open the warehouse for writing."),
    force: bool = typer.Option(False, "--force", help="Let INTO OUTFILE replace an existing file (MySQL never does)."),
) -> None:
    """Run SQL over the warehouse. Bare names such as scores resolve to the ppy tables.

    Example: kiai sql "SELECT mode, count(*) FROM parsed.beatmap_files GROUP BY ALL"
    """
    from kiai import query

    fmt = query.output_format(fmt, output)
    text = _read_sql(sql_text, file)
    params = dict(pair.split(PAIR, 1) for pair in param)
    with state.house().query(text, params, dialect=dialect, write=write, force=force) as results:
        _print_results(results, fmt, output)


def _print_results(results: Iterator[Any], fmt: str, output: Path | None) -> None:
    from kiai import query

    for number, result in enumerate(results, start=1):
        if not isinstance(result, query.Result):  # an INTO OUTFILE
            state.err_console.print(result.message, highlight=False)
            continue
        if output is not None and number > 1:
            raise KiaiError("--output takes one statement that returns rows; this SQL has several")
        if fmt == "table" and output is None:
            _print_table(result)
        else:
            count = query.write_result(result, fmt, output)
            if output is not None:
                state.err_console.print(f"wrote {count:,} row{'s' if count != 1 else ''} to {output}", highlight=False)


def _read_sql(sql_text: str | None, file: Path | None) -> str:
    if file is not None:
        if sql_text is not None:
            raise KiaiError("give the SQL either as an argument or with --file, not both")
        try:
            return file.read_text(encoding="utf-8")
        except OSError as exc:
            raise KiaiError(f"cannot read {file}: {exc.strerror}") from None
    if sql_text is None:
        raise KiaiError("no SQL given: pass a query, --file F, or - for stdin")
    return sys.stdin.read() if sql_text == "-" else sql_text


def _print_table(result: query.Result) -> None:
    from kiai import query

    rows = []
    total = 0
    for row in result.rows():
        total += 1
        if total <= TERMINAL_ROW_LIMIT:
            rows.append(row)
    hint = "widen the terminal, select fewer columns, or use --format csv, json or markdown"
    print_rows(state.console, result.columns, query.render_rows(rows), note=state.err_console, hint=hint)
    shown = "" if total <= TERMINAL_ROW_LIMIT else f" ({TERMINAL_ROW_LIMIT:,} shown; use --format/--output)"
    state.err_console.print(f"{total:,} row{'s' if total != 1 else ''}{shown}")


class PairedParams(TyperCommand):
    """`-p NAME VALUE`: Typer declares no repeatable two-value option, so the two words are joined into one
    (NAME PAIR VALUE) before parsing; PAIR, a NUL, cannot occur in a command-line argument."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        joined: list[str] = []
        words = iter(args)
        for word in words:
            if word == "--":
                joined += [word, *words]
                break
            name = word.removeprefix("--param=") if word.startswith("--param=") else None
            if word in ("-p", "--param") or name is not None:
                name = name if name is not None else next(words, None)
                value = next(words, None)
                if name is None or value is None:
                    raise KiaiError("-p takes two values: NAME VALUE")
                joined += ["--param", f"{name}{PAIR}{value}"]
            else:
                joined.append(word)
        return super().parse_args(ctx, joined)


def register(app: typer.Typer) -> None:
    app.command("sql", cls=PairedParams)(sql)
