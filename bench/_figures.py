"""How a benchmark hands its figures to `python -m bench`: `emit([figure(...), ...])` at the end of `main()`.

Each figure is one measured number with the peer or ceiling it is compared to in the same run, their ratio and
the bar it must meet. The runner sets KIAI_BENCH_FIGURES to a file path; run alone, a benchmark only prints.
"""

from __future__ import annotations

import json
import os
from typing import Any

ENV = "KIAI_BENCH_FIGURES"


def figure(
    name: str,
    value: float,
    unit: str,
    *,
    peer: str = "",
    peer_value: float | None = None,
    ratio: float | None = None,
    at_least: float | None = None,
    at_most: float | None = None,
    on: str = "ratio",
) -> dict[str, Any]:
    """One figure. The bar applies to `on` ("ratio" or "value"): `at_least` or `at_most` that number."""
    if ratio is None and peer_value:
        ratio = value / peer_value
    checked = ratio if on == "ratio" else value
    if at_least is not None:
        bar, passed = f"{on} >= {at_least:g}", checked is not None and checked >= at_least
    elif at_most is not None:
        bar, passed = f"{on} <= {at_most:g}", checked is not None and checked <= at_most
    else:
        bar, passed = "", True
    return {
        "figure": name,
        "value": value,
        "unit": unit,
        "peer": peer,
        "peer_value": peer_value,
        "ratio": ratio,
        "bar": bar,
        "passed": bool(passed),
    }


def emit(figures: list[dict[str, Any]]) -> None:
    """Write the figures where the runner asked (no-op when run alone)."""
    path = os.environ.get(ENV)
    if path:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(figures, handle, indent=1)
