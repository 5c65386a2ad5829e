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
WITH files AS MATERIALIZED (
    -- file_id: an integer key for this build only; sorting and joining on it is far cheaper than on md5
    SELECT md5, beatmap_id, row_number() OVER (ORDER BY md5) AS file_id FROM parsed.beatmap_files WHERE mode = 0
),
beats AS (
    -- valid uninherited points; at one timestamp the first in the file wins (osu!'s rule)
    SELECT f.file_id, t.time_ms, t.beat_length
    FROM parsed.timing_points t JOIN files f ON t.md5 = f.md5
    WHERE t.uninherited AND t.beat_length > 0 AND isfinite(t.beat_length)
    QUALIFY row_number() OVER (PARTITION BY f.file_id, t.time_ms ORDER BY t.point_index) = 1
),
segments AS (
    -- each BPM holds until the next timing point; notes before the first take the first (as osu!)
    SELECT
        file_id, time_ms AS start_ms, beat_length,
        coalesce(lead(time_ms) OVER w, 'infinity'::DOUBLE) AS end_ms,
        row_number() OVER w = 1 AS first
    FROM beats
    WINDOW w AS (PARTITION BY file_id ORDER BY time_ms)
),
sections AS (
    SELECT f.file_id, k.start_ms, coalesce(k.end_ms, 'infinity'::DOUBLE) AS end_ms
    FROM {{ ref('kiai_sections') }} k JOIN files f ON k.md5 = f.md5
),
objects AS (
    -- each object with the beat length and kiai state active when it starts: hash joins with a range
    -- filter (a map has few segments and sections), which avoids sorting the objects for an as-of join
    SELECT
        f.file_id, o.time_ms, o.end_time_ms, o.x, o.y, o.kind = 'spinner' AS spinner, o.object_index,
        s.beat_length,
        k.file_id IS NOT NULL AS in_kiai
    FROM parsed.hit_objects o
    JOIN files f ON o.md5 = f.md5
    LEFT JOIN segments s
        ON f.file_id = s.file_id AND o.time_ms < s.end_ms AND (o.time_ms >= s.start_ms OR s.first)
    LEFT JOIN sections k ON f.file_id = k.file_id AND o.time_ms >= k.start_ms AND o.time_ms < k.end_ms
),
steps AS (
    -- step k is the gap from object k-1 to object k. One global sort by (file, time, file order) gives
    -- each object its own step and, through lag/lead, its neighbours' steps, so finding stream runs
    -- needs no second sort. Values lagged across a file boundary are cut off by has_previous*.
    SELECT
        *,
        row_number() OVER w AS rn,
        coalesce(lag(file_id) OVER w = file_id, false) AS has_previous,
        CASE WHEN has_previous THEN time_ms - lag(time_ms) OVER w END AS interval_ms,
        CASE WHEN has_previous THEN sqrt((x - lag(x) OVER w) ** 2 + (y - lag(y) OVER w) ** 2) END AS distance,
        has_previous AND lag(in_kiai) OVER w AND in_kiai AS both_kiai,
        has_previous AND (spinner OR lag(spinner) OVER w) AS with_spinner,
        coalesce(lag(file_id, 2) OVER w = file_id, false) AS has_previous_2,
        lag(time_ms) OVER w - lag(time_ms, 2) OVER w AS previous_interval,
        lag(beat_length) OVER w AS previous_beat,
        lag(spinner) OVER w OR lag(spinner, 2) OVER w AS previous_with_spinner,
        coalesce(lead(file_id) OVER w = file_id, false) AS has_next,
        lead(time_ms) OVER w - time_ms AS next_interval,
        lead(beat_length) OVER w AS next_beat,
        lead(spinner) OVER w OR spinner AS next_with_spinner
    FROM objects
    WINDOW w AS (ORDER BY file_id, time_ms, object_index)
),
{% macro stream_step(has, interval, beat, spinner) -%}
    coalesce({{ has }} AND NOT {{ spinner }} AND {{ interval }} > 0
        AND {{ interval }} <= {{ beat }} / 4 + {{ var('stream_tolerance_ms') }}, false)
{%- endmacro %}
marked AS MATERIALIZED (
    -- a stream step: at most a quarter beat at the BPM active at the later note (+ tolerance)
    SELECT
        *,
        {{ stream_step('has_previous', 'interval_ms', 'beat_length', 'with_spinner') }} AS stream_step,
        {{ stream_step('has_previous_2', 'previous_interval', 'previous_beat', 'previous_with_spinner') }}
            AS previous_stream_step,
        {{ stream_step('has_next', 'next_interval', 'next_beat', 'next_with_spinner') }} AS next_stream_step
    FROM steps
),
longest AS (
    -- pair each run's first step with the next run end at or after it
    SELECT s.file_id, max(e.rn - s.rn) + 2 AS longest_stream_notes
    FROM (SELECT file_id, rn FROM marked WHERE stream_step AND NOT previous_stream_step) s
    ASOF JOIN (SELECT file_id, rn FROM marked WHERE stream_step AND NOT next_stream_step) e
        ON s.file_id = e.file_id AND e.rn >= s.rn
    GROUP BY s.file_id
),
per_file AS (
    SELECT
        file_id,
        count(*) AS n_objects,
        max(coalesce(end_time_ms, time_ms)) AS last_time,
        max(coalesce(end_time_ms, time_ms)) - min(time_ms) AS drain_ms,
        avg(in_kiai::INTEGER) AS kiai_note_ratio,
        avg(distance) FILTER (WHERE both_kiai AND NOT with_spinner) AS mean_kiai_distance,
        avg(interval_ms) AS mean_interval_ms,
        var_pop(interval_ms) AS note_interval_variance,
        avg(stream_step::INTEGER) FILTER (WHERE has_previous AND NOT with_spinner) AS stream_density,
        quantile_cont(distance, [0.5, 0.9]) FILTER (WHERE NOT with_spinner) AS distance_q
    FROM marked
    GROUP BY file_id
),
bpm_spans AS (
    -- osu!: each timing point lasts until the next (the first from time 0, the last until the last
    -- object ends); a point after the last object counts for nothing
    SELECT
        b.file_id,
        round(b.beat_length * 1000) / 1000 AS beat_length,
        b.time_ms,
        CASE WHEN b.time_ms > b.last_time THEN 0
            ELSE coalesce(lead(b.time_ms) OVER w, b.last_time)
                - CASE WHEN row_number() OVER w = 1 THEN 0 ELSE b.time_ms END
        END AS duration
    FROM (
        -- a file without objects: its last timing point ends it
        SELECT b.*, coalesce(p.last_time, max(b.time_ms) OVER (PARTITION BY b.file_id)) AS last_time
        FROM beats b LEFT JOIN per_file p ON b.file_id = p.file_id
    ) b
    WINDOW w AS (PARTITION BY b.file_id ORDER BY b.time_ms)
),
bpm AS (
    SELECT
        file_id,
        60000 / arg_max(beat_length, [duration, -first_time]) AS bpm_most_common,
        60000 / max(beat_length) AS bpm_min,
        60000 / min(beat_length) AS bpm_max
    FROM (
        SELECT file_id, beat_length, sum(duration) AS duration, min(time_ms) AS first_time
        FROM bpm_spans GROUP BY file_id, beat_length
    )
    GROUP BY file_id
),
kiai AS (
    SELECT file_id, count(*) AS kiai_sections FROM sections GROUP BY file_id
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
LEFT JOIN per_file p ON f.file_id = p.file_id
LEFT JOIN bpm ON f.file_id = bpm.file_id
LEFT JOIN kiai k ON f.file_id = k.file_id
LEFT JOIN longest l ON f.file_id = l.file_id
