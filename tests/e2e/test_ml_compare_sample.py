"""The honest comparison on the sample world (kiai.sample), end to end through the CLI: LightGBM clearly beats
the majority floor on repeated folds, and the report renders it in a real headless Chromium."""

from __future__ import annotations

import json
import re

import pytest

from kiai import warehouse
from kiai.ml.report import FLOOR_COLOURS, MODEL_COLOURS
from kiai.ml.runs import list_runs
from tests.support.browser import render, require_chromium
from tests.support.cli import run_kiai
from tests.support.ml import sample_warehouse

GREEN = "rgb(26, 127, 55)"  # .better in the report's CSS


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("ml_compare_sample")
    db, _ = sample_warehouse(folder)
    models = folder / "models"
    for kind in ("majority", "logistic", "lightgbm"):
        run_kiai("train", kind, "--folds", "5", "--repeats", "2", "-q", "--models-dir", str(models), db=db, cwd=folder)
    con = warehouse.connect(db, read_only=True)
    runs = {run.kind: run for run in list_runs(con)}
    labels = con.execute(
        "SELECT label, count(*), count(DISTINCT beatmapset_id) FROM features.dataset GROUP BY ALL ORDER BY label"
    ).fetchall()
    conflicts = con.execute("SELECT count(*) FROM features.label_conflicts").fetchall()[0][0]
    con.close()
    return {"db": db, "folder": folder, "models": models, "runs": runs, "labels": labels, "conflicts": conflicts}


def test_lightgbm_clearly_beats_the_majority_floor(trained: dict) -> None:
    runs = trained["runs"]
    majority = runs["majority"]
    rows = json.loads(run_kiai("compare", "--baseline", majority.run_id, "--format", "json", db=trained["db"]).stdout)
    by_kind = {row["model"]: row for row in rows}
    assert {row["split_hash"] for row in rows} == {majority.split_hash}, "every kind on the same 10 parts"
    lgbm = by_kind["lightgbm"]["difference"]
    assert lgbm["paired"] and lgbm["parts"] == 10
    for name in ("accuracy", "macro_f1", "log_loss", "top2_accuracy"):
        assert lgbm["metrics"][name]["verdict"] == "better", (name, lgbm["metrics"][name])
    assert lgbm["metrics"]["accuracy"]["low"] > 0.25  # measured: +0.45 [+0.38, +0.53]
    logistic = by_kind["logistic"]["difference"]
    assert logistic["metrics"]["accuracy"]["verdict"] == "better"
    # against the default baseline (the best run, LightGBM) the floor is clearly worse
    rows = json.loads(run_kiai("compare", "--format", "json", db=trained["db"]).stdout)
    baseline = next(row for row in rows if row["baseline"])
    assert baseline["model"] == "lightgbm"
    floor = next(row for row in rows if row["model"] == "majority")["difference"]
    assert floor["metrics"]["accuracy"]["verdict"] == "worse"


# What the browser laid out: tables as the text of their cells, images as decoded pixels.
RENDERED = """
const cells = tr => [...tr.children].map(cell => cell.innerText.trim());
const table = selector => [...doc.querySelectorAll(selector + " tr")].map(cells);
const near = (data, rgb) => {
  let n = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (Math.abs(data[i] - rgb[0]) + Math.abs(data[i + 1] - rgb[1]) + Math.abs(data[i + 2] - rgb[2]) < 40) n++;
  }
  return n;
};
const images = [...doc.images].map(img => {
  const hex = colour => [1, 3, 5].map(i => parseInt(colour.slice(i, i + 2), 16));
  const box = img.getBoundingClientRect();
  const canvas = doc.createElement("canvas");
  canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
  const context = canvas.getContext("2d");
  context.drawImage(img, 0, 0);
  const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
  const colours = new Set();
  for (let i = 0; i < data.length; i += 4) colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
  return {alt: img.alt, complete: img.complete, natural: img.naturalWidth, width: box.width, height: box.height,
          colours: colours.size,
          model: near(data, hex(MODEL)), floors: FLOORS.map(colour => near(data, hex(colour)))};
});
const differences = [...doc.querySelectorAll("#differences-table tr[data-run]")].map(tr => ({
  run: tr.dataset.run, cells: cells(tr),
  better: [...tr.querySelectorAll(".better")].map(span => win.getComputedStyle(span).color)}));
return {
  comparison: table("#comparison"),
  floors: [...doc.querySelectorAll("#comparison tr.floor")].map(tr => tr.dataset.run),
  differences: differences,
  labels: table("table.dataset-labels"),
  sets: table("table.dataset-sets"),
  conflicts: doc.querySelector(".label-conflicts").innerText,
  headings: [...doc.querySelectorAll("h2")].map(h => h.innerText),
  pageWidth: doc.documentElement.scrollWidth, viewport: win.innerWidth,
  images: images,
};
"""


