"""Parse many `.osu` files at once into columnar arrays (pure Python + NumPy).

`parse_batch(files)` is the entry point: per-file sections in Python, all [HitObjects] of the
batch in one vectorised pass. A file that cannot be parsed yields an error message instead of
rows; nothing a file contains makes the batch fail.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from kiai.osu.hit_objects import ControlPoints, HitObjectColumns, parse_hit_objects
from kiai.osu.sections import FileSections, OsuParseError, split_file

PARSER_VERSION = 1  # bump when parsing changes what lands in the parsed tables


@dataclass
class ParsedFile:
    """One file's metadata (the `parsed.beatmap_files` columns) or its parse error."""

    metadata: dict[str, object] = field(default_factory=dict)
    error: str | None = None


@dataclass
class ParsedBatch:
    files: list[ParsedFile]
    hit_objects: HitObjectColumns
    timing_points: dict[str, np.ndarray]  # columns, with file_index
    breaks: dict[str, np.ndarray]  # file_index, start_ms, end_ms


def _control_points(parsed: list[FileSections | None]) -> tuple[ControlPoints, ControlPoints]:
    """Slider-velocity and beat-length lookup tables, in osu!'s order.

    At one timestamp an inherited point's velocity beats an uninherited one's (which resets it
    to 1), whatever their order in the file; among equals, the later line wins.
    """
    sv_file: list[int] = []
    sv_time: list[float] = []
    sv_value: list[float] = []
    tp_file: list[int] = []
    tp_time: list[float] = []
    tp_value: list[float] = []
    for index, sections in enumerate(parsed):
        if sections is None:
            continue
        timing = sections.timing
        order = sorted(
            range(len(timing.time_ms)), key=lambda i: (timing.time_ms[i], not timing.uninherited[i])
        )
        for i in order:
            beat_length = timing.beat_length[i]
            if timing.uninherited[i]:
                sv_file.append(index)
                sv_time.append(timing.time_ms[i])
                sv_value.append(1.0)
                if beat_length > 0 and math.isfinite(beat_length):
                    tp_file.append(index)
                    tp_time.append(timing.time_ms[i])
                    tp_value.append(beat_length)
            else:
                sv_file.append(index)
                sv_time.append(timing.time_ms[i])
                sv_value.append(100.0 / -beat_length if beat_length < 0 else 1.0)

    def table(files: list[int], times: list[float], values: list[float]) -> ControlPoints:
        return ControlPoints(
            np.asarray(files, dtype=np.int64),
            np.asarray(times, dtype=np.float64),
            np.asarray(values, dtype=np.float64),
        )

    return table(sv_file, sv_time, sv_value), table(tp_file, tp_time, tp_value)


def _timing_columns(parsed: list[FileSections | None]) -> dict[str, np.ndarray]:
    columns: dict[str, list] = {
        name: []
        for name in (
            "file_index",
            "point_index",
            "time_ms",
            "beat_length",
            "meter",
            "sample_set",
            "sample_index",
            "volume",
            "uninherited",
            "effects",
        )
    }
    for index, sections in enumerate(parsed):
        if sections is None:
            continue
        timing = sections.timing
        n = len(timing.time_ms)
        columns["file_index"].extend([index] * n)
        columns["point_index"].extend(range(n))
        for name in (
            "time_ms",
            "beat_length",
            "meter",
            "sample_set",
            "sample_index",
            "volume",
            "uninherited",
            "effects",
        ):
            columns[name].extend(getattr(timing, name))
    dtypes = {
        "time_ms": np.float64,
        "beat_length": np.float64,
        "uninherited": np.bool_,
        "file_index": np.int64,
    }
    result = {name: np.asarray(values, dtype=dtypes.get(name, np.int64)) for name, values in columns.items()}
    for name in ("meter", "sample_set", "sample_index", "volume", "effects"):
        result[name] = result[name].clip(-(2**31), 2**31 - 1).astype(np.int32)
    return result


def _break_columns(parsed: list[FileSections | None]) -> dict[str, np.ndarray]:
    rows = [
        (index, start, end)
        for index, sections in enumerate(parsed)
        if sections is not None
        for start, end in sections.breaks
    ]
    table = np.asarray(rows, dtype=np.int64).reshape(-1, 3)
    return {"file_index": table[:, 0], "start_ms": table[:, 1], "end_ms": table[:, 2]}


def parse_batch(files: list[bytes]) -> ParsedBatch:
    """Parse a batch of `.osu` files (their raw bytes)."""
    parsed: list[FileSections | None] = []
    results: list[ParsedFile] = []
    for data in files:
        try:
            sections = split_file(data)
        except OsuParseError as exc:
            parsed.append(None)
            results.append(ParsedFile(error=str(exc)))
            continue
        except (ValueError, OverflowError, MemoryError, RecursionError) as exc:
            parsed.append(None)
            results.append(ParsedFile(error=f"unreadable file ({type(exc).__name__}: {exc})"))
            continue
        parsed.append(sections)
        metadata = dict(sections.metadata)
        metadata["format_version"] = sections.format_version
        metadata["n_timing_points"] = len(sections.timing.time_ms)
        metadata["n_breaks"] = len(sections.breaks)
        results.append(ParsedFile(metadata=metadata))

    velocity, timing = _control_points(parsed)
    multipliers = np.asarray([float(s.metadata["slider_multiplier"]) if s else 1.4 for s in parsed])
    hit_objects = parse_hit_objects(
        [s.hit_objects if s else b"" for s in parsed],
        [s.time_offset if s else 0 for s in parsed],
        multipliers,
        velocity,
        timing,
    )
    kind_counts = np.zeros((len(files), 4), dtype=np.int64)
    np.add.at(kind_counts, (hit_objects.file_index, hit_objects.kind), 1)
    for index, result in enumerate(results):
        if result.error is None:
            sections = parsed[index]
            assert sections is not None
            for kind, column in enumerate(("n_circles", "n_sliders", "n_spinners", "n_holds")):
                result.metadata[column] = int(kind_counts[index, kind])
            result.metadata["skipped_lines"] = int(hit_objects.skipped_lines[index]) + sections.skipped_lines
    return ParsedBatch(results, hit_objects, _timing_columns(parsed), _break_columns(parsed))
