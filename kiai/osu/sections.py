"""Per-file work on a `.osu` file: header, sections, key/value metadata, timing points, breaks.

These parts are small (tens of lines each), so plain Python is fast enough here; the bulk of a
file, [HitObjects], is parsed for many files at once in `hit_objects.py`.

Times are stored as osu! plays them: files below format v5 get osu!'s +24 ms offset added to
every hit object, timing point and break time (`time_offset`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

UTF8_BOM = b"\xef\xbb\xbf"
DEFAULT_VERSION = 14  # what osu! assumes for a file without a header
HEADER_RE = re.compile(rb"^[ \t\r\n]*osu file format v(\d+)")
# osu! only treats a line as a section header when it starts with '[' (trailing spaces allowed)
SECTION_RE = re.compile(rb"^\[([A-Za-z]+)\][ \t]*\r?$", re.MULTILINE)
BREAK_RE = re.compile(
    rb"^[ \t]*(?:2|Break)[ \t]*,[ \t]*([^,\r\n]+?)[ \t]*,[ \t]*([^,\r\n]+?)[ \t]*\r?$", re.MULTILINE
)
KNOWN_SECTIONS = {
    b"General",
    b"Editor",
    b"Metadata",
    b"Difficulty",
    b"Events",
    b"TimingPoints",
    b"Colours",
    b"HitObjects",
}
MODES = {0, 1, 2, 3}


class OsuParseError(ValueError):
    """The bytes are not a usable `.osu` file."""


@dataclass
class TimingPoints:
    """The [TimingPoints] lines that parsed, in file order, as plain lists."""

    time_ms: list[float] = field(default_factory=list)
    beat_length: list[float] = field(default_factory=list)
    meter: list[int] = field(default_factory=list)
    sample_set: list[int] = field(default_factory=list)
    sample_index: list[int] = field(default_factory=list)
    volume: list[int] = field(default_factory=list)
    uninherited: list[bool] = field(default_factory=list)
    effects: list[int] = field(default_factory=list)


@dataclass
class FileSections:
    """Everything but the hit objects, for one file."""

    format_version: int
    time_offset: int
    metadata: dict[str, object]
    timing: TimingPoints
    breaks: list[tuple[int, int]]
    hit_objects: bytes  # the raw [HitObjects] section, ending with a newline
    skipped_lines: int = 0


def normalise_bytes(data: bytes) -> bytes:
    """Drop a UTF-8 BOM; re-encode UTF-16 files (with a BOM) as UTF-8."""
    if data.startswith(UTF8_BOM):
        return data[3:]
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError as exc:
            raise OsuParseError(f"broken UTF-16 text ({exc.reason})") from None
    return data


def _text(value: bytes) -> str:
    return value.decode("utf-8", errors="replace").strip()


def _number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _key_values(body: bytes) -> dict[str, str]:
    result: dict[str, str] = {}
    for raw_line in body.splitlines():
        line = raw_line.strip()
        if not line or line.startswith(b"//"):
            continue
        key, sep, value = line.partition(b":")
        if sep:
            result[_text(key)] = _text(value)
    return result


def _int_field(parts: list[bytes], index: int, default: int) -> int:
    if len(parts) <= index:
        return default
    return int(float(parts[index]))


def parse_timing_points(body: bytes, offset: int) -> tuple[TimingPoints, int]:
    """Parse [TimingPoints]: fewer than 7 fields means uninherited, fewer than 8 means no effects."""
    points = TimingPoints()
    skipped = 0
    for raw_line in body.splitlines():
        line = raw_line.strip()
        if not line or line.startswith(b"//"):
            continue
        parts = line.split(b",")
        try:
            if len(parts) < 2:
                raise ValueError("a timing point needs a time and a beat length")
            time = float(parts[0]) + offset
            beat_length = float(parts[1])  # NaN is allowed: some maps use it to disable slider ticks
            if not math.isfinite(time) or math.isinf(beat_length):
                raise ValueError("time and beat length must be finite")
            meter_text = parts[2].strip() if len(parts) > 2 else b""
            meter = 4 if not meter_text or meter_text.startswith(b"0") else int(float(meter_text))
            uninherited = parts[6].strip().startswith(b"1") if len(parts) > 6 else True
            row = (
                meter,
                _int_field(parts, 3, 0),
                _int_field(parts, 4, 0),
                _int_field(parts, 5, 100),
                _int_field(parts, 7, 0),
            )
        except (ValueError, OverflowError):
            skipped += 1
            continue
        points.time_ms.append(time)
        points.beat_length.append(beat_length)
        points.meter.append(row[0])
        points.sample_set.append(row[1])
        points.sample_index.append(row[2])
        points.volume.append(row[3])
        points.uninherited.append(uninherited)
        points.effects.append(row[4])
    return points, skipped


def parse_breaks(body: bytes, offset: int) -> list[tuple[int, int]]:
    breaks = []
    for start_text, end_text in BREAK_RE.findall(body):
        start, end = _number(_text(start_text)), _number(_text(end_text))
        if start is None or end is None:
            continue
        start_ms = int(start) + offset
        breaks.append((start_ms, max(start_ms, int(end) + offset)))
    return breaks


METADATA_KEYS = {
    "title": ("Metadata", "Title"),
    "title_unicode": ("Metadata", "TitleUnicode"),
    "artist": ("Metadata", "Artist"),
    "artist_unicode": ("Metadata", "ArtistUnicode"),
    "creator": ("Metadata", "Creator"),
    "version": ("Metadata", "Version"),
    "source": ("Metadata", "Source"),
    "tags": ("Metadata", "Tags"),
}
NUMBER_KEYS = {
    "hp": ("Difficulty", "HPDrainRate", 5.0),
    "cs": ("Difficulty", "CircleSize", 5.0),
    "od": ("Difficulty", "OverallDifficulty", 5.0),
    "slider_multiplier": ("Difficulty", "SliderMultiplier", 1.4),
    "slider_tick_rate": ("Difficulty", "SliderTickRate", 1.0),
    "stack_leniency": ("General", "StackLeniency", 0.7),
}


def split_file(data: bytes) -> FileSections:
    """Split one file into its sections and parse all but [HitObjects]."""
    data = normalise_bytes(data)
    header = HEADER_RE.match(data)
    sections: dict[bytes, bytes] = {}
    matches = list(SECTION_RE.finditer(data))
    for index, match in enumerate(matches):
        name = match.group(1)
        end = matches[index + 1].start() if index + 1 < len(matches) else len(data)
        if name in KNOWN_SECTIONS and name not in sections:
            sections[name] = data[match.end() : end]
    if header is None and not sections:
        raise OsuParseError("not an .osu file: no 'osu file format' header and no known section")
    version = int(header.group(1)) if header else DEFAULT_VERSION
    offset = 24 if version < 5 else 0

    values = {
        name.decode(): _key_values(sections[name])
        for name in (b"General", b"Metadata", b"Difficulty")
        if name in sections
    }
    metadata: dict[str, object] = {}
    for column, (section, key) in METADATA_KEYS.items():
        metadata[column] = values.get(section, {}).get(key)
    for column, (section, key, default) in NUMBER_KEYS.items():
        number = _number(values.get(section, {}).get(key, ""))
        metadata[column] = default if number is None else number
    approach = _number(values.get("Difficulty", {}).get("ApproachRate", ""))
    metadata["ar"] = metadata["od"] if approach is None else approach  # old files: AR follows OD
    general = values.get("General", {})
    mode = _number(general.get("Mode", "0"))
    if mode is None or int(mode) not in MODES:
        raise OsuParseError(f"unknown mode {general.get('Mode')!r} (expected 0-3)")
    metadata["mode"] = int(mode)
    for column, key in (("audio_lead_in", "AudioLeadIn"), ("preview_time", "PreviewTime")):
        number = _number(general.get(key, ""))
        metadata[column] = int(number) if number is not None and abs(number) < 2**31 else None
    for column, key in (("beatmap_id", "BeatmapID"), ("beatmapset_id", "BeatmapSetID")):
        number = _number(values.get("Metadata", {}).get(key, ""))
        metadata[column] = int(number) if number is not None and 0 < number < 2**62 else None

    timing, skipped = parse_timing_points(sections.get(b"TimingPoints", b""), offset)
    breaks = parse_breaks(sections.get(b"Events", b""), offset)
    hit_objects = sections.get(b"HitObjects", b"")
    if hit_objects and not hit_objects.endswith(b"\n"):
        hit_objects += b"\n"
    return FileSections(version, offset, metadata, timing, breaks, hit_objects, skipped)
