"""Replays for the tests: distinct copies of the fixture replays, and a small published-dump folder in o!rdr's
layout (index.csv + osr/ + beatmaps/) built from the fixtures."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
from datetime import timedelta
from pathlib import Path

from kiai.osu.replay import frame_stream, parse_replay
from kiai.osu.replay_writer import write_replay
from tests.support.paths import FIXTURES

OSR = FIXTURES / "osr"
DUMP_MAPS = ("Soleily-Renatus-Gamu-Insane.osu", "osu-100374.osu", "break-between-objects.osu")


def fixture_replays() -> list[Path]:
    return sorted(OSR.glob("*.osr"))


def distinct_copy(path: Path, i: int, **changes) -> bytes:
    """The fixture replay at `path` under a header of its own (player, replay md5, date, online id), with the
    fixture's own frame stream."""
    data = path.read_bytes()
    replay = parse_replay(data)
    changes = {
        "player": f"copy-{i}",
        "replay_md5": hashlib.md5(f"copy {i}".encode()).hexdigest(),
        "played_at": replay.played_at + timedelta(seconds=i),
        "online_score_id": 1_500_000_000 + i,
        **changes,
    }
    return write_replay(dataclasses.replace(replay, **changes), frame_stream=frame_stream(data))


def distinct_replays(n: int) -> list[bytes]:
    """`n` distinct replays, cycling through the fixtures."""
    paths = fixture_replays()
    return [distinct_copy(paths[i % len(paths)], i) for i in range(n)]


def ordr_dump(root: Path) -> dict[str, str]:
    """A replay dump in o!rdr's layout under `root/data`: three replays of fixture maps that are in beatmaps/
    (replay.osr's frames under their headers), a real fixture replay whose map is not there, and a truncated
    replay. Returns replay hash -> what it is ("map", "no map", "broken")."""
    data = root / "data"
    (data / "osr").mkdir(parents=True)
    (data / "beatmaps").mkdir()
    rows, kinds = [], {}
    for i, name in enumerate(DUMP_MAPS):
        osu = (FIXTURES / "osu" / name).read_bytes()
        beatmap_md5 = hashlib.md5(osu).hexdigest()
        (data / "beatmaps" / f"{beatmap_md5}.osu").write_bytes(osu)
        osr = distinct_copy(OSR / "replay.osr", i, beatmap_md5=beatmap_md5, online_score_id=None)
        rows.append((osr, beatmap_md5, "map"))
    taiko = (OSR / "taiko.osr").read_bytes()
    rows.append((taiko, parse_replay(taiko).beatmap_md5, "no map"))
    broken = rows[0][0][: len(rows[0][0]) // 2]
    rows.append((broken, rows[0][1], "broken"))
    with (data / "index.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["replayHash", "beatmapHash", "performance-accuracy", "performance-pp", "beatmap-title"])
        for i, (osr, beatmap_md5, kind) in enumerate(rows):
            replay_hash = hashlib.md5(osr).hexdigest()
            (data / "osr" / f"{replay_hash}.osr").write_bytes(osr)
            writer.writerow([replay_hash, beatmap_md5, 0.9 + i / 100, 100 + i, f"map {i}"])
            kinds[replay_hash] = kind
    return kinds
