/* kiai
description = """
Tier-2 features of every parsed osu!standard file (mode 0), whether or not the API knows the map:
one row per md5, computed from parsed.hit_objects (with the beat length and kiai state the parser
records at each object, and the step into it from the object before it: interval_ms, distance_sq,
previous_kiai, time_order) and parsed.timing_points. Positions are osu! pixels on the 512x384
playfield; times are ms (already +24 ms for file versions < 5). Objects are taken in time order,
then file order, as the parser's steps are.
Means and variances are exact sums divided once, so a build gives the same bytes however its threads
split the work.
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
[columns.first_object_ms]
description = "start of the earliest object (ms)"
[columns.last_object_end_ms]
description = "end of the latest-ending object (ms): slider, spinner and hold ends count"
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
    SELECT file_id, md5, beatmap_id FROM parsed.beatmap_files WHERE mode = 0
),
objects AS NOT MATERIALIZED (
    -- each object with the step into it from the one before it, as the parser records it: interval_ms, the
    -- distance (stored squared; NULL from or to a spinner), previous_kiai (all NULL at a file's first object)
    -- and time_order. Not materialised: buffering every object for the two readers below cost 0.2-0.3x the
    -- floor more than scanning parsed.hit_objects twice (bench/build_features.py).
    -- A stream step is between two objects that are not spinners, at most a quarter beat (at the later one's BPM)
    -- + tolerance apart
    SELECT
        o.*,
        sqrt(o.distance_sq) AS distance,
        coalesce(
            o.distance_sq IS NOT NULL AND o.interval_ms > 0
                AND o.interval_ms <= o.beat_length / 4 + {{ var('stream_tolerance_ms') }},  -- NULL: no BPM
            false
        ) AS stream_step
    FROM parsed.hit_objects AS o
    JOIN files USING (file_id)
),
objects_per_file AS (
    -- one aggregate over each file's objects and their steps (a new feature of this kind is a line here)
    SELECT
        file_id,
        count(*) AS n_objects,
        min(time_ms) AS first_time,
        max(coalesce(end_time_ms, time_ms)) AS last_time,
        avg(kiai::INTEGER) AS kiai_note_ratio,
        -- a sum of distances in exact fixed point (2^-32 px): a float sum would depend on the order threads add in
        sum(round(distance * 4294967296)::HUGEINT) FILTER (WHERE kiai AND previous_kiai)::DOUBLE / 4294967296
            / count(distance) FILTER (WHERE kiai AND previous_kiai) AS mean_kiai_distance,
        avg(interval_ms) AS mean_interval_ms,
        -- population variance from exact integer sums: (n * sum(x^2) - sum(x)^2) / n^2
        (count(interval_ms) * sum(interval_ms::HUGEINT * interval_ms) - sum(interval_ms) * sum(interval_ms))::DOUBLE
            / (count(interval_ms)::DOUBLE * count(interval_ms)) AS note_interval_variance,
        avg(stream_step::INTEGER) FILTER (WHERE distance IS NOT NULL) AS stream_density,
        quantile_cont(distance, [0.5, 0.9]) AS distance_q
    FROM objects
    GROUP BY file_id
),
stream_runs AS (
    -- runs of consecutive stream steps (gaps and islands): within a run, time_order and the step's rank among
    -- the file's stream steps rise together, so their difference names the run
    SELECT file_id, count(*) AS steps
    FROM (
        SELECT file_id, time_order - row_number() OVER (PARTITION BY file_id ORDER BY time_order) AS run
        FROM objects
        WHERE stream_step
    )
    GROUP BY file_id, run
),
streams AS (
    SELECT file_id, max(steps) + 1 AS longest_stream_notes FROM stream_runs GROUP BY file_id
),
bpm_spans AS (
    -- osu!: each timing point lasts until the next (the first from time 0, the last until the last
    -- object ends); a point after the last object counts for nothing
    SELECT
        t.file_id,
        round(t.beat_length * 1000) / 1000 AS beat_length,
        t.time_ms,
        CASE WHEN t.time_ms > t.last_time THEN 0
            ELSE coalesce(lead(t.time_ms) OVER w, t.last_time)
                - CASE WHEN row_number() OVER w = 1 THEN 0 ELSE t.time_ms END
        END AS duration
    FROM (
        -- the points that set the beat length (one per timestamp); a file without objects: its last point ends it
        SELECT t.file_id, t.time_ms, t.beat_length,
            coalesce(p.last_time, max(t.time_ms) OVER (PARTITION BY t.file_id)) AS last_time
        FROM parsed.timing_points AS t
        JOIN files USING (file_id)
        LEFT JOIN objects_per_file AS p USING (file_id)
        WHERE t.timing_applies
    ) AS t
    WINDOW w AS (PARTITION BY t.file_id ORDER BY t.time_ms)
),
bpm AS (
    SELECT
        file_id,
        60000 / arg_max(beat_length, [duration, -first_time]) AS bpm_most_common,
        60000 / max(beat_length) AS bpm_min,
        60000 / min(beat_length) AS bpm_max
    FROM (
        SELECT file_id, beat_length, sum(duration ORDER BY time_ms) AS duration, min(time_ms) AS first_time
        FROM bpm_spans GROUP BY file_id, beat_length
    )
    GROUP BY file_id
),
kiai AS (
    SELECT file_id, count(*) AS kiai_sections FROM {{ ref('kiai_sections') }} GROUP BY file_id
)
SELECT
    f.md5,
    f.beatmap_id,
    coalesce(o.n_objects, 0) AS n_objects,
    bpm.bpm_most_common,
    bpm.bpm_min,
    bpm.bpm_max,
    o.first_time AS first_object_ms,
    o.last_time AS last_object_end_ms,
    (o.last_time::BIGINT - o.first_time)::INTEGER AS drain_ms,
    coalesce(k.kiai_sections, 0) AS kiai_sections,
    o.kiai_note_ratio,
    o.mean_kiai_distance,
    o.mean_interval_ms,
    o.note_interval_variance,
    o.stream_density,
    coalesce(s.longest_stream_notes, 0) AS longest_stream_notes,
    o.distance_q[1] AS distance_p50,
    o.distance_q[2] AS distance_p90
FROM files AS f
LEFT JOIN objects_per_file AS o USING (file_id)
LEFT JOIN streams AS s USING (file_id)
LEFT JOIN bpm USING (file_id)
LEFT JOIN kiai AS k USING (file_id)
