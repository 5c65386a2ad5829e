"""The labelled dataset as arrays: column kinds, row checks, and the dataset hash."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np

from kiai.errors import KiaiError
from kiai.warehouse import table_exists

DATASET = "features.dataset"
FEATURES = "features.beatmap_features"
LABEL_CONFLICTS = "features.label_conflicts"
KEY_COLUMNS = ("beatmap_id", "beatmapset_id", "md5", "label")
MIN_ROWS_PER_CLASS = 5

_NUMERIC = re.compile(
    r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|DECIMAL.*)$"
)


class DatasetError(KiaiError):
    """The dataset is missing or cannot be trained on."""


@dataclass(frozen=True)
class Column:
    """A feature column of the dataset: `numeric` (incl. BOOLEAN as 0/1) or `categorical` (VARCHAR)."""

    name: str
    kind: str
    sql_type: str


@dataclass
class Frame:
    """Rows of a feature relation in beatmap_id order. Numeric values are float64 with NaN for NULL;
    categorical values are object arrays with None for NULL."""

    beatmap_ids: np.ndarray
    beatmapset_ids: np.ndarray
    md5s: list[str | None]
    labels: np.ndarray | None
    columns: list[Column]
    values: dict[str, np.ndarray]
    ignored: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.beatmap_ids)


def relation_exists(con: duckdb.DuckDBPyConnection, relation: str) -> bool:
    return table_exists(con, *relation.split(".", 1))


def describe(con: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[str, str]]:
    """(column, type) of a relation, in order."""
    return [(row[0], row[1]) for row in con.execute(f"DESCRIBE {relation}").fetchall()]


def feature_columns(types: list[tuple[str, str]]) -> tuple[list[Column], list[str]]:
    """The usable feature columns of a relation and the names of those that are not numeric, BOOLEAN or VARCHAR."""
    columns, ignored = [], []
    for name, sql_type in types:
        if name in KEY_COLUMNS:
            continue
        kind = _kind(sql_type)
        if kind is None:
            ignored.append(name)
        else:
            columns.append(Column(name, kind, sql_type))
    return columns, ignored


def _kind(sql_type: str) -> str | None:
    if _NUMERIC.match(sql_type) or sql_type == "BOOLEAN":
        return "numeric"
    if sql_type == "VARCHAR":
        return "categorical"
    return None


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def read_frame(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    columns: list[Column],
    *,
    with_labels: bool,
    where: str = "",
    params: list[Any] | None = None,
) -> Frame:
    """Read `columns` of `relation` (plus the key columns) as arrays, ordered by beatmap_id then md5."""
    present = {name for name, _ in describe(con, relation)}
    select = ["beatmap_id", "beatmapset_id", "md5"] + (["label"] if with_labels else [])
    for column in columns:
        source = _quote(column.name) if column.name in present else "NULL"
        sql_type = "DOUBLE" if column.kind == "numeric" else "VARCHAR"
        select.append(f"CAST({source} AS {sql_type}) AS {_quote(column.name)}")
    sql = f"SELECT {', '.join(select)} FROM {relation} {where} ORDER BY beatmap_id NULLS LAST, md5"
    table = con.sql(sql, params=params or None).to_arrow_table()
    values: dict[str, np.ndarray] = {}
    for column in columns:
        data = table.column(column.name)
        if column.kind == "numeric":
            values[column.name] = np.asarray(data.to_numpy(), dtype=np.float64)  # NULL -> NaN
        else:
            values[column.name] = np.array(data.to_pylist(), dtype=object)
    ids = table.column("beatmap_id").to_pylist()
    sets = table.column("beatmapset_id").to_pylist()
    return Frame(
        beatmap_ids=np.array([-1 if v is None else v for v in ids], dtype=np.int64),
        beatmapset_ids=np.array([-1 if v is None else v for v in sets], dtype=np.int64),
        md5s=table.column("md5").to_pylist(),
        labels=np.array(table.column("label").to_pylist(), dtype=object) if with_labels else None,
        columns=columns,
        values=values,
    )


def load_dataset(con: duckdb.DuckDBPyConnection, with_features: bool = True) -> Frame:
    """`features.dataset` with its labels (and without its feature values unless `with_features`: a split needs
    only ids and labels); a clear error when it is missing or empty."""
    if not relation_exists(con, DATASET):
        raise DatasetError("no dataset yet: features.dataset is missing; run `kiai build-features` first")
    types = describe(con, DATASET)
    names = [name for name, _ in types]
    missing = [name for name in ("beatmap_id", "beatmapset_id", "label") if name not in names]
    if missing:
        raise DatasetError(f"{DATASET} lacks column(s) {', '.join(missing)}")
    columns, ignored = feature_columns(types)
    if not columns:
        raise DatasetError(f"{DATASET} has no numeric, BOOLEAN or VARCHAR feature columns")
    frame = read_frame(con, DATASET, columns if with_features else [], with_labels=True)
    frame.ignored = ignored
    if len(frame) == 0:
        raise DatasetError(
            "the dataset is empty: no labelled osu!standard beatmap has features yet "
            "(fetch collections and beatmaps, ingest .osu files, then `kiai build-features`)"
        )
    if any(label is None for label in frame.labels):
        raise DatasetError(f"{DATASET} has rows without a label")
    return frame


def check_classes(frame: Frame, folds: int) -> None:
    """Refuse a dataset with a single class, or a class too small for the split."""
    assert frame.labels is not None
    classes, counts = np.unique(frame.labels.astype(str), return_counts=True)
    if len(classes) < 2:
        raise DatasetError(
            f"the dataset has a single class ({str(classes[0])!r}, {int(counts[0])} rows): training needs at least two "
            "categories in kiai.toml [collections]"
        )
    need_sets = max(3, folds)
    for label, count in zip(classes, counts, strict=True):
        sets = len(np.unique(frame.beatmapset_ids[frame.labels == label]))
        if count < MIN_ROWS_PER_CLASS or sets < need_sets:
            raise DatasetError(
                f"too few rows in class {str(label)!r}: {int(count)} rows in {sets} beatmapset(s); a class needs "
                f"at least {MIN_ROWS_PER_CLASS} rows in {need_sets} beatmapsets (train, validation and test"
                + (f", {folds} folds" if folds > 3 else "")
                + ")"
            )


def label_conflicts(con: duckdb.DuckDBPyConnection) -> dict[str, int] | None:
    """How many beatmaps were labelled with two or more categories, and how many of them the dataset left out
    (var label_conflict_policy `drop`) rather than kept under their first category; None without the model."""
    if not relation_exists(con, LABEL_CONFLICTS):
        return None
    maps, dropped = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE kept_label IS NULL) FROM {LABEL_CONFLICTS}"
    ).fetchall()[0]
    return {"maps": int(maps), "dropped": int(dropped), "kept_first": int(maps - dropped)}


def dataset_hash(frame: Frame) -> str:
    """sha256 over the exact rows (ids, label, every feature value) in beatmap_id order, column by column."""
    digest = hashlib.sha256()

    def add(tag: str, payload: bytes) -> None:
        digest.update(tag.encode() + b"\0" + len(payload).to_bytes(8, "little") + payload)

    add("beatmap_id", frame.beatmap_ids.astype("<i8").tobytes())
    add("beatmapset_id", frame.beatmapset_ids.astype("<i8").tobytes())
    add("md5", _strings(frame.md5s))
    if frame.labels is not None:
        add("label", _strings(list(frame.labels)))
    for column in frame.columns:
        data = frame.values[column.name]
        if column.kind == "numeric":
            canonical = np.where(np.isnan(data), np.nan, data + 0.0).astype("<f8")  # one NaN, no -0.0
            add(f"{column.name}:{column.kind}", canonical.tobytes())
        else:
            add(f"{column.name}:{column.kind}", _strings(list(data)))
    return digest.hexdigest()


def _strings(values: list[Any]) -> bytes:
    return b"\x1e".join(b"\x00" if v is None else b"\x01" + str(v).encode() for v in values)
