"""Write `.osr` replays in the layout `kiai.osu.replay` reads: stable's, or lazer's with its JSON score info.

For tests, the sample world and the benchmarks. The layout follows `game_version` as osu! does: stable
(below 30000000) opens the frame text with its two frames at (256, -500) and ends every item with ',';
lazer writes neither, ends with the seed item `-12345|0|0|seed` and, from 30000001, appends the score info.
x and y are written as the shortest decimal that reads back as the same float32, so write -> parse gives
the same values. The LZMA streams are `.lzma` (alone) with osu!'s 2 MiB dictionary and an end marker.
"""

from __future__ import annotations

import json
import lzma
import struct
from datetime import UTC, datetime, timedelta

import numpy as np

from kiai.osu.replay import (
    FIRST_LAZER_VERSION,
    INT32_SCORE_ID_VERSION,
    INT64_SCORE_ID_VERSION,
    SCORE_INFO_VERSION,
    SEED_DELTA,
    WINDOWS_EPOCH,
    Replay,
)

STABLE_LEADING_FRAMES = b"0|256|-500|0,-1|256|-500|0,"  # what stable writes first: time 0, then -1
LZMA_FILTERS = [{"id": lzma.FILTER_LZMA1, "preset": 6, "dict_size": 1 << 21}]


def _string(text: str | None) -> bytes:
    if text is None:
        return b"\x00"
    data = text.encode("utf-8")
    length, uleb = len(data), bytearray()
    while True:
        byte, length = length & 0x7F, length >> 7
        uleb.append(byte | (0x80 if length else 0))
        if not length:
            return b"\x0b" + bytes(uleb) + data


def _block(data: bytes) -> bytes:
    return struct.pack("<i", len(data)) + data


def compress(text: bytes) -> bytes:
    """An `.lzma` stream as osu! reads it (the frame text, or lazer's score info)."""
    return lzma.compress(text, format=lzma.FORMAT_ALONE, filters=LZMA_FILTERS)


def _decimal(value: np.float32) -> str:
    return np.format_float_positional(value, unique=True, trim="-")


def frame_text(replay: Replay) -> bytes:
    """The uncompressed frame text of a replay: deltas of its absolute times, in its version's layout."""
    stable = replay.game_version < FIRST_LAZER_VERSION
    times = np.asarray(replay.time_ms, dtype=np.int64)
    deltas = np.diff(times, prepend=-1 if stable else 0)  # stable's leading frames leave the clock at -1
    xs, x_index = np.unique(np.asarray(replay.x, dtype=np.float32), return_inverse=True)
    ys, y_index = np.unique(np.asarray(replay.y, dtype=np.float32), return_inverse=True)
    x_text, y_text = [_decimal(v) for v in xs], [_decimal(v) for v in ys]
    columns = zip(deltas.tolist(), x_index.tolist(), y_index.tolist(), replay.keys.tolist(), strict=True)
    items = [f"{delta}|{x_text[i]}|{y_text[j]}|{key}" for delta, i, j, key in columns]
    if replay.rng_seed is not None:
        items.append(f"{SEED_DELTA}|0|0|{replay.rng_seed}")
    text = ",".join(items).encode("ascii")
    return STABLE_LEADING_FRAMES + text + (b"," if text else b"") if stable else text


def _ticks(played_at: datetime) -> int:
    if played_at.tzinfo is None:
        played_at = played_at.replace(tzinfo=UTC)
    return (played_at - WINDOWS_EPOCH) // timedelta(microseconds=1) * 10


def _life_bar(points: list[tuple[int, float]]) -> str:
    return "".join(f"{time}|{int(life) if life == int(life) else repr(float(life))}," for time, life in points)


def write_replay(replay: Replay, *, frame_stream: bytes | None = None) -> bytes:
    """The `.osr` bytes of a replay. `frame_stream` (an LZMA stream from `compress(frame_text(...))`) skips
    encoding the frames again: the benchmark writes many headers around the same frames."""
    version = replay.game_version
    lazer = version >= FIRST_LAZER_VERSION
    parts = [
        struct.pack("<Bi", replay.mode, version),
        _string(replay.beatmap_md5),
        _string(replay.player),
        _string(replay.replay_md5),
        struct.pack(
            "<6HIHBI",
            replay.n300,
            replay.n100,
            replay.n50,
            replay.ngeki,
            replay.nkatu,
            replay.nmiss,
            replay.score,
            replay.max_combo,
            replay.perfect,
            replay.mods,
        ),
        _string(_life_bar(replay.life_bar)),
        struct.pack("<q", _ticks(replay.played_at)),
        _block(frame_stream if frame_stream is not None else compress(frame_text(replay))),
    ]
    score_id = replay.online_score_id or (-1 if lazer else 0)
    if version >= INT64_SCORE_ID_VERSION:
        parts.append(struct.pack("<q", score_id))
    elif version >= INT32_SCORE_ID_VERSION:
        parts.append(struct.pack("<i", score_id))
    if version >= SCORE_INFO_VERSION:
        info = replay.score_info
        parts.append(_block(b"" if info is None else compress(json.dumps(info, indent=2).encode("utf-8"))))
    return b"".join(parts)