def test_the_report_renders_intervals_floors_and_the_dataset_in_a_browser(trained: dict) -> None:
    require_chromium()
    runs = trained["runs"]
    out = trained["folder"] / "reports" / "compare.html"
    run_kiai(
        "report", "--out", str(out), "--baseline", runs["majority"].run_id, "--models-dir", str(trained["models"]),
        db=trained["db"],
    )  # fmt: skip
    script = f"const MODEL = {json.dumps(MODEL_COLOURS[0])}; const FLOORS = {json.dumps(list(FLOOR_COLOURS.values()))};"
    page = render(out, script + RENDERED)

    assert page["headings"][:4] == [
        "Runs side by side",
        "Differences from the baseline",
        "Each metric per run",
        "Dataset",
    ]
    header, *rows = page["comparison"]
    assert header[5:] == [
        "accuracy",
        "macro-F1",
        "log loss",
        "top-2 accuracy",
        "calibration error (ECE)",
        "train time (s)",
    ]
    assert sorted(row[1] for row in rows) == ["lightgbm", "logistic", "majority"]
    for row in rows:  # mean ± std over the 10 parts, and the 95 % interval on its own line
        for cell in row[5:10]:
            assert re.fullmatch(r"\d\.\d{3} ± \d\.\d{3}\n\[-?\d\.\d{3}, \d\.\d{3}\]", cell), cell
    assert sorted(page["floors"]) == sorted([runs["majority"].run_id, runs["logistic"].run_id])

    lgbm = next(d for d in page["differences"] if d["run"] == runs["lightgbm"].run_id)
    assert lgbm["cells"][2].startswith("10 parts")
    assert re.fullmatch(r"\+0\.\d{3} better\n\[\+0\.\d{3}, \+0\.\d{3}\]", lgbm["cells"][3]), lgbm["cells"][3]
    assert lgbm["better"] and set(lgbm["better"]) == {GREEN}, "the verdict is styled, not only written"

    labels = {row[0]: (int(row[1]), int(row[2])) for row in page["labels"][1:-1]}
    assert labels == {label: (maps, sets) for label, maps, sets in trained["labels"]}
    total_maps = sum(maps for _, maps, _ in trained["labels"])
    assert page["labels"][-1][:2] == ["all", str(total_maps)]
    sizes = [(int(size), int(count)) for size, count in page["sets"][1:]]
    assert sum(size * count for size, count in sizes) == total_maps
    assert int(page["labels"][-1][2]) == sum(count for _, count in sizes)
    assert f"{trained['conflicts']} maps" in page["conflicts"] and trained["conflicts"] > 0

    images = page["images"]
    alts = [image["alt"] for image in images]
    metric_plots = [image for image in images if image["alt"].endswith(" per run")]
    assert [image["alt"] for image in metric_plots] == [
        "accuracy per run", "macro-F1 per run", "log loss per run", "top-2 accuracy per run",
        "calibration error (ECE) per run",
    ]  # fmt: skip
    assert alts.count("confusion matrix") == 3 and alts.count("feature importance") == 3
    for image in images:  # decoded, laid out at its size, and not blank
        assert image["complete"] and image["natural"] > 200 and image["width"] == image["natural"], image["alt"]
        assert image["height"] > 150 and image["colours"] > 30, image
    for image in metric_plots:  # the model's interval and both floors are drawn in their colours
        assert image["model"] > 20 and min(image["floors"]) > 20, image
    assert page["pageWidth"] <= page["viewport"], "nothing pushes the page wider than the window"
