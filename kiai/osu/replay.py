"""Parse osu! replays (`.osr` of stable and lazer, all four modes) into header fields and NumPy frame columns.

Pure: the standard library's lzma and NumPy; no warehouse, no HTTP. The layout is the one ppy/osu's
LegacyScoreDecoder reads and LegacyScoreEncoder writes (little endian):

    byte mode, int32 game version, string beatmap MD5, string player, string replay MD5,
    uint16 n300 n100 n50 ngeki nkatu nmiss, int32 score, uint16 max combo, byte perfect, int32 mods,
    string life bar ("time|life,..."), int64 timestamp (Windows ticks, UTC),
    int32 length + LZMA frame stream ("w|x|y|z,..."),
    online score id: int64 from version 20140721, int32 from 20121008, absent before,
    from version 30000001 (lazer): int32 length + LZMA-compressed JSON score info.

Strings are 0x00 (absent: None) or 0x0b, a ULEB128 byte length and UTF-8. Bytes after the last field are
ignored, as osu! ignores them (stable's Target Practice accuracy lives there; real files carry stray bytes).

Frames, as osu! reads them: `time_ms` is absolute, the running sum of the deltas w; items whose delta is
-12345 are not frames (the last one's z is `rng_seed`) and take no part in the sum. Stable writes two
leading frames at (256, -500) (time 0 and the skip boundary); like osu! (and osrparse) we drop them when
they are at that position, but their deltas do count: osu!'s own test reads mania-replay.osr's first frames
at 31, 48, 65 ms. We keep every other frame as written, also frames that go back in time (osu! skips those
at playback) and we do not add osu!'s +24 ms for beatmaps of format version < 5 (that needs the beatmap).
x and y are float32 as osu! parses them; keys is z. Mode by mode: osu! x, y in osu! pixels and keys
M1=1 M2=2 K1=4 K2=8 smoke=16; taiko keys only; catch x (y unused), keys 1 = dash; mania: x holds the
pressed columns as bits (column k = bit k), y and keys unused.

Anything malformed raises ReplayError with a one-line reason, never another exception: declared lengths are
checked against the bytes present, the LZMA streams must decode to their end (end marker or declared size),
and they may not decompress to more than `max_decompressed` bytes (64 MiB unless told; a stream of that
size, 8.4 M frames of the shortest text, parses in about 1 s with under 300 MiB).
"""

from __future__ import annotations

import json
import lzma
import re
import struct
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from kiai.osu.replay_frames import ReplayError, decode_fields

REPLAY_PARSER_VERSION = 1  # bump when parsing changes what the parsed replay tables would hold
MODES = ("osu", "taiko", "fruits", "mania")  # lazer's ruleset names, by mode number
FIRST_LAZER_VERSION = 30000000
SCORE_INFO_VERSION = 30000001  # lazer appends its JSON score info from here on
INT64_SCORE_ID_VERSION = 20140721
INT32_SCORE_ID_VERSION = 20121008
MAX_DECOMPRESSED = 64 * 2**20
LZMA_HEADER = 13  # properties (5 bytes) + uncompressed size (8 bytes; -1 when an end marker closes the stream)
LZMA_DICTIONARY_ROOM = 16 * 2**20  # memory the decoder may use beyond `max_decompressed` (for its dictionary)
SEED_DELTA = -12345
SKIP_X, SKIP_Y = 256.0, -500.0
WINDOWS_EPOCH = datetime(1, 1, 1, tzinfo=UTC)
FRAME_COLUMNS = ("time_ms", "x", "y", "keys")

BYTE = struct.Struct("<B")
INT32 = struct.Struct("<i")
INT64 = struct.Struct("<q")
COUNTS = struct.Struct("<6HIHBI")  # n300 n100 n50 ngeki nkatu nmiss, score, max combo, perfect, mods
LIFE_RE = re.compile(rb"\s*([+-]?\d{1,18})\s*\|\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*")

