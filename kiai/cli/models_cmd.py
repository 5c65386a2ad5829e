"""`kiai build-features` and `kiai models list|show|diff|copy|compile|prune`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape
from rich.table import Table

from kiai.cli._common import Var, state
from kiai.cli._tables import print_rows
from kiai.errors import KiaiError

if TYPE_CHECKING:  # kiai.transform is imported when a command runs: it brings jinja2 and sqlglot, ~0.1 s
    from kiai.transform import runner
    from kiai.transform.plan import PlanItem

app = typer.Typer(help="Inspect and tidy the versioned SQL models.", no_args_is_help=True)

SELECT_HELP = (
    "Models to build: NAME, NAME+ (and downstream), +NAME (and upstream); repeat or comma-separate "
    "[default: every model]."
)
# by runner.Status, a StrEnum: its members look up as their values
STATUS_STYLE = {"built": "green", "reused": "green", "retested": "green", "skipped": "yellow"}


def _vars(var: list[str] | None) -> dict[str, Any]:
    """The --var overrides, parsed."""
    from kiai.transform.project import parse_var_overrides

    return parse_var_overrides(var or [])


def build_features(
    select: list[str] = typer.Option([], "--select", "-s", metavar="MODELS", help=SELECT_HELP),
    full_refresh: bool = typer.Option(False, "--full-refresh", help="Rebuild the selected models regardless."),
    var: Var = None,
) -> None:
    """Build the SQL models that changed (SQL, vars, upstream or data), in dependency order.

    Prints the plan first. A failing column test stops the models downstream of it and exits non-zero.
    """
    house = state.house(**BUILD_EVENTS)
    print_built(house.build(select or None, full_refresh, _vars(var)))


def print_built(report: runner.BuildReport) -> None:
    """The build's summary line; failed models are an error (after the plan and results, printed as they came)."""
    if not report.todo:
        state.console.print(f"nothing to do: {len(report.plan)} models up to date ({report.seconds:.2f} s)")
        return
    from kiai.transform.runner import Status

    built = sum(result.ok for result in report.results)
    state.console.print(f"{built} of {len(report.todo)} models done in {report.seconds:.2f} s")
    if not report.ok:
        failed = [r.model for r in report.results if r.status in (Status.ERROR, Status.TESTS_FAILED)]
        skipped = [r.model for r in report.results if r.status == Status.SKIPPED]
        raise KiaiError(f"failed: {', '.join(failed)}" + (f"; skipped: {', '.join(skipped)}" if skipped else ""))


def _print_plan(payload: runner.BuildReport) -> None:
    if payload.sources:
        state.console.print(escape(payload.sources), highlight=False)
    for warning in payload.warnings:
        state.err_console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
    if payload.todo:
        up_to_date = len(payload.plan) - len(payload.todo)
        state.console.print(f"plan: {len(payload.todo)} to do, {up_to_date} up to date")
        for item in payload.todo:
            _print_plan_item(item)


BUILD_EVENTS = {
    "PlanReady": lambda event: _print_plan(event.plan),
    "ModelBuilt": lambda event: _print_result(event.result),
}


def _print_plan_item(item: PlanItem) -> None:
    why = escape("; ".join(item.reasons))
    state.console.print(f"  {item.action:<7} {item.relation:<36} {item.fingerprint}  {why}", highlight=False)


def _print_result(result: runner.ModelResult) -> None:
    from kiai.transform.plan import describe_vars

    style = STATUS_STYLE.get(result.status, "bold red")
    rows = f"{result.rows:,} rows" if result.rows is not None else ""
    tests = f"tests {sum(t.passed for t in result.tests)}/{len(result.tests)}" if result.tests else ""
    counts = describe_vars(result.counts)
    line = "  ".join(p for p in (rows, tests, f"{result.seconds:.2f} s", counts) if p)
    state.console.print(f"[{style}]{result.status:<12}[/] {result.model}  {escape(line)}", highlight=False)
    if result.message:
        state.err_console.print(f"  {escape(result.message)}", highlight=False)
    for test in result.tests:
        if test.passed or test.error:
            continue
        table = Table(*test.columns, title=f"{test.label}: {test.failures:,} failing rows (first few)")
        for row in test.samples:
            table.add_row(*(escape(str(v)) for v in row))
        state.err_console.print(table)


@app.command("list")
def list_models(var: Var = None) -> None:
    """Every model: where it comes from, current version, when it was built, rows, tests, and whether it is up to
    date."""
    rows = []
    for status in state.house().model_statuses(_vars(var)):
        cur = status.current
        rows.append(
            [
                status.relation,
                status.origin,
                status.state,
                cur.fingerprint if cur else "-",
                f"{cur.created_at:%Y-%m-%d %H:%M:%S}" if cur else "-",
                f"{cur.rows:,}" if cur and cur.rows is not None else "-",
                ("passed" if cur.tests_passed else "FAILED") if cur else "-",
                str(status.versions),
                status.materialized,
            ]
        )
    # the state early: on a narrow terminal the columns that do not fit are named, never dropped silently
    print_rows(
        state.console, ["model", "from", "state", "version", "built at", "rows", "tests", "versions", "kind"], rows
    )


