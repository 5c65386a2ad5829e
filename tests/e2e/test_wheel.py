"""The wheel as a user gets it: built from this checkout, installed into a fresh virtual environment outside it,
and run from empty folders. The models must come from the package, not from the source tree.

The fresh environment gets the wheel alone (`pip install --no-deps`) and sees the test environment's
site-packages through a .pth file, so kiai's dependencies are not downloaded and installed again (TensorFlow
alone is ~600 MB); `pip check` then proves every requirement of the wheel is met there. The source checkout is
not on its path: PYTHONPATH is cleared and the folders are outside it. About 21 s on a shared 2-core machine
(build and install 3 s, `kiai demo --quick` 12 s).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from tests.support.paths import REPO, shipped_models

pytestmark = pytest.mark.slow


def _run(*command: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True, cwd=cwd, env=env, timeout=600)
    assert result.returncode == 0, f"{command} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """(the fresh environment's bin folder, the environment variables to run it with)."""
    root = tmp_path_factory.mktemp("wheel")
    _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", root / "dist", REPO)
    (wheel,) = (root / "dist").glob("kiai-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {p.relative_to(REPO).as_posix() for p in (REPO / "sql").rglob("*") if p.is_file()}
    assert {f"kiai/{name}" for name in shipped} <= set(names)
    assert "kiai/sample/osu/PROVENANCE.md" in names and "kiai/ml/templates/report.html.j2" in names

    env_dir = root / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip())
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (purelib / "_kiai_test_dependencies.pth").write_text("\n".join(sorted(ours)) + "\n")
    _run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-index", wheel)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("KIAI_")}
    env["COLUMNS"] = "200"
    assert "No broken requirements" in _run(sys.executable, "-m", "pip", "--python", python, "check", env=env)
    location = _run(python, "-c", "import kiai; print(kiai.__file__)", cwd=root, env=env)
    assert Path(location.strip()).is_relative_to(env_dir)
    return env_dir / "bin", env


def test_demo_and_build_features_from_an_empty_folder(installed, tmp_path):
    bin_dir, env = installed
    demo = _run(bin_dir / "kiai", "demo", "--quick", cwd=tmp_path, env=env)
    assert "Ingest the real .osu maps shipped with kiai" in demo
    assert re.search(r"8 files: 8 added, .* 0 could not be parsed", demo)
    n = shipped_models()
    assert f"{n} of {n} models done" in demo and (tmp_path / "reports" / "demo.html").is_file()
    assert _run(bin_dir / "kiai", "build-features", cwd=tmp_path, env=env).startswith(f"nothing to do: {n} models")
    shown = _run(bin_dir / "kiai", "models", "show", "file_features", cwd=tmp_path, env=env).splitlines()[0]
    assert re.search(r"\(table, from kiai\) .*/site-packages/kiai/sql/features/file_features\.sql$", shown)
    assert str(bin_dir.parent) in shown  # the installed package's models, not the checkout's sql/

    fresh = tmp_path / "fresh"
    fresh.mkdir()
    built = _run(bin_dir / "kiai", "build-features", cwd=fresh, env=env)
    assert f"{n} of {n} models done" in built and (fresh / "warehouse" / "kiai.duckdb").is_file()


def test_a_project_replaces_a_shipped_model_from_the_installed_package(installed, tmp_path):
    bin_dir, env = installed
    _run(bin_dir / "kiai", "init", "proj", cwd=tmp_path, env=env)
    project = tmp_path / "proj"
    _run(bin_dir / "kiai", "models", "copy", "label_conflicts", cwd=project, env=env)
    path = project / "models" / "features" / "label_conflicts.sql"
    path.write_text(path.read_text() + "\n-- mine\nLIMIT 1000000\n")
    built = _run(bin_dir / "kiai", "build-features", cwd=project, env=env)
    assert re.search(r"build +features\.label_conflicts +\w+ +project model replaces kiai's", built)
    assert f"{shipped_models()} of {shipped_models()} models done" in built


def test_the_shipped_real_maps_are_the_fixtures_they_name():
    from kiai.demo import REAL_MAPS
    from tests.support.paths import OSU_FIXTURES

    maps = sorted(REAL_MAPS.glob("*.osu"))
    provenance = (REAL_MAPS / "PROVENANCE.md").read_text(encoding="utf-8")
    assert len(maps) == 8
    for path in maps:
        assert path.read_bytes() == (OSU_FIXTURES / path.name).read_bytes()
        assert f"| `{path.name}` |" in provenance