# the legacy mod bits, lowest first, with lazer's acronyms (KeyCoop is lazer's Dual Stages, ScoreV2 is SV2)
MOD_ACRONYMS = (
    "NF", "EZ", "TD", "HD", "HR", "SD", "DT", "RX", "HT", "NC", "FL", "AT", "SO", "AP", "PF", "4K",
    "5K", "6K", "7K", "8K", "FI", "RD", "CN", "TP", "9K", "DS", "1K", "3K", "2K", "SV2", "MR",
)  # fmt: skip
IMPLIED = {"NC": "DT", "PF": "SD", "CN": "AT"}  # stable sets both bits; osu! shows only the first


def mod_acronyms(mods: int) -> list[str]:
    """The acronyms of a legacy mod bit field, lowest bit first (`NC` without its `DT`, `PF` without `SD`,
    `CN` without `AT`, as osu! converts them); unknown bits are left out."""
    present = [name for bit, name in enumerate(MOD_ACRONYMS) if mods >> bit & 1]
    hidden = {IMPLIED[name] for name in present if name in IMPLIED}
    return [name for name in present if name not in hidden]


@dataclass(eq=False)
class Replay:
    """One replay: the header fields, then the frames as columns (one row per frame)."""

    mode: int  # 0 osu, 1 taiko, 2 catch, 3 mania (MODES)
    game_version: int  # yyyymmdd for stable; >= 30000000 for lazer
    beatmap_md5: str | None
    player: str | None
    replay_md5: str | None
    n300: int
    n100: int
    n50: int
    ngeki: int
    nkatu: int
    nmiss: int
    score: int
    max_combo: int
    perfect: bool
    mods: int  # legacy bit field; mod_acronyms() names them
    life_bar: list[tuple[int, float]]  # (time ms, life 0..1)
    played_at: datetime  # UTC
    online_score_id: int | None  # None when absent, 0 (unsubmitted) or -1 (lazer: none)
    rng_seed: int | None  # z of the `-12345|0|0|seed` item; None when there is none
    score_info: dict[str, Any] | None  # lazer's JSON score info (online_id, mods, statistics, ...)
    time_ms: np.ndarray = field(repr=False)  # int64, absolute
    x: np.ndarray = field(repr=False)  # float32
    y: np.ndarray = field(repr=False)  # float32
    keys: np.ndarray = field(repr=False)  # int32 bit field

    @property
    def n_frames(self) -> int:
        return len(self.time_ms)

    @property
    def mod_acronyms(self) -> list[str]:
        return mod_acronyms(self.mods)

    @property
    def is_lazer(self) -> bool:
        return self.game_version >= FIRST_LAZER_VERSION

    def header(self) -> dict[str, Any]:
        """Every field but the frame columns."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in FRAME_COLUMNS}


class _Reader:
    """Reads the `.osr` fields in order; every read checks it has the bytes."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def left(self) -> int:
        return len(self.data) - self.at

    def unpack(self, layout: struct.Struct, what: str) -> tuple:
        if self.left() < layout.size:
            raise ReplayError(f"truncated: the file ends in the {what} (byte {self.at:,} of {len(self.data):,})")
        values = layout.unpack_from(self.data, self.at)
        self.at += layout.size
        return values

    def take(self, length: int, what: str) -> bytes:
        if length > self.left():
            raise ReplayError(f"truncated: the {what} declares {length:,} bytes but {self.left():,} are left")
        chunk = self.data[self.at : self.at + length]
        self.at += length
        return chunk

    def string(self, what: str) -> str | None:
        (marker,) = self.unpack(BYTE, what)
        if marker == 0:
            return None
        if marker != 0x0B:
            raise ReplayError(f"bad {what}: string marker 0x{marker:02x} (expected 0x00 or 0x0b)")
        length = shift = 0
        while True:
            (byte,) = self.unpack(BYTE, what)
            length |= (byte & 0x7F) << shift
            if byte < 0x80:
                break
            shift += 7
            if shift > 28:
                raise ReplayError(f"bad {what}: its length is not a 32-bit ULEB128")
        try:
            return self.take(length, what).decode("utf-8")
        except UnicodeDecodeError:
            raise ReplayError(f"bad {what}: not UTF-8") from None

    def block(self, what: str) -> bytes:
        """An int32 length and that many bytes (empty when the length is 0 or negative, as osu! reads it)."""
        (length,) = self.unpack(INT32, f"{what} length")
        return self.take(length, what) if length > 0 else b""


