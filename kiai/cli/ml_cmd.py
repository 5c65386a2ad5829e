"""`kiai train majority|logistic|lightgbm|keras`, `kiai compare`, `kiai predict`, `kiai report`: shells over
kiai.Warehouse's train, compare, predict and report.

The ML stack (TensorFlow, LightGBM, scikit-learn, matplotlib) is imported inside the commands only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from kiai.cli._common import Folds, Format, ModelsDir, Seed, Var, check_format, state

if TYPE_CHECKING:
    from kiai.ml.compare import Comparison
    from kiai.ml.runs import Run
    from kiai.progress import FoldDone

train_app = typer.Typer(help="Train a classifier on features.dataset.", no_args_is_help=True)

COMPARE_FORMATS = ("table", "json", "csv", "markdown")
REPEATS_HELP = "Split R times (seeds SEED..SEED+R-1): R x K test parts; compare shows mean ± std over them."
PARAM_HELP = "Override a model parameter: NAME=VALUE (VALUE read as TOML), repeatable [default: the model's]."
BASELINE_HELP = "Run to pair the others with: id, unique prefix, or a model kind (its latest run) [default: the best]."
Repeats = Annotated[int, typer.Option("--repeats", "-r", help=REPEATS_HELP)]
Param = Annotated[list[str] | None, typer.Option("--param", metavar="NAME=VALUE", help=PARAM_HELP)]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Only print the result line.")]
Baseline = Annotated[str | None, typer.Option("--baseline", "-b", metavar="RUN", help=BASELINE_HELP)]


def _train(
    kind: str, seed: int, folds: int, repeats: int, epochs: int | None, param: list[str] | None,
    models: Path | None, quiet: bool,
) -> None:  # fmt: skip
    from kiai.ml.params import parse_params

    house = state.house(Notice=lambda _: None, FoldDone=lambda _: None) if quiet else state.house(FoldDone=print_fold)
    params = parse_params(param or [])
    print_run(
        house.train(kind, seed=seed, folds=folds, repeats=repeats, epochs=epochs, params=params, models_dir=models)
    )


def print_run(run: Run) -> None:
    from kiai.ml.compare import format_metric
    from kiai.ml.metrics import SUMMARY

    cells = ", ".join(f"{name} {format_metric(run.metrics.get(name), run.folds * run.repeats)}" for name in SUMMARY)
    state.console.print(f"run {run.run_id} ({run.kind}): {cells}", highlight=False, soft_wrap=True)
    state.console.print(f"stored in {escape(str(run.path))}", highlight=False, soft_wrap=True)


def print_fold(event: FoldDone) -> None:
    m = event.metrics
    state.err_console.print(
        f"  {event.part}: accuracy {m['accuracy']:.3f}, macro-F1 {m['macro_f1']:.3f}, log loss {m['log_loss']:.3f} "
        f"({m['train_seconds']:.1f} s)",
        highlight=False, soft_wrap=True,
    )  # fmt: skip


@train_app.command("majority")
def train_majority(
    seed: Seed = 0, folds: Folds = 1, repeats: Repeats = 1, models: ModelsDir = None, quiet: Quiet = False
) -> None:
    """The floor: predicts the training part's class frequencies for every map, whatever its features.

    Example: kiai train majority --folds 5 --repeats 3
    """
    _train("majority", seed, folds, repeats, None, [], models, quiet)


@train_app.command("logistic")
def train_logistic(
    seed: Seed = 0,
    folds: Folds = 1,
    repeats: Repeats = 1,
    param: Param = None,
    models: ModelsDir = None,
    quiet: Quiet = False,
) -> None:
    """Multinomial logistic regression (scikit-learn) on standardised features, L2 (C=0.03), NULLs as means.

    Example: kiai train logistic --folds 5 --repeats 3 --param C=0.1
    """
    _train("logistic", seed, folds, repeats, None, param, models, quiet)


@train_app.command("lightgbm")
def train_lightgbm(
    seed: Seed = 0,
    folds: Folds = 1,
    repeats: Repeats = 1,
    epochs: int | None = typer.Option(None, "--epochs", help="Cap on boosting rounds [default: 400]."),
    param: Param = None,
    models: ModelsDir = None,
    quiet: Quiet = False,
) -> None:
    """Multiclass LightGBM (NULL features as missing values), early stopping on a validation split."""
    _train("lightgbm", seed, folds, repeats, epochs, param, models, quiet)


@train_app.command("keras")
def train_keras(
    seed: Seed = 0,
    folds: Folds = 1,
    repeats: Repeats = 1,
    epochs: int | None = typer.Option(None, "--epochs", help="Maximum epochs [default: 200, early stopping]."),
    param: Param = None,
    models: ModelsDir = None,
    quiet: Quiet = False,
) -> None:
    """A Keras MLP (Normalization layer inside the model, NULLs imputed with training means), early stopping."""
    _train("keras", seed, folds, repeats, epochs, param, models, quiet)


def compare(
    baseline: Baseline = None,
    fmt: str = typer.Option("table", "--format", help="table | json | csv | markdown."),
    models: ModelsDir = None,
) -> None:
    """Every training run with its test metrics, and each run's paired differences from a baseline run.

    Runs on the same test parts (same dataset, folds, repeats and seed) are paired part by part: the mean
    difference with a 95 % interval (corrected resampled t-test of Nadeau and Bengio over repeated folds; a
    paired bootstrap over the test beatmapsets for a single holdout), and whether it is clear of zero. Also
    per-class F1 and recall, and the classes each run confuses most.
    """
    check_format(fmt, COMPARE_FORMATS)
    comparison = state.house().compare(baseline, models)
    if fmt == "json":
        typer.echo(json.dumps(comparison.rows(), indent=2))
    elif fmt == "csv":
        typer.echo(comparison.to_csv(), nl=False)
    elif fmt == "markdown":
        typer.echo(comparison.to_markdown(), nl=False)
    else:
        print_compared(comparison)


def print_compared(comparison: Comparison) -> None:
    from kiai.cli._comparison import print_comparison

    if not comparison.views:
        state.console.print("no training runs yet: run `kiai train lightgbm` or `kiai train keras`")
    else:
        print_comparison(comparison)


def predict(
    target: str = typer.Argument(..., metavar="BEATMAP_ID|FILE.osu", help="A beatmap id or a .osu file."),
    run: str | None = typer.Option(None, "--run", help="Run id (or a unique prefix) [default: the latest run]."),
    fmt: Format = "table",
    var: Var = None,
) -> None:
    """Every category's probability for a beatmap, highest first.

    A beatmap id is looked up in the warehouse's features; a .osu file is parsed and featurised by the same
    SQL models in a temporary warehouse. A model trained on another feature version is refused.
    """
    from kiai.transform.project import parse_var_overrides

    check_format(fmt)
    result = state.house().predict(target, run, parse_var_overrides(var or []))
    for warning in result.warnings:
        state.err_console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)
    if fmt == "json":
        typer.echo(json.dumps(result.to_json(), indent=2))
        return
    what = f"beatmap {result.beatmap_id}" if result.beatmap_id is not None else f"md5 {result.md5}"
    state.console.print(
        f"{escape(what)} (features from {escape(result.source)}) · run {result.run_id} ({result.kind})",
        highlight=False,
        soft_wrap=True,
    )
    table = Table("category", "probability", "")
    table.columns[1].justify = "right"
    for label, probability in result.probabilities:
        table.add_row(escape(label), f"{probability:.1%}", "█" * round(probability * 30))
    state.console.print(table)


def report(
    out: Path = typer.Option(Path("reports/latest.html"), "--out", "-o", help="The HTML file to write."),
    run: list[str] = typer.Option([], "--run", help="Runs to include (repeatable) [default: the latest ten]."),
    baseline: Baseline = None,
    models: ModelsDir = None,
) -> None:
    """One self-contained HTML report of the runs (plots embedded; opens without a network).

    Runs side by side with 95 % intervals, paired differences from a baseline run, each metric per run with the
    baselines drawn as its floor, the dataset (maps per label and beatmapset, versions, label conflicts),
    per-class F1 and recall, confusion matrices, feature importance and a calibration plot.
    """
    print_report(state.house().report(out, run or None, baseline, models))


def print_report(path: Path) -> None:
    state.console.print(f"report written to {escape(str(path))}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.add_typer(train_app, name="train")
    app.command("compare")(compare)
    app.command("predict")(predict)
    app.command("report")(report)
