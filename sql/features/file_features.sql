/* kiai
description = """
Tier-2 features of every parsed osu!standard file (mode 0), whether or not the API knows the map:
one row per md5, computed from parsed.hit_objects and parsed.timing_points. Positions are osu!
pixels on the 512x384 playfield; times are ms (already +24 ms for file versions < 5).
"""
[counts]
other_modes_left_out = "SELECT count(*) FROM parsed.beatmap_files WHERE mode IS DISTINCT FROM 0"

[columns.md5]
description = "md5 of the .osu file"
tests = ["not_null", "unique"]
[columns.beatmap_id]
description = "osu! beatmap id from the file (NULL for old files without one)"
[columns.n_objects]
description = "hit objects in the file"
tests = ["not_null"]
[columns.bpm_most_common]
description = "BPM held longest: duration-weighted over uninherited points up to the last object end (osu!'s definition)"
tests = [{accepted_range = {min = 0}}]
[columns.bpm_min]
description = "lowest BPM of any valid uninherited timing point"
[columns.bpm_max]
description = "highest BPM of any valid uninherited timing point"
[columns.drain_ms]
description = "first object start to last object end (ms)"
[columns.kiai_sections]
description = "number of kiai sections (see kiai_sections)"
[columns.kiai_note_ratio]
description = "fraction of objects that start inside kiai"
tests = [{accepted_range = {min = 0, max = 1}}]
[columns.mean_kiai_distance]
description = "mean distance (osu! px) between consecutive objects that both start in kiai; spinners left out"
[columns.mean_interval_ms]
description = "mean time between consecutive object starts (ms)"
[columns.note_interval_variance]
description = "population variance of the time between consecutive object starts (ms^2)"
[columns.stream_density]
description = "fraction of intervals between non-spinner objects that are at most a quarter beat (at the BPM active at the later note) + stream_tolerance_ms; a perfect 1/4 stream scores 1"
tests = [{accepted_range = {min = 0, max = 1}}]
[columns.longest_stream_notes]
description = "notes in the longest run of consecutive stream intervals (0 when there is none)"
[columns.distance_p50]
description = "median distance (osu! px) between consecutive non-spinner objects"
[columns.distance_p90]
description = "90th percentile of that distance: how big the jumps get"
*/
WITH files AS (
    SELECT md5, beatmap_id FROM parsed.beatmap_files WHERE mode = 0
),
beats AS (
    -- valid uninherited points; at one timestamp the first in the file wins (osu!'s rule)
    SELECT t.md5, t.time_ms, t.beat_length
    FROM parsed.timing_points t SEMI JOIN files f ON t.md5 = f.md5
    WHERE t.uninherited AND t.beat_length > 0 AND isfinite(t.beat_length)
    QUALIFY row_number() OVER (PARTITION BY t.md5, t.time_ms ORDER BY t.point_index) = 1
),
first_beats AS (
    SELECT md5, arg_min(beat_length, time_ms) AS beat_length FROM beats GROUP BY md5
),
objects AS (
    -- each object with the beat length and kiai state active when it starts
    SELECT
        o.md5, o.time_ms, o.end_time_ms, o.x, o.y, o.kind = 'spinner' AS spinner,
        coalesce(b.beat_length, fb.beat_length) AS beat_length,
        k.start_ms IS NOT NULL AND (k.end_ms IS NULL OR o.time_ms < k.end_ms) AS in_kiai,
        o.object_index
    FROM parsed.hit_objects o
    SEMI JOIN files f ON o.md5 = f.md5
    ASOF LEFT JOIN beats b ON o.md5 = b.md5 AND o.time_ms >= b.time_ms
    ASOF LEFT JOIN {{ ref('kiai_sections') }} k ON o.md5 = k.md5 AND o.time_ms >= k.start_ms
    LEFT JOIN first_beats fb ON o.md5 = fb.md5
),
pairs AS (
    SELECT
        *,
        time_ms - lag(time_ms) OVER w AS interval_ms,
        sqrt((x - lag(x) OVER w) ** 2 + (y - lag(y) OVER w) ** 2) AS distance,
        lag(in_kiai) OVER w AND in_kiai AS both_kiai,
        (spinner OR lag(spinner) OVER w) AS with_spinner
    FROM objects
    WINDOW w AS (PARTITION BY md5 ORDER BY time_ms, object_index)
),
marked AS (
    SELECT
        *,
        NOT with_spinner
            AND interval_ms > 0
            AND interval_ms <= beat_length / 4 + {{ var('stream_tolerance_ms') }} AS stream_step
    FROM pairs
),
runs AS (
    -- consecutive stream steps share a run id: the count of non-stream steps before them
    SELECT md5, stream_step,
        count(*) FILTER (WHERE NOT coalesce(stream_step, false)) OVER (
            PARTITION BY md5 ORDER BY time_ms, object_index ROWS UNBOUNDED PRECEDING
        ) AS run_id
    FROM marked
),
longest AS (
    SELECT md5, max(steps) + 1 AS longest_stream_notes
    FROM (SELECT md5, run_id, count(*) AS steps FROM runs WHERE stream_step GROUP BY md5, run_id)
    GROUP BY md5
),
per_file AS (
    SELECT
        md5,
        count(*) AS n_objects,
        max(coalesce(end_time_ms, time_ms)) AS last_time,
        max(coalesce(end_time_ms, time_ms)) - min(time_ms) AS drain_ms,
        avg(in_kiai::INTEGER) AS kiai_note_ratio,
        avg(distance) FILTER (WHERE both_kiai AND NOT with_spinner) AS mean_kiai_distance,
        avg(interval_ms) AS mean_interval_ms,
        var_pop(interval_ms) AS note_interval_variance,
        avg(stream_step::INTEGER) AS stream_density,
        quantile_cont(distance, [0.5, 0.9]) FILTER (WHERE NOT with_spinner) AS distance_q
    FROM marked
    GROUP BY md5
),
bpm_spans AS (
    -- osu!: each timing point lasts until the next (the first from time 0, the last until the last
    -- object ends); a point after the last object counts for nothing
    SELECT
        b.md5,
        round(b.beat_length * 1000) / 1000 AS beat_length,
        b.time_ms,
        CASE WHEN b.time_ms > b.last_time THEN 0
            ELSE coalesce(lead(b.time_ms) OVER w, b.last_time)
                - CASE WHEN row_number() OVER w = 1 THEN 0 ELSE b.time_ms END
        END AS duration
    FROM (
        -- a file without objects: its last timing point ends it
        SELECT b.*, coalesce(p.last_time, max(b.time_ms) OVER (PARTITION BY b.md5)) AS last_time
        FROM beats b LEFT JOIN per_file p ON b.md5 = p.md5
    ) b
    WINDOW w AS (PARTITION BY b.md5 ORDER BY b.time_ms)
),
bpm AS (
    SELECT
        md5,
        60000 / arg_max(beat_length, [duration, -first_time]) AS bpm_most_common,
        60000 / max(beat_length) AS bpm_min,
        60000 / min(beat_length) AS bpm_max
    FROM (
        SELECT md5, beat_length, sum(duration) AS duration, min(time_ms) AS first_time
        FROM bpm_spans GROUP BY md5, beat_length
    )
    GROUP BY md5
),
kiai AS (
    SELECT md5, count(*) AS kiai_sections FROM {{ ref('kiai_sections') }} GROUP BY md5
)
SELECT
    f.md5,
    f.beatmap_id,
    coalesce(p.n_objects, 0) AS n_objects,
    bpm.bpm_most_common,
    bpm.bpm_min,
    bpm.bpm_max,
    p.drain_ms,
    coalesce(k.kiai_sections, 0) AS kiai_sections,
    p.kiai_note_ratio,
    p.mean_kiai_distance,
    p.mean_interval_ms,
    p.note_interval_variance,
    p.stream_density,
    coalesce(l.longest_stream_notes, 0) AS longest_stream_notes,
    p.distance_q[1] AS distance_p50,
    p.distance_q[2] AS distance_p90
FROM files f
LEFT JOIN per_file p ON f.md5 = p.md5
LEFT JOIN bpm ON f.md5 = bpm.md5
LEFT JOIN kiai k ON f.md5 = k.md5
LEFT JOIN longest l ON f.md5 = l.md5
