"""`kiai export dataset` (the labelled dataset as CSV or Parquet, with a manifest of the versions it came from) and
`kiai export lake` (the warehouse as a Parquet lake, kiai.transform.lake)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from kiai.cli._common import state

if TYPE_CHECKING:
    from kiai.transform.replay_windows import WindowExport

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
    from kiai.house import Split

    result = state.house().export_dataset(out, Split(folds, seed) if split else None)
    labels = ", ".join(f"{escape(label)} {count:,}" for label, count in result.labels.items()) or "no labels"
    state.console.print(
        f"wrote {result.rows:,} rows x {len(result.columns)} columns to {escape(result.path)} ({labels})",
        highlight=False,
    )
    state.console.print(
        f"dataset version {result.dataset_fingerprint} (feature version {result.dataset_code_fingerprint}); "
        f"manifest {escape(result.manifest)}",
        highlight=False,
    )


@app.command("lake")
def export_lake(
    folder: Path = typer.Argument(..., help="The lake folder: <schema>/<table>/ Parquet folders and manifest.json."),
    with_bytes: bool = typer.Option(
        False, "--with-bytes", help="Also write raw's BLOB columns (the .osu files' bytes, raw.osu_files.content)."
    ),
) -> None:
    """Write every table of raw, parsed and ppy and the current version of every model as Parquet, for Spark,
    DuckDB, Polars or Trino.

    Hit objects are partitioned by file_id ranges (file_id_range=N/), replay frames by replay_id ranges and
    ppy.scores by ruleset_id. Types are ones every engine reads alike (unsigned integers signed, ENUM and JSON
    as text, timestamps UTC). A table whose data and layout are unchanged since the last export is skipped;
    each table is replaced whole, so an interrupted export is finished by running it again.

    Example: kiai export lake data/lake
    """
    report = state.house(TableImported=lambda event: _print_table(event.result)).export_lake(folder, with_bytes)
    written = report.written
    rows = sum(t.rows for t in written)
    size = sum(t.bytes for t in written)
    seconds = sum(t.seconds for t in written)
    rate = f": {rows / seconds:,.0f} rows/s, {size / seconds / 1e6:,.1f} MB/s" if seconds > 0 else ""
    unchanged = sum(t.status == "unchanged" for t in report.tables)
    state.console.print(
        f"lake {escape(str(folder))}: {len(written)} tables written ({rows:,} rows, {size / 1e6:,.1f} MB in "
        f"{seconds:.1f} s{rate}), {unchanged} unchanged; manifest {escape(str(folder / 'manifest.json'))}",
        highlight=False,
    )


def _print_table(result: Any) -> None:
    if result.status == "written":
        line = f"{result.rows:>12,} rows {result.bytes / 1e6:>9,.1f} MB {result.seconds:>6.1f} s"
    else:
        line = ""
    state.console.print(f"  {result.status:<9} {escape(result.relation):<36} {line}", highlight=False)


@app.command("replay-windows")
def export_replay_windows(
    out: Path = typer.Option(Path("data/processed/replays"), "--out", "-o", help="Folder of the shards and manifest."),
    window: int = typer.Option(32, "--window", help="Steps per window."),
    rate_ms: float = typer.Option(16.0, "--rate-ms", help="Ms of play between steps (DT: 1.5x as many of map)."),
    stride: int | None = typer.Option(None, "--stride", help="Steps between window starts [default: --window]."),
    objects: int = typer.Option(4, "--objects", help="Upcoming hit objects per step."),
    user: int | None = typer.Option(
        None, "--user", help="Only this user id's replays (through the dump's scores) [default: all]."
    ),
    sql: str | None = typer.Option(
        None, "--sql", help="Only the score ids this SELECT's first column gives [default: all]."
    ),
    mode: str | None = typer.Option(None, "--mode", help="Only osu | taiko | fruits | mania [default: all]."),
    shard_size: int = typer.Option(200, "--shard-size", help="Replays per shard."),
    fmt: str = typer.Option("parquet", "--format", help="parquet, or npz (a shard in memory: small sets)."),
) -> None:
    """Replays as fixed-rate windows for training: cursor, keys, presses and the upcoming objects per step.

    Shards (shard-NNNNN.parquet, replays in replay_id order) and manifest.json (parameters, filters, model
    versions, counts, sha256 per shard) are written atomically; rerun, an interrupted export keeps its
    finished shards. Reads features.replay_summary: run `kiai build-features` first.

    Example: kiai export replay-windows --out data/processed/replays/ --window 32 --user 7562902
    """
    from kiai.transform import replay_windows as rw

    spec = rw.WindowSpec(window, rate_ms, stride, objects, shard_size, fmt)
    print_windows(state.house().export_replay_windows(out, spec, rw.Filters(user, sql, mode)))


def print_windows(result: WindowExport) -> None:
    counts = result.counts
    left_out = ", ".join(f"{n:,} {why}" for why, n in counts["left_out"].items())
    reused = counts["shards_kept"]
    state.console.print(
        f"wrote {counts['windows']:,} windows of {counts['replays']:,} replays to {len(result.shards):,} shards in "
        f"{escape(result.out)} ({counts['too_short']:,} too short for a window"
        f"{'; left out: ' + left_out if left_out else ''}{f'; {reused:,} shards kept' if reused else ''})",
        highlight=False,
    )
    state.console.print(f"manifest {escape(result.manifest)}", highlight=False)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="export")
