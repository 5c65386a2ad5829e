"""Predict a beatmap's category probabilities with a stored run: by beatmap id from the warehouse, or from a
new `.osu` file featurised by the same SQL models in a scratch warehouse."""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from kiai.config import Config
from kiai.errors import KiaiError
from kiai.ml import runs
from kiai.ml.backend import Backend
from kiai.ml.dataset import DATASET, FEATURES, Frame, read_frame, relation_exists
from kiai.ml.encoders import Encoder
from kiai.ml.versions import DATASET_MODEL, FEATURE_MODEL, fingerprints, short

MOSTLY_PRESENT = 0.5  # a column non-NULL in at least this share of training rows is one the model relies on


@dataclass
class Prediction:
    """Every category's probability for one beatmap, highest first."""

    run_id: str
    kind: str
    beatmap_id: int | None
    md5: str | None
    source: str
    probabilities: list[tuple[str, float]]
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "kind": self.kind,
            "beatmap_id": self.beatmap_id,
            "md5": self.md5,
            "source": self.source,
            "probabilities": [{"label": label, "probability": p} for label, p in self.probabilities],
            "warnings": self.warnings,
        }


class Predictor:
    """A stored run's model, encoder and preprocessing, loaded from `models/<run_id>/`."""

    def __init__(self, run: runs.Run) -> None:
        from kiai.ml.backend import backend

        self.run = run
        self.manifest = run.manifest()
        self.encoder = Encoder.from_json(self.manifest["encoder"])
        self.labels: list[str] = list(self.manifest["labels"])
        self.backend: Backend = backend(run.kind)
        self.model: Any = None

    def check_version(self, code_fps: dict[str, str], model: str, where: str) -> None:
        """Refuse features built by other SQL or vars than the run was trained on."""
        trained = self.manifest["model_versions"].get("code_fingerprints", {}).get(model)
        if trained is None:
            return  # trained on a dataset that no SQL model built: nothing to compare
        current = code_fps.get(model)
        if current != trained:
            raise KiaiError(
                f"run {self.run.run_id} was trained on feature version {short(trained)} of {model}, but {where} has "
                f"{short(current) if current else 'none'}: rebuild the features with the same SQL models and vars "
                "(`kiai build-features`), or train a new model"
            )

    def probabilities(self, frame: Frame) -> np.ndarray:
        if self.model is None:
            self.model = self.backend.load(self.run.path)
        return self.backend.predict(self.model, self.manifest["preprocessing"], self.encoder.transform(frame))

    def unsupplied(self, frame: Frame) -> list[str]:
        """Feature columns NULL in the (one-row) frame that were present in most training rows (all NULL columns
        for a run that did not record its columns' non-NULL shares)."""
        shares: dict[str, float] = self.manifest["dataset"].get("non_null_share", {})
        missing = []
        for column in frame.columns:
            value = frame.values[column.name][0]
            is_null = value is None if column.kind == "categorical" else bool(np.isnan(value))
            if is_null and shares.get(column.name, 1.0) >= MOSTLY_PRESENT:
                missing.append(column.name)
        return missing

    def prediction(self, frame: Frame, source: str) -> Prediction:
        proba = self.probabilities(frame)[0]
        ranked = sorted(zip(self.labels, proba.tolist(), strict=True), key=lambda item: (-item[1], item[0]))
        beatmap_id = int(frame.beatmap_ids[0])
        return Prediction(
            run_id=self.run.run_id,
            kind=self.run.kind,
            beatmap_id=None if beatmap_id < 0 else beatmap_id,
            md5=frame.md5s[0],
            source=source,
            probabilities=ranked,
        )


def predict_beatmap(con: duckdb.DuckDBPyConnection, beatmap_id: int, run_id: str | None = None) -> Prediction:
    """A beatmap of the warehouse: its row of features.dataset, else of features.beatmap_features."""
    predictor = Predictor(runs.get_run(con, run_id))
    _, code_fps = fingerprints(con)
    for relation, model in ((DATASET, DATASET_MODEL), (FEATURES, FEATURE_MODEL)):
        if not relation_exists(con, relation):
            continue
        (count,) = con.execute(f"SELECT count(*) FROM {relation} WHERE beatmap_id = ?", [beatmap_id]).fetchall()[0]
        if count:
            predictor.check_version(code_fps, model, "this warehouse")
            frame = read_frame(
                con, relation, predictor.encoder.columns, with_labels=False, where="WHERE beatmap_id = ?",
                params=[beatmap_id],
            )  # fmt: skip
            return predictor.prediction(frame, relation)
    raise KiaiError(
        f"beatmap {beatmap_id} has no features in this warehouse (not in {DATASET} or {FEATURES}): fetch it "
        "(`kiai fetch beatmaps --ids FILE`) or ingest its .osu file, then run `kiai build-features`; "
        "only osu!standard maps have features"
    )


def predict_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    config: Config | None = None,
    variables: dict[str, Any] | None = None,
    run_id: str | None = None,
) -> Prediction:
    """A `.osu` file: parsed and featurised by the same SQL models in a temporary warehouse, then predicted."""
    from kiai import warehouse
    from kiai.load.osu_files import ingest_sources
    from kiai.load.osu_sources import OsuSource
    from kiai.transform import build

    predictor = Predictor(runs.get_run(con, run_id))
    if not path.is_file():
        raise KiaiError(f"{path}: no such file")
    if path.suffix.lower() != ".osu":
        raise KiaiError(f"{path}: expected a .osu file (ingest archives with `kiai ingest osu-files`)")
    data = path.read_bytes()
    md5 = hashlib.md5(data).hexdigest()
    with tempfile.TemporaryDirectory(prefix="kiai-predict-") as tmp:
        scratch = warehouse.connect(Path(tmp) / "scratch.duckdb")
        try:
            summary = ingest_sources(scratch, [OsuSource(str(path), data)], workers=1)
            if summary.parse_errors:
                reason = summary.error_examples[0] if summary.error_examples else "parse error"
                raise KiaiError(f"{path}: not a readable .osu file ({reason})")
            row = warehouse.first_row(scratch.execute("SELECT mode FROM parsed.beatmap_files WHERE md5 = ?", [md5]))
            if row is not None and row[0] != 0:
                raise KiaiError(f"{path}: mode {row[0]} map; the models only know osu!standard (mode 0)")
            report = build(scratch, config=config, variables=variables)
            if not report.ok:
                failed = ", ".join(f"{r.model} ({r.message or r.status})" for r in report.failed)
                raise KiaiError(f"featurising {path} failed: {failed}")
            _, code_fps = fingerprints(scratch)
            predictor.check_version(code_fps, FEATURE_MODEL, "the SQL models on disk")
            if not relation_exists(scratch, FEATURES):
                raise KiaiError(f"the SQL models define no {FEATURES}; cannot featurise {path}")
            frame = read_frame(
                scratch, FEATURES, predictor.encoder.columns, with_labels=False, where="WHERE md5 = ?", params=[md5]
            )
            if len(frame) == 0:
                raise KiaiError(f"{path}: the SQL models gave it no row in {FEATURES}")
            result = predictor.prediction(frame, str(path))
            missing = predictor.unsupplied(frame)
            if missing:
                result.warnings.append(
                    f"the file cannot supply {len(missing)} feature(s) the model was trained with "
                    f"({', '.join(missing)}; they come from the osu! API): treated as missing, so this is less "
                    "reliable than a prediction by beatmap id"
                )
            return result
        finally:
            scratch.close()
