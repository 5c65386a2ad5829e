"""`kiai train majority|logistic|lightgbm|keras`, `kiai compare`, `kiai predict`, `kiai report`.

The ML stack (TensorFlow, LightGBM, scikit-learn, matplotlib) is imported inside the commands only.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table

from kiai.cli._common import console, err_console, state
from kiai.cli._tables import print_table, unlimited
from kiai.errors import KiaiError

train_app = typer.Typer(help="Train a classifier on features.dataset.", no_args_is_help=True)

FORMATS = ("table", "json")
SEED_HELP = "Seed of the split and of the model."
FOLDS_HELP = "1: one 80/20 holdout split; K > 1: K-fold cross-validation (compare shows mean ± std)."
REPEATS_HELP = "Split R times (seeds SEED..SEED+R-1): R x K test parts; compare shows mean ± std over them."
PARAM_HELP = "Override a model parameter: NAME=VALUE (VALUE read as TOML), repeatable."
MODELS_HELP = "Folder of the run folders [default: $KIAI_MODELS_DIR, kiai.toml [paths] models_dir, or models/]."
VAR_HELP = "A var for featurising a .osu file: NAME=VALUE, as for build-features."


def models_dir(option: Path | None) -> Path:
    if option is not None:
        return option
    return Path(state.config.setting("KIAI_MODELS_DIR", "paths", "models_dir", "models"))


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise KiaiError(f"unknown --format {fmt!r}; choose one of {', '.join(FORMATS)}")


def _train(
    kind: str,
    seed: int,
    folds: int,
    repeats: int,
    epochs: int | None,
    param: list[str],
    models: Path | None,
    quiet: bool,
) -> None:
    from kiai.ml.compare import format_metric
    from kiai.ml.dataset import DatasetError
    from kiai.ml.metrics import SUMMARY
    from kiai.ml.params import parse_params
    from kiai.ml.train import REGISTER_WAIT, train_with

    params = parse_params(param)
    if not state.config.db_path.exists():
        raise DatasetError(
            f"no dataset yet: no warehouse at {state.config.db_path}; ingest data and run `kiai build-features` first"
        )
    # The warehouse is open read-only while reading and closed while training: `kiai sql` etc. keep working.
    # Registering waits for a busy warehouse (REGISTER_WAIT, or --wait) rather than lose the finished run.
    register_wait = REGISTER_WAIT if state.wait is None else state.wait
    run = train_with(
        lambda write: state.open(write=write, wait=register_wait if write else None), kind,
        models_dir=models_dir(models), seed=seed, folds=folds, repeats=repeats, epochs=epochs, params=params,
        progress=not quiet,
    )  # fmt: skip
    cells = ", ".join(f"{name} {format_metric(run.metrics.get(name), run.folds * run.repeats)}" for name in SUMMARY)
    console.print(f"run {run.run_id} ({kind}): {cells}", highlight=False, soft_wrap=True)
    console.print(f"stored in {escape(str(run.path))}", highlight=False, soft_wrap=True)


@train_app.command("majority")
def train_majority(
    seed: int = typer.Option(0, "--seed", help=SEED_HELP),
    folds: int = typer.Option(1, "--folds", "-k", help=FOLDS_HELP),
    repeats: int = typer.Option(1, "--repeats", "-r", help=REPEATS_HELP),
    models: Path | None = typer.Option(None, "--models-dir", help=MODELS_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only print the result line."),
) -> None:
    """The floor: predicts the training part's class frequencies for every map, whatever its features."""
    _train("majority", seed, folds, repeats, None, [], models, quiet)


