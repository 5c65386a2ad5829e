"""`kiai export dataset`: write features.dataset to CSV or Parquet, atomically, with the versions it came from.

Each export writes `<out>` and a sidecar `<out>.manifest.json` (both to temp files, then renamed: data, then
manifest) and, last, adds a row to
`kiai.dataset_exports`: rows, columns, label counts, the file's sha256, and the fingerprints (data
versions) and code fingerprints (feature versions) of the dataset and of every model upstream of it.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from kiai.errors import KiaiError
from kiai.files import atomic_path
from kiai.quoting import literal
from kiai.transform import store
from kiai.warehouse import table_exists

MODEL = "dataset"
FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


@dataclass
class SplitColumn:
    """A `split` column for the export: each beatmap's part ("train"/"test" or "fold_K") and how it was made."""

    beatmap_ids: list[int]
    parts: list[str]
    folds: int
    seed: int


@dataclass
class ExportResult:
    export_id: str
    exported_at: str
    path: str
    manifest: str
    format: str
    rows: int
    columns: list[list[str]]
    labels: dict[str, int]
    sha256: str
    dataset_relation: str
    dataset_fingerprint: str
    dataset_code_fingerprint: str | None
    fingerprints: dict[str, str] = field(default_factory=dict)
    code_fingerprints: dict[str, str] = field(default_factory=dict)
    split: dict[str, int] | None = None


def manifest_path(out: Path) -> Path:
    return out.with_name(out.name + ".manifest.json")


def export_format(out: Path) -> str:
    fmt = FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise KiaiError(f"cannot tell the format of {out}: name it .csv or .parquet")
    return fmt


def export_dataset(con: duckdb.DuckDBPyConnection, out: Path, split: SplitColumn | None = None) -> ExportResult:
    """Write the current dataset version to `out` (format by suffix) and record where it came from; with
    `split`, a last column `split` holds each row's part."""
    fmt = export_format(out)
    stored = store.versions(con)
    current = store.current(con, stored)
    version = current.get(MODEL)
    if version is None or not table_exists(con, *version.relation.split(".", 1)):
        raise KiaiError("no dataset has been built yet: run `kiai build-features` first")
    ancestry = lineage(stored, MODEL, version.fingerprint)
    select = f"SELECT * FROM {version.relation}"
    if split is not None:
        import pyarrow as pa

        parts = pa.table({"beatmap_id": pa.array(split.beatmap_ids, pa.int64()), "split": split.parts})
        con.register("export_split_parts", parts)
        select = (
            f"SELECT d.*, s.split FROM {version.relation} AS d LEFT JOIN export_split_parts AS s USING (beatmap_id)"
        )
    cursor = con.execute(f"DESCRIBE {select}")
    columns = [[row[0], row[1]] for row in cursor.fetchall()]
    query = f"SELECT label, count(*) FROM {version.relation} GROUP BY label ORDER BY label"
    labels = dict(con.execute(query).fetchall())
    options = "FORMAT csv, HEADER true" if fmt == "csv" else "FORMAT parquet"
    # both files are written under temp names first, then renamed data first, manifest second; the
    # dataset_exports row comes last, so a recorded export always has its files
    with atomic_path(manifest_path(out)) as manifest_temp, atomic_path(out) as temp:
        con.execute(f"COPY ({select} ORDER BY beatmap_id) TO {literal(str(temp))} ({options})")
        result = ExportResult(
            export_id=uuid.uuid4().hex[:12],
            exported_at=datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds"),
            path=str(out),
            manifest=str(manifest_path(out)),
            format=fmt,
            rows=sum(labels.values()),
            columns=columns,
            labels=labels,
            sha256=sha256_of(temp),
            dataset_relation=version.relation,
            dataset_fingerprint=version.fingerprint,
            dataset_code_fingerprint=version.code_fingerprint,
            fingerprints={model: v.fingerprint for model, v in ancestry.items()},
            code_fingerprints={model: v.code_fingerprint for model, v in ancestry.items() if v.code_fingerprint},
            split=None if split is None else {"folds": split.folds, "seed": split.seed},
        )
        manifest_temp.write_text(json.dumps(asdict(result), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    _record(con, result)
    return result


def lineage(versions: list[store.Version], model: str, fingerprint: str) -> dict[str, store.Version]:
    """The version and every upstream version it was built from, by model name."""
    by_key = {(v.model, v.fingerprint): v for v in versions}
    found: dict[str, store.Version] = {}
    todo = [(model, fingerprint)]
    while todo:
        version = by_key.get(todo.pop())
        if version is None or version.model in found:
            continue
        found[version.model] = version
        todo.extend(version.upstream.items())
    return dict(sorted(found.items()))


def _record(con: duckdb.DuckDBPyConnection, result: ExportResult) -> None:
    store.ensure_tables(con)
    store.execute(
        con,
        "INSERT INTO {K}.dataset_exports (export_id, exported_at, path, format, rows, columns, labels, sha256, "
        "dataset_fingerprint, dataset_code_fingerprint, fingerprints, code_fingerprints, split) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            result.export_id,
            result.exported_at,
            result.path,
            result.format,
            result.rows,
            json.dumps(result.columns),
            json.dumps(result.labels, sort_keys=True),
            result.sha256,
            result.dataset_fingerprint,
            result.dataset_code_fingerprint,
            json.dumps(result.fingerprints, sort_keys=True),
            json.dumps(result.code_fingerprints, sort_keys=True),
            None if result.split is None else json.dumps(result.split, sort_keys=True),
        ],
    )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