def decompress(block: bytes, what: str, max_decompressed: int = MAX_DECOMPRESSED) -> bytes:
    """An `.lzma` (LZMA alone) stream, decoded to its end; ReplayError when it is truncated, corrupt or too big."""
    if len(block) < LZMA_HEADER:
        raise ReplayError(f"truncated {what}: {len(block)} bytes, shorter than an LZMA header")
    (declared,) = INT64.unpack_from(block, 5)
    if declared > max_decompressed:
        raise ReplayError(f"{what} declares {declared:,} bytes, over the {max_decompressed:,}-byte limit")
    decoder = lzma.LZMADecompressor(format=lzma.FORMAT_ALONE, memlimit=max_decompressed + LZMA_DICTIONARY_ROOM)
    try:
        text = decoder.decompress(block, max_length=max_decompressed + 1)
    except lzma.LZMAError as exc:
        raise ReplayError(f"corrupt {what} ({exc})") from None
    if len(text) > max_decompressed:
        raise ReplayError(f"{what} decompresses to more than {max_decompressed:,} bytes")
    if not decoder.eof:
        raise ReplayError(f"truncated {what}: the LZMA stream stops before its end")
    return text


def _life_bar(text: str | None) -> list[tuple[int, float]]:
    points = []
    for i, item in enumerate((text or "").encode("utf-8").split(b",")):
        if not item.strip():
            continue
        match = LIFE_RE.fullmatch(item)
        if match is None:
            raise ReplayError(f"bad life bar: point {i} is not time|life ({item[:40].decode('utf-8', 'replace')!r})")
        points.append((int(match[1]), float(match[2])))
    return points