@train_app.command("logistic")
def train_logistic(
    seed: int = typer.Option(0, "--seed", help=SEED_HELP),
    folds: int = typer.Option(1, "--folds", "-k", help=FOLDS_HELP),
    repeats: int = typer.Option(1, "--repeats", "-r", help=REPEATS_HELP),
    param: list[str] = typer.Option([], "--param", metavar="NAME=VALUE", help=PARAM_HELP),
    models: Path | None = typer.Option(None, "--models-dir", help=MODELS_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only print the result line."),
) -> None:
    """Multinomial logistic regression (scikit-learn) on standardised features, L2 (C=0.03), NULLs as means."""
    _train("logistic", seed, folds, repeats, None, param, models, quiet)


@train_app.command("lightgbm")
def train_lightgbm(
    seed: int = typer.Option(0, "--seed", help=SEED_HELP),
    folds: int = typer.Option(1, "--folds", "-k", help=FOLDS_HELP),
    repeats: int = typer.Option(1, "--repeats", "-r", help=REPEATS_HELP),
    epochs: int | None = typer.Option(None, "--epochs", help="Cap on boosting rounds [default: 400]."),
    param: list[str] = typer.Option([], "--param", metavar="NAME=VALUE", help=PARAM_HELP),
    models: Path | None = typer.Option(None, "--models-dir", help=MODELS_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only print the result line."),
) -> None:
    """Multiclass LightGBM (NULL features as missing values), early stopping on a validation split."""
    _train("lightgbm", seed, folds, repeats, epochs, param, models, quiet)


@train_app.command("keras")
def train_keras(
    seed: int = typer.Option(0, "--seed", help=SEED_HELP),
    folds: int = typer.Option(1, "--folds", "-k", help=FOLDS_HELP),
    repeats: int = typer.Option(1, "--repeats", "-r", help=REPEATS_HELP),
    epochs: int | None = typer.Option(None, "--epochs", help="Maximum epochs [default: 200, early stopping]."),
    param: list[str] = typer.Option([], "--param", metavar="NAME=VALUE", help=PARAM_HELP),
    models: Path | None = typer.Option(None, "--models-dir", help=MODELS_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only print the result line."),
) -> None:
    """A Keras MLP (Normalization layer inside the model, NULLs imputed with training means), early stopping."""
    _train("keras", seed, folds, repeats, epochs, param, models, quiet)


def compare(fmt: str = typer.Option("table", "--format", help="table | json.")) -> None:
    """One row per training run: model, dataset and feature versions, split, and test metrics."""
    from kiai.ml.compare import METRICS, SHORT_TITLES, compare_rows, format_metric
    from kiai.ml.versions import short

    _check_format(fmt)
    _register_waiting_runs()
    con = state.open(write=False)
    try:
        rows = compare_rows(con)
    finally:
        con.close()
    if fmt == "json":
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        console.print("no training runs yet: run `kiai train lightgbm` or `kiai train keras`")
        return
    titles = tuple(SHORT_TITLES[name] for name in METRICS)
    names = METRICS
    digits = {"train_seconds": 1}
    cells = [
        [
            row["run_id"],
            row["model"],
            f"{short(row['dataset_hash'], 8)} ({row['dataset_rows']:,})",
            short(row["feature_version"], 8),
            row["split"],
            *(format_metric(row["metrics"].get(n), row["folds"], digits.get(n, 3)) for n in names),
        ]
        for row in rows
    ]
    headers = ("run", "model", "dataset", "features", "split", *titles)
    table = Table(*headers)
    for column in table.columns:
        column.no_wrap = True
    for column in table.columns[5:]:
        column.justify = "right"
    for line in cells:
        table.add_row(*line)
    if (
        unlimited(console)
        or Measurement.get(console, console.options.update_width(10_000), table).maximum <= console.width
    ):
        print_table(console, table)
        return
    # Too narrow for a row per run: runs side by side instead, as many as fit in each block, every run shown.
    fit = max(1, (console.width - 14) // 32)
    for start in range(0, len(cells), fit):
        shown = cells[start : start + fit]
        side = Table("", *(line[0] for line in shown))
        for i, header in enumerate(headers[1:], start=1):
            side.add_row(header, *(line[i] for line in shown))
        console.print(side)


def _register_waiting_runs() -> None:
    """Register runs that finished while the warehouse was busy (see kiai.ml.runs); if it still is, say so."""
    from kiai.ml.runs import register_unregistered, unregistered_runs
    from kiai.warehouse import WarehouseBusy

    folder = models_dir(None)
    if not state.config.db_path.exists() or not unregistered_runs(folder, state.config.db_path):
        return
    try:
        con = state.open(write=True)
    except WarehouseBusy as exc:
        err_console.print(
            f"[yellow]warning:[/] runs in {escape(str(folder))} wait to be registered: {escape(str(exc))}"
        )
        return
    try:
        for run in register_unregistered(con, folder):
            err_console.print(
                f"registered run {run.run_id} (it finished while the warehouse was busy)", highlight=False
            )
    finally:
        con.close()


def predict(
    target: str = typer.Argument(..., metavar="BEATMAP_ID|FILE.osu", help="A beatmap id or a .osu file."),
    run: str | None = typer.Option(None, "--run", help="Run id (or a unique prefix) [default: the latest run]."),
    fmt: str = typer.Option("table", "--format", help="table | json."),
    var: list[str] = typer.Option([], "--var", metavar="NAME=VALUE", help=VAR_HELP),
) -> None:
    """Every category's probability for a beatmap, highest first.

    A beatmap id is looked up in the warehouse's features; a .osu file is parsed and featurised by the same
    SQL models in a temporary warehouse. A model trained on another feature version is refused.
    """
    from kiai.ml.predict import predict_beatmap, predict_file
    from kiai.transform.project import parse_var_overrides

    _check_format(fmt)
    con = state.open(write=False)
    try:
        if target.isdigit():
            result = predict_beatmap(con, int(target), run_id=run)
        else:
            result = predict_file(
                con, Path(target), config=state.config, variables=parse_var_overrides(var), run_id=run
            )
    finally:
        con.close()
    for warning in result.warnings:
        err_console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)
    if fmt == "json":
        typer.echo(json.dumps(result.to_json(), indent=2))
        return
    what = f"beatmap {result.beatmap_id}" if result.beatmap_id is not None else f"md5 {result.md5}"
    console.print(
        f"{escape(what)} (features from {escape(result.source)}) · run {result.run_id} ({result.kind})",
        highlight=False,
        soft_wrap=True,
    )
    table = Table("category", "probability", "")
    table.columns[1].justify = "right"
    for label, probability in result.probabilities:
        table.add_row(escape(label), f"{probability:.1%}", "█" * round(probability * 30))
    console.print(table)


def report(
    out: Path = typer.Option(Path("reports/latest.html"), "--out", "-o", help="The HTML file to write."),
    run: list[str] = typer.Option([], "--run", help="Runs to include (repeatable) [default: the latest ten]."),
    models: Path | None = typer.Option(None, "--models-dir", help=MODELS_HELP),
) -> None:
    """One self-contained HTML report of the runs (plots embedded; opens without a network).

    Runs side by side, confusion matrices, per-class F1, feature importance and a calibration plot.
    """
    from kiai.ml.report import write_report

    con = state.open(write=False)
    try:
        path = write_report(con, out, models_dir=models_dir(models), run_ids=run or None)
    finally:
        con.close()
    console.print(f"report written to {escape(str(path))}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.add_typer(train_app, name="train")
    app.command("compare")(compare)
    app.command("predict")(predict)
    app.command("report")(report)
