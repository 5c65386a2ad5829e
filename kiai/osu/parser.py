"""Parse many `.osu` files at once into columnar arrays (pure Python + NumPy).

`parse_batch(files)` is the entry point: per-file sections in Python, all [HitObjects] of the
batch in one vectorised pass. A file that cannot be parsed yields an error message instead of
rows; nothing a file contains makes the batch fail.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from kiai.osu.hit_objects import HitObjectColumns, parse_hit_objects
from kiai.osu.sections import FileSections, OsuParseError, split_file
from kiai.osu.timing import parse_timing_points

PARSER_VERSION = 4  # bump when parsing changes what lands in the parsed tables


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


def _break_columns(parsed: list[FileSections | None]) -> dict[str, np.ndarray]:
    rows = [
        (index, start, end)
        for index, sections in enumerate(parsed)
        if sections is not None
        for start, end in sections.breaks
    ]
    table = np.asarray(rows, dtype=np.int64).reshape(-1, 3)
    return {"file_index": table[:, 0], "start_ms": table[:, 1], "end_ms": table[:, 2]}


def parse_batch(files: list[bytes], max_objects: int | None = None) -> ParsedBatch:
    """Parse a batch of `.osu` files (their raw bytes); a file of more than `max_objects` hit objects,
    timing points or breaks is an error (the caller's limit: see kiai.config.Limits)."""
    parsed: list[FileSections | None] = []
    results: list[ParsedFile] = []
    for data in files:
        try:
            sections = split_file(data, max_objects or len(data) + 1)
        except OsuParseError as exc:
            parsed.append(None)
            results.append(ParsedFile(error=str(exc)))
            continue
        except (ValueError, OverflowError, MemoryError, RecursionError) as exc:
            parsed.append(None)
            results.append(ParsedFile(error=f"unreadable file ({type(exc).__name__}: {str(exc)[:200]})"))
            continue
        parsed.append(sections)
        metadata = dict(sections.metadata)
        metadata["format_version"] = sections.format_version
        metadata["n_breaks"] = len(sections.breaks)
        results.append(ParsedFile(metadata=metadata))

    offsets = np.asarray([s.time_offset if s else 0 for s in parsed], dtype=np.int64)
    timing = parse_timing_points([s.timing_points if s else b"" for s in parsed], offsets)
    multipliers = np.asarray([s.metadata["slider_multiplier"] if s else 1.4 for s in parsed], dtype=np.float64)
    hit_objects = parse_hit_objects([s.hit_objects if s else b"" for s in parsed], offsets, multipliers, timing)
    n_timing = np.bincount(timing.columns["file_index"], minlength=len(files))
    kind_counts = np.bincount(hit_objects.file_index * 4 + hit_objects.kind, minlength=4 * len(files)).reshape(-1, 4)
    for index, result in enumerate(results):
        if result.error is None:
            for kind, column in enumerate(("n_circles", "n_sliders", "n_spinners", "n_holds")):
                result.metadata[column] = int(kind_counts[index, kind])
            result.metadata["n_timing_points"] = int(n_timing[index])
            result.metadata["skipped_lines"] = int(hit_objects.skipped_lines[index] + timing.skipped_lines[index])
    return ParsedBatch(results, hit_objects, timing.columns, _break_columns(parsed))
