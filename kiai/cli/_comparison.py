"""`kiai compare`'s terminal tables: every run's metrics, the paired differences from the baseline, per class."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table

from kiai.cli._common import state
from kiai.cli._tables import print_table, unlimited

if TYPE_CHECKING:
    from kiai.ml.compare import Comparison


def print_comparison(comparison: Comparison) -> None:
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
        state.console.print(
            f"\nrun - baseline [bold]{comparison.baseline}[/] (95 % interval; better/worse: clear of zero; "
            "corrected resampled t-test over repeated folds, paired bootstrap over a holdout's test beatmapsets):",
            highlight=False, soft_wrap=unlimited(state.console),
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
    state.console.print(
        "\nper class: F1 / recall over the test parts; most confused: true → predicted (share of the true class)",
        soft_wrap=unlimited(state.console),
    )
    rows = [[view.run.run_id, *(c.per_class_cell(view, label) for label in labels), c.confusions_cell(view)]
            for view in comparison.views]  # fmt: skip
    _print_table(("run", *labels, "most confused"), rows, range(1, 1 + len(labels)))


def _print_table(headers: tuple[str, ...], cells: list[list[str]], numeric: range) -> None:
    """A row per run when the terminal is wide enough, else runs side by side in blocks (every run shown)."""
    console = state.console
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
