"""Each `.osu` fixture parses to the rows its case file in tests/cases/parsed holds (see tests/support/parsed_cases.py
for what a case keeps and how to write the files again after a deliberate change)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.parsed_cases import PARSED_CASES, REGENERATE, case_path, case_text, fixture_files, parsed_case


@pytest.mark.parametrize("fixture", fixture_files(), ids=lambda path: path.name)
def test_the_fixture_parses_to_its_case_file(fixture: Path) -> None:
    path = case_path(fixture)
    assert path.exists(), f"{path.name} is missing: run `{REGENERATE}` and review what it writes"
    got = json.loads(case_text(parsed_case(fixture)))
    assert got == json.loads(path.read_text(encoding="utf-8")), f"the parser changed: if meant, run `{REGENERATE}`"


def test_every_case_file_has_its_fixture_and_together_they_hold_every_kind_and_context() -> None:
    cases = {case_path(fixture): parsed_case(fixture) for fixture in fixture_files()}
    assert len(cases) == len(fixture_files()), "two fixtures share a case file name"
    assert set(PARSED_CASES.glob("*.json")) == set(cases), f"stale or missing case files: run `{REGENERATE}`"
    contexts = [o for case in cases.values() for o in case.get("hit_objects", ())]
    assert {o["kind"] for o in contexts} == {"circle", "slider", "spinner", "hold"}
    assert any(o["kiai"] for o in contexts) and any(o["slider_velocity"] != 1 for o in contexts)