def _played_at(ticks: int) -> datetime:
    if ticks < 0:
        raise ReplayError(f"bad timestamp: {ticks} ticks")
    try:
        return WINDOWS_EPOCH + timedelta(microseconds=ticks // 10)
    except OverflowError:
        raise ReplayError(f"bad timestamp: {ticks} ticks is after the year 9999") from None


def _frames(text: bytes) -> tuple[dict[str, np.ndarray], int | None]:
    """The frame columns and the RNG seed of a decompressed frame stream."""
    fields = decode_fields(text)
    seeds = np.flatnonzero(fields["w"] == SEED_DELTA)
    seed = int(fields["z"][seeds[-1]]) if len(seeds) else None
    if len(seeds):
        rows = slice(0, -1) if seeds[0] == len(fields["w"]) - 1 else np.delete(np.arange(len(fields["w"])), seeds)
        fields = {name: column[rows] for name, column in fields.items()}
    time_ms = np.cumsum(fields["w"])  # before dropping stable's leading frames: their deltas count
    x, y = fields["x"], fields["y"]
    drop = [i for i in (0, 1) if i < len(x) and x[i] == SKIP_X and y[i] == SKIP_Y]
    rows = slice(len(drop), None) if drop == list(range(len(drop))) else np.delete(np.arange(len(x)), drop)
    return {"time_ms": time_ms[rows], "x": x[rows], "y": y[rows], "keys": fields["z"][rows]}, seed


def _head(reader: _Reader) -> tuple[dict[str, Any], bytes]:
    """The header fields up to the timestamp, and the frame stream (still compressed)."""
    (mode,) = reader.unpack(BYTE, "mode")
    if mode >= len(MODES):
        raise ReplayError(f"unknown mode {mode} (expected 0-3): not an osu! replay")
    (version,) = reader.unpack(INT32, "game version")
    fields: dict[str, Any] = {"mode": mode, "game_version": version}
    for name, what in (("beatmap_md5", "beatmap MD5"), ("player", "player name"), ("replay_md5", "replay MD5")):
        fields[name] = reader.string(what)
    counts = ("n300", "n100", "n50", "ngeki", "nkatu", "nmiss", "score", "max_combo", "perfect", "mods")
    fields |= dict(zip(counts, reader.unpack(COUNTS, "score counts"), strict=True))
    fields["perfect"] = bool(fields["perfect"])
    fields["life_bar"] = _life_bar(reader.string("life bar"))
    (ticks,) = reader.unpack(INT64, "timestamp")
    fields["played_at"] = _played_at(ticks)
    stream = reader.block("frame stream")
    if not stream:
        raise ReplayError("no frame stream (its length is 0): a score without a replay")
    return fields, stream


def frame_stream(data: bytes) -> bytes:
    """The frame stream of an `.osr` as stored (LZMA, not decoded): to put real frames under other headers."""
    return _head(_Reader(data))[1]


def parse_replay(data: bytes, *, max_decompressed: int = MAX_DECOMPRESSED) -> Replay:
    """Parse one `.osr` file (its bytes); ReplayError says why when the bytes are not a usable replay."""
    reader = _Reader(data)
    fields, stream = _head(reader)
    version = fields["game_version"]
    score_id = None
    if version >= INT64_SCORE_ID_VERSION:
        (score_id,) = reader.unpack(INT64, "online score id")
    elif version >= INT32_SCORE_ID_VERSION:
        (score_id,) = reader.unpack(INT32, "online score id")
    score_info = None
    if version >= SCORE_INFO_VERSION:
        info = reader.block("lazer score info")
        if info:
            score_info = _score_info(decompress(info, "lazer score info", max_decompressed))
    columns, seed = _frames(decompress(stream, "frame stream", max_decompressed))
    online_score_id = score_id if score_id and score_id > 0 else None
    return Replay(
        **fields,
        online_score_id=online_score_id,
        rng_seed=seed,
        score_info=score_info,
        time_ms=columns["time_ms"],
        x=columns["x"],
        y=columns["y"],
        keys=columns["keys"],
    )


def _score_info(text: bytes) -> dict[str, Any]:
    try:
        info = json.loads(text.decode("utf-8"))
    except UnicodeDecodeError:
        raise ReplayError("bad lazer score info: not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise ReplayError(f"bad lazer score info: not JSON ({exc.msg} at byte {exc.pos})") from None
    except RecursionError:
        raise ReplayError("bad lazer score info: JSON nested too deeply") from None
    if not isinstance(info, dict):
        raise ReplayError(f"bad lazer score info: a JSON {type(info).__name__}, not an object")
    return info


@dataclass
class ReplayBatch:
    """The replays of a batch in order: `replays[i]` or, when file i is not a usable replay, `errors[i]`."""

    replays: list[Replay | None]
    errors: list[str | None]

    def frame_columns(self) -> dict[str, np.ndarray]:
        """The frames of every parsed replay as one set of columns, with `replay_index` (position in the batch)
        and `frame_index` (position in its replay): ready for Arrow."""
        parsed = [(i, r) for i, r in enumerate(self.replays) if r is not None]
        counts = np.array([r.n_frames for _, r in parsed], dtype=np.int64)
        columns = {
            "replay_index": np.repeat(np.array([i for i, _ in parsed], dtype=np.int32), counts),
            "frame_index": (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)).astype(np.int32),
        }
        for name, dtype in (("time_ms", np.int64), ("x", np.float32), ("y", np.float32), ("keys", np.int32)):
            columns[name] = np.concatenate([getattr(r, name) for _, r in parsed] or [np.zeros(0, dtype)])
        return columns


def parse_many(files: list[bytes], *, max_decompressed: int = MAX_DECOMPRESSED) -> ReplayBatch:
    """Parse a batch of `.osr` files (their bytes), as a worker process does: a file that is not a usable
    replay yields its one-line error instead; nothing a file contains makes the batch fail."""
    replays: list[Replay | None] = []
    errors: list[str | None] = []
    for data in files:
        try:
            replays.append(parse_replay(data, max_decompressed=max_decompressed))
            errors.append(None)
        except ReplayError as exc:
            replays.append(None)
            errors.append(str(exc))
        except (ValueError, OverflowError, MemoryError, RecursionError) as exc:  # a bug of ours, not the file's
            replays.append(None)
            errors.append(f"unreadable replay ({type(exc).__name__}: {exc})")
    return ReplayBatch(replays, errors)
