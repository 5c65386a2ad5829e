"""`kiai train majority|logistic|lightgbm|keras`, `kiai compare`, `kiai predict`, `kiai report`.

The ML stack (TensorFlow, LightGBM, scikit-learn, matplotlib) is imported inside the commands only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table

from kiai.cli._common import console, err_console, state
from kiai.cli._tables import print_table, unlimited
from kiai.errors import KiaiError

if TYPE_CHECKING:
    from kiai.ml.compare import Comparison

train_app = typer.Typer(help="Train a classifier on features.dataset.", no_args_is_help=True)

FORMATS = ("table", "json")
COMPARE_FORMATS = ("table", "json", "csv", "markdown")
SEED_HELP = "Seed of the split and of the model."
FOLDS_HELP = "1: one 80/20 holdout split; K > 1: K-fold cross-validation (compare shows mean ± std)."
REPEATS_HELP = "Split R times (seeds SEED..SEED+R-1): R x K test parts; compare shows mean ± std over them."
PARAM_HELP = "Override a model parameter: NAME=VALUE (VALUE read as TOML), repeatable."
MODELS_HELP = "Folder of the run folders [default: $KIAI_MODELS_DIR, kiai.toml [paths] models_dir, or models/]."
BASELINE_HELP = "Run to pair the others with: id, unique prefix, or a model kind (its latest run) [default: the best]."
BASELINE_OPTION = typer.Option(None, "--baseline", "-b", metavar="RUN", help=BASELINE_HELP)  # compare and report
VAR_HELP = "A var for featurising a .osu file: NAME=VALUE, as for build-features."


def models_dir(option: Path | None) -> Path:
    if option is not None:
        return option
    return Path(state.config.setting("KIAI_MODELS_DIR", "paths", "models_dir", "models"))


def _check_format(fmt: str, formats: tuple[str, ...] = FORMATS) -> None:
    if fmt not in formats:
        raise KiaiError(f"unknown --format {fmt!r}; choose one of {', '.join(formats)}")


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
    """The floor: predicts the training part's class frequencies for every map, whatever its features.

    Example: kiai train majority --folds 5 --repeats 3
    """
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
    """Multinomial logistic regression (scikit-learn) on standardised features, L2 (C=0.03), NULLs as means.

    Example: kiai train logistic --folds 5 --repeats 3 --param C=0.1
    """
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


def compare(
    baseline: str | None = BASELINE_OPTION,
    fmt: str = typer.Option("table", "--format", help="table | json | csv | markdown."),
    models: Path | None = typer.Option(None, "--models-dir", help=MODELS_HELP),
) -> None:
    """Every training run with its test metrics, and each run's paired differences from a baseline run.

    Runs on the same test parts (same dataset, folds, repeats and seed) are paired part by part: the mean
    difference with a 95 % interval (corrected resampled t-test of Nadeau and Bengio over repeated folds; a
    paired bootstrap over the test beatmapsets for a single holdout), and whether it is clear of zero. Also
    per-class F1 and recall, and the classes each run confuses most.
    """
    from kiai.ml.compare import compare as compare_runs

    _check_format(fmt, COMPARE_FORMATS)
    _register_waiting_runs(models)
    con = state.open(write=False)
    try:
        comparison = compare_runs(con, models_dir=models_dir(models), baseline=baseline)
    finally:
        con.close()
    if fmt == "json":
        typer.echo(json.dumps(comparison.rows(), indent=2))
    elif fmt == "csv":
        typer.echo(comparison.to_csv(), nl=False)
    elif fmt == "markdown":
        typer.echo(comparison.to_markdown(), nl=False)
    elif not comparison.views:
        console.print("no training runs yet: run `kiai train lightgbm` or `kiai train keras`")
    else:
        _print_comparison(comparison)


def _print_comparison(comparison: Comparison) -> None:
    from kiai.ml import compare as c
    from kiai.ml.versions import short

    digits = {"train_seconds": 1}
    cells = [
        [
            view.run.run_id,
            view.run.kind,
            f"{short(view.run.dataset_hash, 8)} ({view.run.dataset_rows:,})",
            short(view.run.feature_version, 8),
            c.split_label(view.run.folds, view.run.split_seed, view.run.repeats),
            *(c.format_metric(view.run.metrics.get(n), view.parts, digits.get(n, 3)) for n in c.METRICS),
        ]
        for view in comparison.views
    ]
    _print_table(
        ("run", "model", "dataset", "features", "split", *(c.SHORT_TITLES[n] for n in c.METRICS)), cells, range(5, 11)
    )

    paired = [view for view in comparison.views if view.pairing is not None]
    if paired:
        console.print(
            f"\nrun - baseline [bold]{comparison.baseline}[/] (95 % interval; better/worse: clear of zero; "
            "corrected resampled t-test over repeated folds, paired bootstrap over a holdout's test beatmapsets):",
            highlight=False, soft_wrap=unlimited(console),
        )  # fmt: skip
        rows = []
        for view in paired:
            assert view.pairing is not None
            if view.pairing.not_paired:
                rows.append([view.run.run_id, view.run.kind, f"not paired: {view.pairing.not_paired}",
                             *("-" for _ in c.SUMMARY)])  # fmt: skip
            else:
                rows.append([view.run.run_id, view.run.kind, view.pairing.sample,
                             *(c.difference_cell(view.pairing, n) for n in c.SUMMARY)])  # fmt: skip
        _print_table(("run", "model", "paired on", *(c.SHORT_TITLES[n] for n in c.SUMMARY)), rows, range(3, 8))

    labels = sorted({label for view in comparison.views for label in view.run.labels})
    console.print(
        "\nper class: F1 / recall over the test parts; most confused: true → predicted (share of the true class)",
        soft_wrap=unlimited(console),
    )
    rows = [[view.run.run_id, *(c.per_class_cell(view, label) for label in labels), c.confusions_cell(view)]
            for view in comparison.views]  # fmt: skip
    _print_table(("run", *labels, "most confused"), rows, range(1, 1 + len(labels)))


def _print_table(headers: tuple[str, ...], cells: list[list[str]], numeric: range) -> None:
    """A row per run when the terminal is wide enough, else runs side by side in blocks (every run shown)."""
    table = Table(*headers)
    for column in table.columns:
        column.no_wrap = True
    for i in numeric:
        table.columns[i].justify = "right"
    for line in cells:
        table.add_row(*(escape(cell) for cell in line))
    if (
        unlimited(console)
        or Measurement.get(console, console.options.update_width(10_000), table).maximum <= console.width
    ):
        print_table(console, table)
        return
    # Too narrow for a row per run: runs side by side instead, as many as fit in each block, every run shown.
    # Each column takes its text + 2 padding + 1 border; run ids are kept whole, longer cells wrap under them.
    label_width = max(len(header) for header in headers[1:]) + 3
    run_width = max(len(line[0]) for line in cells) + 3
    fit = max(1, (console.width - 1 - label_width) // run_width)
    for start in range(0, len(cells), fit):
        shown = cells[start : start + fit]
        side = Table("", *(line[0] for line in shown))
        for column in side.columns[1:]:
            column.min_width = len(str(column.header))  # run ids whole; long cells wrap below them
        for i, header in enumerate(headers[1:], start=1):
            side.add_row(header, *(escape(line[i]) for line in shown))
        console.print(side)


def _register_waiting_runs(models: Path | None) -> None:
    """Register runs that finished while the warehouse was busy (see kiai.ml.runs); if it still is, say so."""
    from kiai.ml.runs import register_unregistered, unregistered_runs
    from kiai.warehouse import WarehouseBusy

    folder = models_dir(models)
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
    baseline: str | None = BASELINE_OPTION,
    models: Path | None = typer.Option(None, "--models-dir", help=MODELS_HELP),
) -> None:
    """One self-contained HTML report of the runs (plots embedded; opens without a network).

    Runs side by side with 95 % intervals, paired differences from a baseline run, each metric per run with the
    baselines drawn as its floor, the dataset (maps per label and beatmapset, versions, label conflicts),
    per-class F1 and recall, confusion matrices, feature importance and a calibration plot.
    """
    from kiai.ml.report import write_report

    con = state.open(write=False)
    try:
        path = write_report(con, out, models_dir=models_dir(models), run_ids=run or None, baseline=baseline)
    finally:
        con.close()
    console.print(f"report written to {escape(str(path))}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.add_typer(train_app, name="train")
    app.command("compare")(compare)
    app.command("predict")(predict)
    app.command("report")(report)
