"""Golden parsed rows, one case file per `.osu` fixture (tests/cases/parsed/<fixture>.json): the file's metadata and
counts, a handful of hit objects picked evenly through it (each with the timing context it starts in: beat length,
slider velocity, kiai), a handful of timing points and every break.

`python -m tests.support.parsed_cases` writes them again from today's parser. What it changes is a change of
behaviour: review `git diff tests/cases/parsed` as such before committing it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from kiai.osu import CURVE_TYPES, KINDS, parse_batch
from tests.support.paths import CASES, OSU_FIXTURES, SAME_TIME_FIXTURES

PARSED_CASES = CASES / "parsed"
ROWS = 8  # hit objects and timing points kept per file: the first, the last and those evenly between
REGENERATE = "python -m tests.support.parsed_cases"


def fixture_files() -> list[Path]:
    return sorted(OSU_FIXTURES.glob("*.osu")) + sorted(SAME_TIME_FIXTURES.glob("*.osu"))


def case_path(fixture: Path) -> Path:
    return PARSED_CASES / f"{fixture.stem}.json"


def _plain(value: Any) -> Any:
    """A JSON value: NumPy scalars as Python ones, NaN as null."""
    value = value.item() if isinstance(value, np.generic) else value
    return None if isinstance(value, float) and math.isnan(value) else value


def _picked(n: int) -> list[int]:
    return sorted({int(i) for i in np.linspace(0, n - 1, min(n, ROWS)).round()}) if n else []


def parsed_case(fixture: Path) -> dict[str, Any]:
    """What the parser reads from one fixture, in the case file's shape."""
    batch = parse_batch([fixture.read_bytes()])
    (parsed,) = batch.files
    if parsed.error is not None:
        return {"fixture": fixture.name, "error": parsed.error}
    objects = batch.hit_objects
    points = batch.timing_points
    offsets = objects.curve_points_offsets
    hit_objects = [
        {
            "object_index": _plain(objects.object_index[i]),
            "time_ms": _plain(objects.time_ms[i]),
            "x": _plain(objects.x[i]),
            "y": _plain(objects.y[i]),
            "kind": KINDS[objects.kind[i]],
            "new_combo": _plain(objects.new_combo[i]),
            "combo_skip": _plain(objects.combo_skip[i]),
            "hit_sound": _plain(objects.hit_sound[i]),
            "end_time_ms": _plain(objects.end_time_ms[i]) if objects.end_time_valid[i] else None,
            "slides": _plain(objects.slides[i]),
            "length": _plain(objects.length[i]),
            "curve_type": CURVE_TYPES[objects.curve_type[i]] if objects.curve_type[i] >= 0 else None,
            "curve_points": bytes(objects.curve_points_data[offsets[i] : offsets[i + 1]]).decode(),
            "beat_length": _plain(objects.beat_length[i]),
            "slider_velocity": _plain(objects.slider_velocity[i]),
            "kiai": _plain(objects.kiai[i]),
            "time_order": _plain(objects.time_order[i]),
            "interval_ms": _plain(objects.interval_ms[i]) if objects.has_previous[i] else None,
            "distance_sq": _plain(objects.distance_sq[i]),
            "previous_kiai": _plain(objects.previous_kiai[i]) if objects.has_previous[i] else None,
        }
        for i in _picked(len(objects))
    ]
    timing_points = [
        {name: _plain(column[i]) for name, column in points.items() if name != "file_index"}
        for i in _picked(len(points["time_ms"]))
    ]
    breaks = [[_plain(s), _plain(e)] for s, e in zip(batch.breaks["start_ms"], batch.breaks["end_ms"], strict=True)]
    return {
        "fixture": fixture.name,
        "metadata": {name: _plain(value) for name, value in parsed.metadata.items()},
        "hit_objects": hit_objects,
        "timing_points": timing_points,
        "breaks": breaks,
    }


def case_text(case: dict[str, Any]) -> str:
    """JSON with one row a line, so a review reads the diff row by row."""
    lines = ["{"]
    items = list(case.items())
    for n, (key, value) in enumerate(items):
        comma = "," if n < len(items) - 1 else ""
        if isinstance(value, list) and value:
            rows = ",\n".join(f"    {json.dumps(row, ensure_ascii=False)}" for row in value)
            lines.append(f"  {json.dumps(key)}: [\n{rows}\n  ]{comma}")
        elif isinstance(value, dict):
            fields = ",\n".join(f"    {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in value.items())
            lines.append(f"  {json.dumps(key)}: {{\n{fields}\n  }}{comma}")
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}{comma}")
    return "\n".join(lines) + "\n}\n"


def main() -> None:
    PARSED_CASES.mkdir(parents=True, exist_ok=True)
    wanted = {case_path(fixture): fixture for fixture in fixture_files()}
    for stale in set(PARSED_CASES.glob("*.json")) - set(wanted):
        stale.unlink()
        print(f"removed {stale.relative_to(CASES.parent.parent)}")
    for path, fixture in wanted.items():
        text = case_text(parsed_case(fixture))
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(CASES.parent.parent)}")


if __name__ == "__main__":
    main()
