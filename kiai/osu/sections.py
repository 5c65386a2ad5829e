"""Per-file work on a `.osu` file: header, sections, key/value metadata, timing points, breaks.

These parts are small (tens of lines each), so plain Python is fast enough here; the bulk of a
file, [HitObjects], is parsed for many files at once in `hit_objects.py`.

Times are stored as osu! plays them: files below format v5 get osu!'s +24 ms offset added to
every hit object, timing point and break time (`time_offset`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

UTF8_BOM = b"\xef\xbb\xbf"
DEFAULT_VERSION = 14  # what osu! assumes for a file without a header
HEADER_RE = re.compile(rb"^[ \t\r\n]*osu file format v(\d+)")
BREAK_RE = re.compile(rb"^[ \t]*(?:2|Break)[ \t]*,[ \t]*([^,\r\n]+?)[ \t]*,[ \t]*([^,\r\n]+?)[ \t]*\r?$", re.MULTILINE)
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
NEWLINE = 10
TIME_LIMIT = 2**31 - 10_000  # times (of objects and breaks) must fit the INTEGER columns


class OsuParseError(ValueError):
    """The bytes are not a usable `.osu` file."""


@dataclass
class FileSections:
    """Everything but the hit objects, for one file."""

    format_version: int
    time_offset: int
    metadata: dict[str, object]
    breaks: list[tuple[int, int]]
    timing_points: bytes  # the raw [TimingPoints] section
    hit_objects: bytes  # the raw [HitObjects] section


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


def _next_header(data: bytes, position: int) -> int:
    """The next `[` at or after `position` that starts a line, or -1 (one memchr-fast find per candidate)."""
    while True:
        position = data.find(b"[", position)
        if position <= 0 or data[position - 1] == NEWLINE:
            return position
        position += 1


def find_sections(data: bytes) -> dict[bytes, bytes]:
    """Known sections by name → their body (first occurrence wins). Uses bytes.find, not a regex scan."""
    headers: list[tuple[int, int, bytes]] = []  # (header start, body start, name)
    start = _next_header(data, 0)
    while start != -1:
        close = data.find(b"]", start, start + 40)
        line_end = data.find(b"\n", start)
        line_end = len(data) if line_end == -1 else line_end
        if close != -1 and close < line_end and not data[close + 1 : line_end].strip():
            headers.append((start, line_end + 1, data[start + 1 : close]))
        start = _next_header(data, start + 1)
    sections: dict[bytes, bytes] = {}
    for index, (_, body_start, name) in enumerate(headers):
        body_end = headers[index + 1][0] if index + 1 < len(headers) else len(data)
        if name in KNOWN_SECTIONS and name not in sections:
            sections[name] = data[body_start:body_end]
    return sections


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


def parse_breaks(body: bytes, offset: int) -> list[tuple[int, int]]:
    """Break periods (`2,start,end` or `Break,start,end`) from [Events]; storyboard lines are ignored."""
    breaks: list[tuple[int, int]] = []
    if b"2" not in body and b"Break" not in body:
        return breaks
    for start_text, end_text in BREAK_RE.findall(body):
        start, end = _number(_text(start_text)), _number(_text(end_text))
        if start is None or end is None or abs(start) >= TIME_LIMIT or abs(end) >= TIME_LIMIT:
            continue  # osu! would not play it, and it would not fit the INTEGER columns
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
    sections = find_sections(data)
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

    breaks = parse_breaks(sections.get(b"Events", b""), offset)
    return FileSections(
        version,
        offset,
        metadata,
        breaks,
        sections.get(b"TimingPoints", b""),
        sections.get(b"HitObjects", b""),
    )
