"""`kiai export replay-windows`: replays as fixed-rate windows for training, in Parquet (or npz) shards.

Each replay that features.replay_summary lists with its beatmap parsed is resampled every `rate_ms` ms of play
(map ms x 1.5 under DT/NC, x 0.75 under HT): the cursor interpolated linearly between frames, the keys held
(the last frame at or before the step), the keys pressed since the step before (0 -> 1), and the next
`objects` hit objects from the step on (start time at or after it) relative to the cursor and the step, in ms of
play, with HR flipping osu!standard objects. The steps are cut into windows of `window` steps, every `stride`
steps; a replay's last partial window is dropped. One row per window; list columns hold its steps
(`x[window]`, `object_dt[window * objects]`, step-major), so `np.stack(column).reshape(n, window, objects)`.

Shards hold `shard_size` replays in replay_id order, each written to a temp file and renamed; the manifest
(`manifest.json`: parameters, filters, model versions, counts, sha256 per shard) is rewritten after every shard.
A rerun with the same parameters keeps each finished shard whose replays, versions and bytes are unchanged, so an
interrupted export (kill -9 included) continues where it stopped and a corpus that grew only adds shards. Memory
is one shard's frames read as a stream of record batches (one replay in NumPy at a time), whatever the corpus.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from kiai.errors import KiaiError
from kiai.files import atomic_path, atomic_write
from kiai.transform import store
from kiai.transform.export import lineage, sha256_of
from kiai.warehouse import table_exists

MODEL = "replay_summary"
MANIFEST = "manifest.json"
FORMATS = ("parquet", "npz")
MODES = {"osu": 0, "taiko": 1, "fruits": 2, "mania": 3}
KINDS = {"circle": 1, "slider": 2, "spinner": 3, "hold": 4}  # object_kind; 0: no object
HARD_ROCK = 16
ROWS_PER_GROUP = 8192  # windows per Parquet row group


@dataclass(frozen=True)
class WindowSpec:
    """How replays become windows, and how the windows are written."""

    window: int = 32
    rate_ms: float = 16.0
    stride: int | None = None  # steps between window starts; None: `window` (no overlap)
    objects: int = 4
    shard_size: int = 200
    format: str = "parquet"

    def check(self) -> None:
        if self.window < 1 or self.objects < 0 or self.shard_size < 1 or (self.stride or 1) < 1:
            raise KiaiError("--window, --stride and --shard-size must be at least 1, --objects at least 0")
        if not 0 < self.rate_ms <= 1000:
            raise KiaiError("--rate-ms must be above 0 and at most 1000")
        if self.format not in FORMATS:
            raise KiaiError(f"--format must be one of {', '.join(FORMATS)}, not {self.format!r}")

    @property
    def step(self) -> int:
        return self.stride or self.window


@dataclass(frozen=True)
class Filters:
    """Which replays: a user id (through the dump's scores), score ids from a SELECT, a mode."""

    user_id: int | None = None
    sql: str | None = None
    mode: str | None = None


@dataclass
class Progress:
    replays_total: int
    replays_done: int = 0
    windows: int = 0
    bytes_written: int = 0
    shards_reused: int = 0
    seconds: float = 0.0


@dataclass
class WindowExport:
    out: str
    manifest: str
    complete: bool
    exported_at: str
    parameters: dict[str, Any]
    filters: dict[str, Any]
    models: dict[str, dict[str, str | None]]
    parser_versions: dict[str, int]
    columns: dict[str, list[Any]]
    counts: dict[str, Any]
    shards: list[dict[str, Any]] = field(default_factory=list)


def export_windows(
    con: duckdb.DuckDBPyConnection,
    out: Path,
    spec: WindowSpec = WindowSpec(),
    filters: Filters = Filters(),
    on_progress: Callable[[Progress], None] | None = None,
) -> WindowExport:
    """Write the selected replays' windows to shards in `out` with `out/manifest.json`; see the module doc."""
    spec.check()
    started = time.perf_counter()
    versions = _model_versions(con)
    selected, left_out = _select(con, filters)
    if out.exists() and not out.is_dir():
        raise KiaiError(f"--out {out} is a file; name a folder")
    out.mkdir(parents=True, exist_ok=True)
    old = _read_manifest(out)
    reusable = {s["path"]: s for s in old.get("shards", [])} if old.get("parameters") == _parameters(spec) else {}
    result = WindowExport(
        out=str(out),
        manifest=str(out / MANIFEST),
        complete=False,
        exported_at=datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds"),
        parameters=_parameters(spec),
        filters={k: v for k, v in asdict(filters).items() if v is not None},
        models=versions,
        parser_versions={"osu": store.parser_version(), "replay": store.parser_version(store.REPLAY_PARSER)},
        columns=_columns(spec),
        counts={
            "replays_selected": len(selected),
            "left_out": left_out,
            "replays": 0,
            "too_short": 0,
            "windows": 0,
            "shards_kept": 0,
        },
    )
    progress = Progress(replays_total=len(selected))
    code_versions = {model: v["code_fingerprint"] for model, v in versions.items()}
    for index, start in enumerate(range(0, len(selected), spec.shard_size)):
        shard = selected[start : start + spec.shard_size]
        path = f"shard-{index:05d}.{spec.format}"
        key = _digest([result.parameters, code_versions, result.parser_versions, shard])
        entry = _reuse(out, reusable.get(path), key)
        if entry is None:
            entry = _write_shard(con, out / path, shard, spec, progress, on_progress)
            entry["key"] = key
        else:
            progress.shards_reused += 1
            result.counts["shards_kept"] += 1
            progress.replays_done += len(shard)
            progress.windows += entry["windows"]
        result.shards.append(entry)
        for name in ("replays", "too_short", "windows"):
            result.counts[name] += entry[name]
        atomic_write(out / MANIFEST, _json(result))
        progress.seconds = time.perf_counter() - started
        if on_progress:
            on_progress(progress)
    result.complete = True
    atomic_write(out / MANIFEST, _json(result))
    kept = {s["path"] for s in result.shards}
    for stale in old.get("shards", []):  # shards of an earlier export to this folder that this one has not
        if stale["path"] not in kept:
            (out / stale["path"]).unlink(missing_ok=True)
    return result


def _model_versions(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, str | None]]:
    stored = store.versions(con) if store.has_tables(con) else []
    version = store.current(con, stored).get(MODEL)
    if version is None or not table_exists(con, *version.relation.split(".", 1)):
        raise KiaiError("features.replay_summary has not been built yet: run `kiai build-features` first")
    return {
        model: {"fingerprint": v.fingerprint, "code_fingerprint": v.code_fingerprint}
        for model, v in lineage(stored, MODEL, version.fingerprint).items()
    }


