"""`kiai ingest …`: land local files in the warehouse."""

from __future__ import annotations

import typer

app = typer.Typer(help="Land local files in the warehouse.", no_args_is_help=True)
