"""A project of one's own: `kiai init PATH` writes kiai.toml and a models/ folder; `kiai models copy` brings a
shipped model into it to edit.

A project's models are built with the ones kiai ships (kiai.transform.project): a new file adds a model, a
file with a shipped model's name replaces that model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kiai.config import Config
from kiai.errors import KiaiError
from kiai.files import atomic_write
from kiai.transform.project import PROJECT, SHIPPED, base_folder, load_project, model_folders, shipped_sql_dir

MODELS = "models"
PROJECT_TOML = """\
# A kiai project, written by `kiai init`. Run kiai in this folder (or point KIAI_CONFIG at this file);
# env vars win over this file. Relative [paths] are relative to the folder kiai runs in.

# Your SQL models, models/<schema>/<name>.sql, are built with the ones kiai ships; a file named like a
# shipped model (`kiai models list`, `kiai models copy NAME`) replaces it. false: only this folder's models.
[project]
models = "models"
shipped_models = {shipped}

[paths]
db = "warehouse/kiai.duckdb"
models_dir = "runs"        # trained models (`kiai train`): models/ holds the SQL models

[vars]
# stream_tolerance_ms = 3  # override a var of the models (`kiai models show NAME` lists the vars it uses)

[osu]
# Prefer the env vars KIAI_OSU_CLIENT_ID / KIAI_OSU_CLIENT_SECRET; never commit a real secret.
# client_id = 12345
# client_secret = "..."

# category = [osu!collector collection ids]; a map in two categories keeps the first one listed here.
[collections]
# stream = [1234]
"""


@dataclass
class InitResult:
    root: Path
    config: Path
    config_written: bool  # False: an existing kiai.toml was kept as it was
    models: Path
    copied: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)  # files --copy-models found there already and left alone


def init_project(root: Path, copy_models: bool = False) -> InitResult:
    """Write `root/kiai.toml` and an empty `root/models/` (with `copy_models`: a copy of every shipped model and
    vars.toml, and `shipped_models = false`). Idempotent: an existing kiai.toml and existing files are kept."""
    if root.exists() and not root.is_dir():
        raise KiaiError(f"{root} is a file, not a folder for a project")
    config = root / "kiai.toml"
    result = InitResult(root, config, config_written=not config.exists(), models=root / MODELS)
    result.models.mkdir(parents=True, exist_ok=True)
    if copy_models:
        shipped = shipped_sql_dir()
        for source in sorted(p for p in shipped.rglob("*") if p.is_file() and p.suffix in (".sql", ".toml")):
            _copy(source, result.models / source.relative_to(shipped), result)
    if result.config_written:
        atomic_write(config, PROJECT_TOML.format(shipped="false" if copy_models else "true"))
    return result


def copy_models(config: Config, names: list[str]) -> InitResult:
    """Copy shipped models (by name) into the project's models folder, at the same path, to edit them there."""
    folders = model_folders(config)
    project_folder = next((f for f in folders if f.label == PROJECT), None)
    if project_folder is None or config.source_file is None:
        raise KiaiError('no project here: run `kiai init PATH` first (kiai.toml [project] models = "models")')
    shipped = load_project([base_folder(config)])
    result = InitResult(config.source_file.parent, config.source_file, False, project_folder.path)
    for name in names:
        model = shipped.get(name)
        _copy(model.path, project_folder.path / model.path.relative_to(model.folder.path), result)
    return result


def _copy(source: Path, target: Path, result: InitResult) -> None:
    if target.exists():
        result.kept.append(target)
        return
    atomic_write(target, source.read_bytes())
    result.copied.append(target)


__all__ = ["MODELS", "SHIPPED", "InitResult", "copy_models", "init_project"]