def _select(con: duckdb.DuckDBPyConnection, filters: Filters) -> tuple[list[list[Any]], dict[str, int]]:
    """The replays to export, in replay_id order: [replay_id, score_id, user_id, mode, rate, mods, file_id];
    and what the filters let through but has no parsed beatmap, by reason."""
    where = ["true"]
    params: dict[str, Any] = {}
    if filters.user_id is not None:
        where.append("s.user_id = $user_id")
        params["user_id"] = filters.user_id
    if filters.mode is not None:
        if filters.mode not in MODES:
            raise KiaiError(f"--mode must be one of {', '.join(MODES)}, not {filters.mode!r}")
        where.append("s.mode = $mode")
        params["mode"] = MODES[filters.mode]
    if filters.sql is not None:
        from kiai.load.replay_queue import score_ids_from_sql

        params["score_ids"], _ = score_ids_from_sql(con, filters.sql)
        where.append("s.score_id IN (SELECT unnest($score_ids))")
    rows = con.execute(
        "SELECT s.replay_id, s.score_id, s.user_id, s.mode, s.rate, r.mods, f.file_id, s.hits_status "
        "FROM features.replay_summary s JOIN parsed.replays r USING (replay_id) "
        "LEFT JOIN parsed.beatmap_files f ON f.md5 = r.beatmap_md5 "
        f"WHERE {' AND '.join(where)} ORDER BY s.replay_id",
        params,
    ).fetchall()
    left_out: dict[str, int] = {}
    for row in rows:
        if row[6] is None:
            left_out["beatmap not parsed"] = left_out.get("beatmap not parsed", 0) + 1
    return [list(row[:7]) for row in rows if row[6] is not None], left_out