@app.command("show")
def show(
    name: str = typer.Argument(..., help="Model name."),
    var: Var = None,
) -> None:
    """A model's rendered SQL, upstream and downstream, versions and column docs."""
    details = state.house().model(name, _vars(var))
    model, versions = details.model, details.versions
    state.console.print(
        f"[bold]{model.relation}[/] ({model.materialized}, from {model.origin})  {model.path}", highlight=False
    )
    if model.replaces:
        state.console.print(f"replaces {model.replaces.path}", highlight=False)
    if model.description:
        state.console.print(escape(model.description))
    upstream, downstream = ", ".join(details.upstream) or "-", ", ".join(details.downstream) or "-"
    state.console.print(f"upstream: {upstream}   downstream: {downstream}")
    state.console.print(f"reads: {', '.join(details.sources) or '-'}")
    if details.vars:
        from kiai.transform.plan import describe_vars

        state.console.print(f"vars: {escape(describe_vars(details.vars))}")
    state.console.print("\n[bold]SQL[/] (rendered)")
    state.console.print(escape(details.rendered_sql.strip()), highlight=False)
    types = {col: kind for col, kind in next((v.columns for v in versions if v.current), [])}
    table = Table("column", "type", "description", "tests", title="columns")
    documented = {column.name: column for column in model.columns}
    for col in [*types, *(c for c in documented if c not in types)]:
        doc = documented.get(col)
        tests = ", ".join(t.label(col) for t in doc.tests) if doc else ""
        table.add_row(col, types.get(col, "?"), escape(doc.description if doc else ""), escape(tests))
    state.console.print(table)
    table = Table("version", "feature version", "built at", "rows", "tests", "current", title="versions")
    for v in versions:
        tests = "passed" if v.tests_passed else "FAILED"
        when = f"{v.created_at:%Y-%m-%d %H:%M:%S}"
        table.add_row(v.relation, v.code_fingerprint or "?", when, f"{v.rows or 0:,}", tests, "*" * v.current)
    state.console.print(table)


@app.command("diff")
def diff(
    name: str = typer.Argument(..., help="Model name."),
    var: Var = None,
) -> None:
    """What changed on disk against the current version, and whether the change is breaking."""
    result = state.house().model_diff(name, _vars(var))
    if result.old is None:
        state.console.print(f"{name} has never been built: everything is new")
        return
    if not result.reasons:
        state.console.print(f"{name}: no change against current version {result.old.fingerprint}")
        return
    state.console.print(f"{name}: {result.old.fingerprint} -> {result.new.fingerprint}")
    for reason in result.reasons:
        state.console.print(f"  {escape(reason)}", highlight=False)
    for line in result.sql_diff:
        style = "green" if line.startswith("+") else "red" if line.startswith("-") else ""
        state.console.print(f"[{style}]{escape(line)}[/]" if style else escape(line), highlight=False)
    for label, names in (("added", result.added), ("removed", result.removed), ("retyped", result.retyped)):
        if names:
            state.console.print(f"columns {label}: {', '.join(names)}")
    if result.note:
        state.console.print(escape(result.note))
    else:
        verdict = "BREAKING (columns removed or retyped)" if result.breaking else "not breaking"
        state.console.print(f"verdict: {verdict}")


@app.command("copy")
def copy(names: list[str] = typer.Argument(..., help="Shipped model names, e.g. dataset.")) -> None:
    """Copy shipped models into this project's models/ folder, to edit them there (the copy replaces the shipped
    model). Files already in the project are kept."""
    result = state.house().copy_models(names)
    for path in result.copied:
        state.console.print(f"copied {escape(str(path))}", highlight=False)
    for path in result.kept:
        state.console.print(f"kept {escape(str(path))} (already in the project)", highlight=False)


@app.command("compile")
def compile_models(
    dialect: str = typer.Option("spark", "--dialect", help="The SQL dialect to write (spark)."),
    out: Path = typer.Option(Path("build/spark"), "--out", "-o", help="Folder for the compiled SQL."),
    var: Var = None,
) -> None:
    """Write every model as Spark SQL in build order (OUT/NN_<schema>.<model>.sql), with run_models.py to run
    them over a lake from `kiai export lake`; a model that stays DuckDB-only says why.

    Columns come from the warehouse (stars are expanded), so build the models first.

    Example: kiai models compile --dialect spark --out build/spark
    """
    from kiai.transform.compile import RUNNER_NAME

    models = state.house().compile_models(out, dialect, _vars(var))
    for model in models:
        what = model.file_name if model.sql is not None else f"[yellow]DuckDB-only[/]: {escape(model.reason or '')}"
        state.console.print(f"  {model.position:>2} {model.relation:<32} {what}", highlight=False)
    compiled = sum(m.sql is not None for m in models)
    state.console.print(
        f"compiled {compiled} of {len(models)} models to {escape(str(out))} ({dialect})", highlight=False
    )
    state.console.print(
        f"run them: spark-submit {escape(str(out / RUNNER_NAME))} --lake LAKE_DIR --out RESULTS_DIR", highlight=False
    )


@app.command("prune")
def prune(keep: int = typer.Option(3, "--keep", min=1, help="Versions to keep per model.")) -> None:
    """Drop old versions, keeping the newest N of each model (the current one always stays)."""
    dropped = state.house().prune(keep)
    for version in dropped:
        state.console.print(f"dropped {version.relation} (built {version.created_at:%Y-%m-%d %H:%M})")
    state.console.print(f"pruned {len(dropped)} version(s)")


def register(root: typer.Typer) -> None:
    root.command("build-features")(build_features)
    root.add_typer(app, name="models")
