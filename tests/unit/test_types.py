"""mypy on the typed layers (kiai/osu, kiai/transform, kiai/sources; the settings are pyproject's [tool.mypy]).

A test rather than a CI step, so the README's one test command checks the types wherever it runs."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from tests.support.paths import REPO


@pytest.mark.skipif(
    importlib.util.find_spec("mypy") is None, reason="mypy is not installed (it is in the [test] extra)"
)
def test_the_typed_layers_type_check() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-color-output", "--no-error-summary"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
