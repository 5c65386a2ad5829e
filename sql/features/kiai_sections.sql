/* kiai
description = """
Kiai sections of every parsed beatmap file: one row per section, in time order. Kiai is bit 0 of a
timing point's effects, on inherited and uninherited points alike, and holds until a later point
changes it. Several points at one timestamp follow osu!'s rule: the last inherited point there wins;
with none, the first uninherited one does. Times already include the +24 ms of file versions < 5.
"""
[columns.md5]
description = "md5 of the .osu file"
tests = ["not_null"]
[columns.section_index]
description = "0-based order of the section within the file"
tests = ["not_null"]
[columns.start_ms]
description = "time kiai turns on (ms)"
tests = ["not_null"]
[columns.end_ms]
description = "time kiai turns off again (ms); NULL when it stays on to the end of the map"
*/
WITH winners AS (
    -- one effect state per (file, timestamp), by osu!'s same-timestamp rule
    SELECT md5, time_ms, (effects & 1) = 1 AS kiai
    FROM parsed.timing_points
    QUALIFY row_number() OVER (
        PARTITION BY md5, time_ms
        ORDER BY uninherited, CASE WHEN uninherited THEN point_index ELSE -point_index END
    ) = 1
),
edges AS (
    -- the points where the state flips; they alternate on, off, on, ...
    SELECT md5, time_ms, kiai
    FROM (
        SELECT md5, time_ms, kiai, lag(kiai, 1, false) OVER (PARTITION BY md5 ORDER BY time_ms) AS before
        FROM winners
    )
    WHERE kiai <> before
),
spans AS (
    SELECT md5, time_ms AS start_ms, kiai, lead(time_ms) OVER (PARTITION BY md5 ORDER BY time_ms) AS end_ms
    FROM edges
)
SELECT
    md5,
    (row_number() OVER (PARTITION BY md5 ORDER BY start_ms) - 1)::INTEGER AS section_index,
    start_ms,
    end_ms
FROM spans
WHERE kiai