def _parameters(spec: WindowSpec) -> dict[str, Any]:
    return {**asdict(spec), "stride": spec.step, "format_version": 1}


def _columns(spec: WindowSpec) -> dict[str, list[Any]]:
    """Each column's type and, for lists, its shape per row."""
    w, k = spec.window, spec.objects
    return {
        "replay_id": ["int32", []], "score_id": ["int64", []], "user_id": ["int64", []],
        "window_index": ["int32", []], "start_ms": ["float64", []],
        "x": ["float32", [w]], "y": ["float32", [w]], "keys": ["uint8", [w]], "presses": ["uint8", [w]],
        "object_dt": ["float32", [w, k]], "object_dx": ["float32", [w, k]], "object_dy": ["float32", [w, k]],
        "object_kind": ["int8", [w, k]],
    }  # fmt: skip


def _reuse(out: Path, entry: dict[str, Any] | None, key: str) -> dict[str, Any] | None:
    """The old manifest's entry for a shard when it holds the same replays under the same versions and its
    file is still the one it wrote."""
    if entry is None or entry.get("key") != key or not (out / entry["path"]).is_file():
        return None
    return entry if sha256_of(out / entry["path"]) == entry["sha256"] else None


def _write_shard(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    shard: list[list[Any]],
    spec: WindowSpec,
    progress: Progress,
    on_progress: Callable[[Progress], None] | None,
) -> dict[str, Any]:
    counts = {"replays": 0, "too_short": 0, "windows": 0}
    suffix = ".npz" if spec.format == "npz" else ""
    with atomic_path(path, suffix) as temp:
        writer = _NpzWriter(temp, spec) if spec.format == "npz" else _ParquetWriter(temp, spec)
        for row, frames in _shard_frames(con, shard):
            windows = replay_windows(frames, _objects(con, row), row, spec)
            n = len(windows["window_index"])
            counts["replays" if n else "too_short"] += 1
            counts["windows"] += n
            writer.add(windows)
            progress.replays_done += 1
            progress.windows += n
            if on_progress:
                on_progress(progress)
        writer.close()
        size = temp.stat().st_size
        entry = {"path": path.name, "sha256": sha256_of(temp), "bytes": size}
    progress.bytes_written += size
    first, last = shard[0][0], shard[-1][0]
    return {**entry, "first_replay_id": first, "last_replay_id": last, **counts}


def _shard_frames(con: duckdb.DuckDBPyConnection, shard: list[list[Any]]) -> Iterator[tuple[list[Any], pa.Table]]:
    """Each replay of the shard with its frames in file order, from one query read as a stream of batches."""
    rows = {row[0]: row for row in shard}
    reader = (
        con.cursor()  # its own cursor: the objects are read while this stream is open
        .sql(
            "SELECT replay_id, time_ms, x, y, keys FROM parsed.replay_frames "
            "WHERE replay_id IN (SELECT unnest($ids)) ORDER BY replay_id, frame_index",
            params={"ids": list(rows)},
        )
        .to_arrow_reader(1 << 16)
    )
    pending: list[pa.RecordBatch] = []
    seen = set()
    for batch in reader:
        ids = batch.column(0).to_numpy()
        cuts = np.flatnonzero(np.diff(ids)) + 1
        for lo, hi in zip([0, *cuts], [*cuts, len(ids)], strict=True):
            piece = batch.slice(lo, hi - lo)
            if pending and pending[0].column(0)[0].as_py() != int(ids[lo]):
                replay_id = pending[0].column(0)[0].as_py()
                seen.add(replay_id)
                yield rows[replay_id], pa.Table.from_batches(pending)
                pending = []
            pending.append(piece)
    if pending:
        replay_id = pending[0].column(0)[0].as_py()
        seen.add(replay_id)
        yield rows[replay_id], pa.Table.from_batches(pending)
    for replay_id in rows.keys() - seen:  # a replay without frames: no windows
        yield rows[replay_id], pa.table({"time_ms": pa.array([], pa.int64())})


