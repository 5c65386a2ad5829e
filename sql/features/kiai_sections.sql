/* kiai
description = """
Kiai sections of every parsed beatmap file: one row per section, in time order. Kiai is bit 0 of a
timing point's effects, on inherited and uninherited points alike, and holds until a later point
changes it. Of several lines at one timestamp, the one osu! applies decides (`effects_apply`: the parser
marks it by osu!'s same-timestamp rule). Times already include the +24 ms of file versions < 5.
"""
[columns.file_id]
description = "the file's id (parsed.beatmap_files.file_id)"
tests = ["not_null"]
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
WITH edges AS (
    -- the times where the state osu! applies flips; they alternate on, off, on, ...
    SELECT file_id, time_ms, kiai
    FROM (
        SELECT file_id, time_ms, kiai, lag(kiai, 1, false) OVER (PARTITION BY file_id ORDER BY time_ms) AS before
        FROM parsed.timing_points
        WHERE effects_apply
    )
    WHERE kiai <> before
),
spans AS (
    SELECT file_id, time_ms AS start_ms, kiai, lead(time_ms) OVER (PARTITION BY file_id ORDER BY time_ms) AS end_ms
    FROM edges
)
SELECT
    s.file_id,
    f.md5,
    (row_number() OVER (PARTITION BY s.file_id ORDER BY s.start_ms) - 1)::INTEGER AS section_index,
    s.start_ms,
    s.end_ms
FROM spans AS s
JOIN parsed.beatmap_files AS f USING (file_id)
WHERE s.kiai
