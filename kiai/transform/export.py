"""`kiai export dataset`: write features.dataset to CSV or Parquet, atomically, with the versions it came from.

Each export writes `<out>` and a sidecar `<out>.manifest.json` (both temp file + rename) and adds a row to
`kiai.dataset_exports`: rows, columns, label counts, the file's sha256, and the fingerprints (data
versions) and code fingerprints (feature versions) of the dataset and of every model upstream of it.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from kiai.errors import KiaiError
from kiai.transform import store

MODEL = "dataset"
FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
DDL = """
CREATE TABLE IF NOT EXISTS {K}.dataset_exports (
    export_id VARCHAR NOT NULL, exported_at TIMESTAMP NOT NULL, path VARCHAR NOT NULL, format VARCHAR NOT NULL,
    rows BIGINT NOT NULL, columns VARCHAR NOT NULL, labels VARCHAR NOT NULL,  -- JSON
    sha256 VARCHAR NOT NULL,
    dataset_fingerprint VARCHAR NOT NULL,       -- the dataset version exported (data included)
    dataset_code_fingerprint VARCHAR,           -- its feature version (SQL and vars only)
    fingerprints VARCHAR NOT NULL, code_fingerprints VARCHAR NOT NULL  -- JSON: model -> version, upstream too
);
"""


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


def manifest_path(out: Path) -> Path:
    return out.with_name(out.name + ".manifest.json")


def export_format(out: Path) -> str:
    fmt = FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise KiaiError(f"cannot tell the format of {out}: name it .csv or .parquet")
    return fmt


def export_dataset(con: duckdb.DuckDBPyConnection, out: Path) -> ExportResult:
    """Write the current dataset version to `out` (format by suffix) and record where it came from."""
    fmt = export_format(out)
    current = store.current(con)
    version = current.get(MODEL)
    if version is None or not _exists(con, version.relation):
        raise KiaiError("no dataset has been built yet: run `kiai build-features` first")
    lineage = _lineage(store.versions(con), MODEL, version.fingerprint)
    cursor = con.execute(f"DESCRIBE SELECT * FROM {version.relation}")
    columns = [[row[0], row[1]] for row in cursor.fetchall()]
    query = f"SELECT label, count(*) FROM {version.relation} GROUP BY label ORDER BY label"
    labels = dict(con.execute(query).fetchall())
    out.parent.mkdir(parents=True, exist_ok=True)
    temp = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.tmp")
    options = "FORMAT csv, HEADER true" if fmt == "csv" else "FORMAT parquet"
    try:
        con.execute(f"COPY (SELECT * FROM {version.relation} ORDER BY beatmap_id) TO '{_quote(temp)}' ({options})")
        sha256 = _sha256(temp)
        result = ExportResult(
            export_id=uuid.uuid4().hex[:12],
            exported_at=datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds"),
            path=str(out),
            manifest=str(manifest_path(out)),
            format=fmt,
            rows=sum(labels.values()),
            columns=columns,
            labels=labels,
            sha256=sha256,
            dataset_relation=version.relation,
            dataset_fingerprint=version.fingerprint,
            dataset_code_fingerprint=version.code_fingerprint,
            fingerprints={model: v.fingerprint for model, v in lineage.items()},
            code_fingerprints={model: v.code_fingerprint for model, v in lineage.items() if v.code_fingerprint},
        )
        os.replace(temp, out)
        _write_text(manifest_path(out), json.dumps(asdict(result), indent=2, sort_keys=True) + "\n")
    finally:
        temp.unlink(missing_ok=True)
    _record(con, result)
    return result


def _exists(con: duckdb.DuckDBPyConnection, relation: str) -> bool:
    schema, name = relation.split(".", 1)
    (count,) = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = ? AND table_name = ?",
        [schema, name],
    ).fetchone()
    return count > 0


def _lineage(versions: list[store.Version], model: str, fingerprint: str) -> dict[str, store.Version]:
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
    store.execute(con, DDL)
    store.execute(
        con,
        "INSERT INTO {K}.dataset_exports VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        ],
    )


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_text(path: Path, text: str) -> None:
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def exports(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Rows of kiai.dataset_exports, newest first (empty before the first export)."""
    (count,) = store.execute(
        con,
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'kiai' AND table_name = 'dataset_exports'",
    ).fetchone()
    if not count:
        return []
    cursor = store.execute(con, "SELECT * FROM {K}.dataset_exports ORDER BY exported_at DESC")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