def _objects(con: duckdb.DuckDBPyConnection, row: list[Any]) -> dict[str, np.ndarray]:
    _replay_id, _score_id, _user_id, mode, _rate, mods, file_id = row
    table = con.sql(
        "SELECT time_ms, x, y, kind::VARCHAR AS kind FROM parsed.hit_objects WHERE file_id = $file_id "
        "ORDER BY time_ms, object_index",
        params={"file_id": file_id},
    ).to_arrow_table()
    y = table.column("y").to_numpy().astype(np.float64)
    if mode == 0 and mods & HARD_ROCK:
        y = 384 - y
    return {
        "time_ms": table.column("time_ms").to_numpy().astype(np.float64),
        "x": table.column("x").to_numpy().astype(np.float64),
        "y": y,
        "kind": np.array([KINDS.get(k, 0) for k in table.column("kind").to_pylist()], dtype=np.int8),
    }


def replay_windows(
    frames: pa.Table, objects: dict[str, np.ndarray], row: list[Any], spec: WindowSpec
) -> dict[str, np.ndarray]:
    """One replay's windows as arrays with the window first: (n,) ids, (n, window) steps, (n, window, objects)."""
    replay_id, score_id, user_id, _mode, rate, _mods, _file_id = row
    w, k = spec.window, spec.objects
    t = frames.column("time_ms").to_numpy().astype(np.float64)
    n_steps = 0
    if len(t):
        order = np.argsort(t, kind="stable")  # frames that go back in time are put in order
        t = t[order]
        step = spec.rate_ms * float(rate)  # map ms per step
        n_steps = int((t[-1] - t[0]) // step) + 1
    n = max(0, (n_steps - w) // spec.step + 1)
    if n == 0:
        return _empty(w, k)
    fx = frames.column("x").to_numpy()[order].astype(np.float64)
    fy = frames.column("y").to_numpy()[order].astype(np.float64)
    keys = frames.column("keys").to_numpy()[order].astype(np.int64)
    steps = t[0] + np.arange(n_steps) * step
    x, y = np.interp(steps, t, fx), np.interp(steps, t, fy)
    held = keys[np.searchsorted(t, steps, side="right") - 1]
    went_down = keys & ~np.concatenate([[0], keys[:-1]])
    presses = np.zeros(n_steps, dtype=np.int64)
    at = np.searchsorted(steps, t, side="left")  # the first step at or after each frame
    inside = at < n_steps
    np.bitwise_or.at(presses, at[inside], went_down[inside])
    # the next k objects from each step on
    nxt = np.searchsorted(objects["time_ms"], steps, side="left")[:, None] + np.arange(k)[None, :]
    exists = nxt < len(objects["time_ms"])
    idx = np.minimum(nxt, max(len(objects["time_ms"]) - 1, 0))
    if len(objects["time_ms"]):
        dt = np.where(exists, (objects["time_ms"][idx] - steps[:, None]) / float(rate), np.nan)
        dx = np.where(exists, objects["x"][idx] - x[:, None], np.nan)
        dy = np.where(exists, objects["y"][idx] - y[:, None], np.nan)
        kind = np.where(exists, objects["kind"][idx], 0)
    else:
        dt = dx = dy = np.full((n_steps, k), np.nan)
        kind = np.zeros((n_steps, k), dtype=np.int8)
    starts = np.arange(n) * spec.step
    cut = starts[:, None] + np.arange(w)[None, :]  # (n, w) step indices
    return {
        "replay_id": np.full(n, replay_id, dtype=np.int32),
        "score_id": np.full(n, -1 if score_id is None else score_id, dtype=np.int64),
        "user_id": np.full(n, -1 if user_id is None else user_id, dtype=np.int64),
        "window_index": np.arange(n, dtype=np.int32),
        "start_ms": steps[starts],
        "x": x[cut].astype(np.float32),
        "y": y[cut].astype(np.float32),
        "keys": held[cut].astype(np.uint8),
        "presses": presses[cut].astype(np.uint8),
        "object_dt": dt[cut].astype(np.float32),
        "object_dx": dx[cut].astype(np.float32),
        "object_dy": dy[cut].astype(np.float32),
        "object_kind": kind[cut].astype(np.int8),
    }


def _empty(w: int, k: int) -> dict[str, np.ndarray]:
    shapes = {"x": (w,), "y": (w,), "keys": (w,), "presses": (w,)}
    types = _columns(WindowSpec(window=w, objects=k))
    return {
        name: np.zeros((0, *shapes.get(name, (w, k) if name.startswith("object_") else ())), dtype=kind)
        for name, (kind, _) in types.items()
    }


class _ParquetWriter:
    """Windows to one Parquet file in row groups of ROWS_PER_GROUP; list columns as fixed-size lists. score_id
    and user_id are NULL where unknown (-1 in the arrays)."""

    def __init__(self, path: Path, spec: WindowSpec) -> None:
        import pyarrow.parquet as pq

        self.schema = pa.schema(
            [
                (name, pa.list_(pa.from_numpy_dtype(np.dtype(kind)), int(np.prod(shape))) if shape else
                 pa.from_numpy_dtype(np.dtype(kind)))
                for name, (kind, shape) in _columns(spec).items()
            ]
        )  # fmt: skip
        self.writer = pq.ParquetWriter(path, self.schema, compression="zstd")
        self.pending: list[dict[str, np.ndarray]] = []
        self.rows = 0

    def add(self, windows: dict[str, np.ndarray]) -> None:
        if len(windows["window_index"]):
            self.pending.append(windows)
            self.rows += len(windows["window_index"])
        if self.rows >= ROWS_PER_GROUP:
            self._flush()

    def _flush(self) -> None:
        if not self.pending:
            return
        columns = {name: np.concatenate([p[name] for p in self.pending]) for name in self.pending[0]}
        arrays = []
        for column in self.schema:
            values = columns[column.name]
            if pa.types.is_fixed_size_list(column.type):
                flat = pa.array(values.reshape(-1), column.type.value_type)
                arrays.append(pa.FixedSizeListArray.from_arrays(flat, column.type.list_size))
            elif column.name in ("score_id", "user_id"):
                arrays.append(pa.array(values, column.type, mask=values < 0))
            else:
                arrays.append(pa.array(values, column.type))
        self.writer.write_table(pa.Table.from_arrays(arrays, schema=self.schema), row_group_size=ROWS_PER_GROUP)
        self.pending, self.rows = [], 0

    def close(self) -> None:
        self._flush()
        self.writer.close()


class _NpzWriter:
    """Windows to one `.npz` (NumPy's zip of arrays) with the shapes of the manifest's columns; the shard is held
    in memory until it is written, so this is for small sets. score_id and user_id are -1 where unknown."""

    def __init__(self, path: Path, spec: WindowSpec) -> None:
        self.path = path
        self.parts: list[dict[str, np.ndarray]] = [_empty(spec.window, spec.objects)]

    def add(self, windows: dict[str, np.ndarray]) -> None:
        self.parts.append(windows)

    def close(self) -> None:
        arrays = {name: np.concatenate([p[name] for p in self.parts]) for name in self.parts[0]}
        with self.path.open("wb") as handle:
            np.savez_compressed(handle, allow_pickle=False, **arrays)  # numbers only


def _read_manifest(out: Path) -> dict[str, Any]:
    try:
        return json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _json(result: WindowExport) -> str:
    return json.dumps(asdict(result), indent=2, sort_keys=True) + "\n"


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]
