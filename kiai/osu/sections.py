"""Per-file work on a `.osu` file: header, sections, key/value metadata, timing points, breaks.

These parts are small (tens of lines each), so plain Python is fast enough here; the bulk of a
file, [HitObjects], is parsed for many files at once in `hit_objects.py`.

Times are stored as osu! plays them: files below format v5 get osu!'s +24 ms offset added to
every hit object, timing point and break time (`time_offset`).

Every pattern here runs in time linear in the file: no regex has two unbounded quantifiers that can
match the same bytes next to each other (that backtracks: 30 s for a 6 KB [Events] line before), and
sections and key/value lines are walked without keeping a list of every line, so memory stays
bounded by what is kept.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass

UTF8_BOM = b"\xef\xbb\xbf"
DEFAULT_VERSION = 14  # what osu! assumes for a file without a header
HEADER_RE = re.compile(rb"^[ \t\r\n]*osu file format v(\d+)")
MAX_VERSION = 2**31 - 1  # format_version is an INTEGER column
# `2,start,end` / `Break,start,end`: fields are runs of anything but a comma, stripped afterwards
BREAK_RE = re.compile(rb"^[ \t]*(?:2|Break)[ \t]*,([^,\r\n]*),([^,\r\n]*)\r?$", re.MULTILINE)
# a section header, matched where a line starts with `[`: the name under 39 bytes, nothing but blanks after it
SECTION_RE = re.compile(rb"\[([^\]\n]{0,38})\][ \t\r\x0b\x0c]*(?:\n|\Z)")
LINE_RE = re.compile(rb"[^\r\n]+")
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


def _headers(data: bytes) -> Iterator[re.Match[bytes]]:
    """The section headers in order: each `[` found with bytes.find (memchr), matched where it starts a line.

    A regex scan for headers at line starts (`^` in MULTILINE mode) tries every byte: 8x slower on real files.
    """
    position = data.find(b"[")
    while position != -1:
        if position == 0 or data[position - 1] == NEWLINE:
            header = SECTION_RE.match(data, position)
            if header is not None:
                yield header
        position = data.find(b"[", position + 1)


def find_sections(data: bytes) -> dict[bytes, bytes]:
    """Known sections by name → their body (first occurrence wins); a body ends at the next header."""
    sections: dict[bytes, bytes] = {}
    open_name, body_start = None, 0
    for header in _headers(data):
        if open_name is not None:
            sections[open_name] = data[body_start : header.start()]
        name = header.group(1)
        open_name = name if name in KNOWN_SECTIONS and name not in sections else None
        body_start = header.end()
    if open_name is not None:
        sections[open_name] = data[body_start:]
    return sections


def _text(value: bytes) -> str:
    return value.decode("utf-8", errors="replace").strip()


def _number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _key_values(body: bytes, wanted: set[str]) -> dict[str, str]:
    """The `Key: value` lines of a section whose key is `wanted` (the last one wins)."""
    result: dict[str, str] = {}
    for match in LINE_RE.finditer(body):
        key, sep, value = match.group().partition(b":")
        name = _text(key) if sep and len(key) < 64 else ""
        if name in wanted:
            result[name] = _text(value)
    return result


def parse_breaks(body: bytes, offset: int, limit: int) -> list[tuple[int, int]]:
    """Break periods (`2,start,end` or `Break,start,end`) from [Events]; storyboard lines are ignored."""
    breaks: list[tuple[int, int]] = []
    if b"2" not in body and b"Break" not in body:
        return breaks
    for match in BREAK_RE.finditer(body):
        start, end = _number(_text(match.group(1))), _number(_text(match.group(2)))
        if start is None or end is None or abs(start) >= TIME_LIMIT or abs(end) >= TIME_LIMIT:
            continue  # osu! would not play it, and it would not fit the INTEGER columns
        if len(breaks) == limit:
            raise OsuParseError(f"more than {limit:,} breaks (the limit of objects per file)")
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
OTHER_KEYS = {
    "General": {"Mode", "AudioLeadIn", "PreviewTime"},
    "Metadata": {"BeatmapID", "BeatmapSetID"},
    "Difficulty": {"ApproachRate"},
}
WANTED_KEYS = {
    section: {key for s, key in METADATA_KEYS.values() if s == section}
    | {key for s, key, _ in NUMBER_KEYS.values() if s == section}
    | keys
    for section, keys in OTHER_KEYS.items()
}


def _shown(text: str | None) -> str:
    """A value quoted in an error message, cut short: a file's text can be megabytes long."""
    return repr(text if text is None or len(text) <= 40 else text[:40] + "...")


def _lines_at_most(name: str, body: bytes, limit: int) -> None:
    """Refuse a section of more than `limit` lines before any of it is parsed (its arrays would fill memory)."""
    if len(body) > limit and body.count(b"\n") > limit:  # fewer bytes than the limit: fewer lines too
        raise OsuParseError(f"more than {limit:,} lines in [{name}] (the limit of objects per file)")


def split_file(data: bytes, max_objects: int) -> FileSections:
    """Split one file into its sections and parse all but [HitObjects].

    A file with more than `max_objects` hit objects, timing points or breaks is refused.
    """
    data = normalise_bytes(data)
    header = HEADER_RE.match(data)
    sections = find_sections(data)
    if header is None and not sections:
        raise OsuParseError("not an .osu file: no 'osu file format' header and no known section")
    digits = header.group(1) if header else b""
    if len(digits) > 10 or (digits and int(digits) > MAX_VERSION):
        raise OsuParseError(f"format version {_shown(digits.decode())} is out of range")
    version = int(digits) if digits else DEFAULT_VERSION
    offset = 24 if version < 5 else 0
    for name in (b"HitObjects", b"TimingPoints"):
        _lines_at_most(name.decode(), sections.get(name, b""), max_objects)

    values = {
        name: _key_values(sections[name.encode()], keys)
        for name, keys in WANTED_KEYS.items()
        if name.encode() in sections
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
        raise OsuParseError(f"unknown mode {_shown(general.get('Mode'))} (expected 0-3)")
    metadata["mode"] = int(mode)
    for column, key in (("audio_lead_in", "AudioLeadIn"), ("preview_time", "PreviewTime")):
        number = _number(general.get(key, ""))
        metadata[column] = int(number) if number is not None and abs(number) < 2**31 else None
    for column, key in (("beatmap_id", "BeatmapID"), ("beatmapset_id", "BeatmapSetID")):
        number = _number(values.get("Metadata", {}).get(key, ""))
        metadata[column] = int(number) if number is not None and 0 < number < 2**62 else None

    breaks = parse_breaks(sections.get(b"Events", b""), offset, max_objects)
    return FileSections(
        version,
        offset,
        metadata,
        breaks,
        sections.get(b"TimingPoints", b""),
        sections.get(b"HitObjects", b""),
    )
