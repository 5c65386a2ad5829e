"""`kiai export dataset`: the labelled dataset as CSV or Parquet, with a manifest of the versions it came from."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from kiai.cli._common import console, state
from kiai.errors import KiaiError

if TYPE_CHECKING:
    import duckdb

    from kiai.transform.export import SplitColumn

app = typer.Typer(help="Export built models to files.", no_args_is_help=True)


@app.command("dataset")
def export_dataset(
    out: Path = typer.Option(
        Path("data/processed/dataset.csv"), "--out", "-o", help="Output file: .csv or .parquet (by suffix)."
    ),
    split: bool = typer.Option(
        False, "--split", help="Add a `split` column: the part `kiai train` with the same --folds/--seed uses."
    ),
    folds: int = typer.Option(1, "--folds", "-k", help="With --split: 1 is train/test 80/20, K is fold_1..fold_K."),
    seed: int = typer.Option(0, "--seed", help="With --split: the split seed."),
) -> None:
    """Write features.dataset (every feature and `label`) atomically, plus <out>.manifest.json.

    The split is stratified by label and grouped by beatmapset, exactly as `kiai train` splits.
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
        parts = _split_column(con, folds, seed) if split else None
        result = run_export(con, out, parts)
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


def _split_column(con: duckdb.DuckDBPyConnection, folds: int, seed: int) -> SplitColumn:
    from kiai.ml.dataset import check_classes, load_dataset
    from kiai.ml.split import part_names
    from kiai.transform.export import SplitColumn

    frame = load_dataset(con)
    check_classes(frame, folds)
    parts = part_names(frame.labels, frame.beatmapset_ids, folds, seed)
    return SplitColumn([int(i) for i in frame.beatmap_ids], [str(p) for p in parts], folds, seed)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="export")
