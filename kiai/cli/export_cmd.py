"""`kiai export dataset`: the labelled dataset as CSV or Parquet, with a manifest of the versions it came from."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from kiai.cli._common import console, state
from kiai.errors import KiaiError

app = typer.Typer(help="Export built models to files.", no_args_is_help=True)


@app.command("dataset")
def export_dataset(
    out: Path = typer.Option(
        Path("data/processed/dataset.csv"), "--out", "-o", help="Output file: .csv or .parquet (by suffix)."
    ),
) -> None:
    """Write features.dataset (every feature and `label`) atomically, plus <out>.manifest.json.

    The manifest and the warehouse table kiai.dataset_exports record the file's sha256 and the
    fingerprints (data versions) and code fingerprints (feature versions) of the dataset and its upstream.
    """
    from kiai.transform.export import export_dataset as run_export
    from kiai.transform.export import export_format

    export_format(out)  # a bad suffix fails before the warehouse is opened
    if not state.config.db_path.exists():
        raise KiaiError(f"no warehouse at {state.config.db_path}; run `kiai build-features` first")
    con = state.open(write=True)
    try:
        result = run_export(con, out)
    finally:
        con.close()
    labels = ", ".join(f"{escape(label)} {count:,}" for label, count in result.labels.items()) or "no labels"
    console.print(
        f"wrote {result.rows:,} rows x {len(result.columns)} columns to {escape(result.path)} ({labels})",
        highlight=False,
    )
    console.print(
        f"dataset version {result.dataset_fingerprint} (feature version {result.dataset_code_fingerprint}); "
        f"manifest {escape(result.manifest)}",
        highlight=False,
    )


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="export")
