"""The step columns of parsed.hit_objects (time_order, interval_ms, distance_sq, previous_kiai) as SQL computes them
with one window per file: the reference the parser's are tested against (tests/unit/osu/test_steps.py), and how
the bench and the tests that write parsed.hit_objects straight from SQL fill them in."""

from __future__ import annotations


def with_steps(objects: str) -> str:
    """A SELECT of the rows of the query `objects` (with file_id, object_index, time_ms, x, y, kind and
    kiai, and no step columns) with the four step columns added, for `INSERT INTO parsed.hit_objects BY NAME`."""
    return f"""
    SELECT * EXCLUDE (dx, dy, spinner_step), CASE WHEN NOT spinner_step THEN dx * dx + dy * dy END AS distance_sq
    FROM (
        SELECT
            *,
            (row_number() OVER w - 1)::INTEGER AS time_order,
            time_ms::BIGINT - lag(time_ms) OVER w AS interval_ms,
            (x::BIGINT - lag(x) OVER w)::DOUBLE AS dx,
            (y::BIGINT - lag(y) OVER w)::DOUBLE AS dy,
            kind::VARCHAR = 'spinner' OR lag(kind::VARCHAR) OVER w = 'spinner' AS spinner_step,
            lag(kiai) OVER w AS previous_kiai
        FROM ({objects})
        WINDOW w AS (PARTITION BY file_id ORDER BY time_ms, object_index)
    )
    """
