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
{#- an object time t (INTEGER) is at or after a time x (DOUBLE) exactly when t >= whole_ms(x) #}
{%- macro whole_ms(x) %}greatest(least(ceil({{ x }}), 2147483648), -2147483648)::BIGINT{% endmacro %}
{%- set bucket_bits = 14 %}
edges AS (
    -- the whole-ms times from which the beat length or the kiai state may change
    SELECT file_id, {{ whole_ms('start_ms') }} AS edge_ms FROM segments WHERE NOT first
    UNION
    SELECT file_id, {{ whole_ms('start_ms') }} FROM sections
    UNION
    SELECT file_id, {{ whole_ms('end_ms') }} FROM sections WHERE end_ms < 'infinity'::DOUBLE
),
spans AS (
    -- the time line of each file cut at its edges: [lo, hi), NULL for unbounded
    SELECT file_id, edge_ms AS lo, lead(edge_ms) OVER (PARTITION BY file_id ORDER BY edge_ms) AS hi FROM edges
    UNION ALL
    SELECT f.file_id, NULL, min(e.edge_ms) FROM files f LEFT JOIN edges e ON e.file_id = f.file_id GROUP BY f.file_id
),
span_states AS (
    -- beat length and kiai state are constant on a span: take them at one of its times
    SELECT
        p.file_id, p.lo, p.hi,
        s.beat_length / 4 + {{ var('stream_tolerance_ms') }} AS stream_max,
        k.file_id IS NOT NULL AS in_kiai
    FROM (SELECT *, coalesce(lo, hi - 1, 0) AS t FROM spans) p
    LEFT JOIN segments s ON p.file_id = s.file_id AND p.t < s.end_ms AND (p.t >= s.start_ms OR s.first)
    LEFT JOIN sections k ON p.file_id = k.file_id AND p.t >= k.start_ms AND p.t < k.end_ms
),
file_buckets AS MATERIALIZED (
    -- objects are matched to spans through time buckets of 2^{{ bucket_bits }} ms, clamped to the buckets
    -- that hold edges; an unbounded span reaches the first or last of those. A span covers each bucket it
    -- touches (at most 2^18 + 1 for a file with edges at both ends of the INTEGER range)
    SELECT
        f.md5, f.file_id,
        coalesce((min(e.edge_ms) - 1) >> {{ bucket_bits }}, 0) AS first_bucket,
        coalesce(max(e.edge_ms) >> {{ bucket_bits }}, 0) AS last_bucket
    FROM files f LEFT JOIN edges e ON e.file_id = f.file_id
    GROUP BY f.md5, f.file_id
),
span_buckets AS (
    -- key: file_id * 2^20 + bucket - first_bucket (a file's buckets span less than 2^19)
    SELECT
        p.file_id * 1048576 + unnest(range(
            CASE WHEN p.lo IS NULL THEN b.first_bucket ELSE p.lo >> {{ bucket_bits }} END,
            CASE WHEN p.hi IS NULL THEN b.last_bucket ELSE (p.hi - 1) >> {{ bucket_bits }} END + 1
        )) - b.first_bucket AS bucket_key,
        coalesce(p.lo, -2147483648) AS lo, coalesce(p.hi, 2147483648) AS hi, p.stream_max, p.in_kiai
    FROM span_states p JOIN file_buckets b ON b.file_id = p.file_id
),
objects AS (
    -- each object with the beat length and kiai state active when it starts, by an equi-join on
    -- (file, bucket) and a range filter; this avoids sorting the objects for an as-of join.
    -- Packed to keep the sort narrow: key = time_ms * 2^32 + object_index * 4 + in_kiai * 2 + spinner
    -- orders by (time, file order) and carries the flags; xy = x * 2^32 + y + 2^31.
    SELECT
        f.file_id,
        o.time_ms::BIGINT * 4294967296 + CASE WHEN o.object_index BETWEEN 0 AND 1073741823 THEN o.object_index * 4
            ELSE error('file_features: object_index outside 0..2^30-1 in ' || o.md5) END
            + s.in_kiai::INTEGER * 2 + (o.kind = 'spinner')::INTEGER AS key,
        o.x::BIGINT * 4294967296 + (o.y::BIGINT + 2147483648) AS xy,
        coalesce(o.end_time_ms, o.time_ms) AS last_end,
        CASE WHEN o.kind <> 'spinner' THEN s.stream_max END AS stream_max  -- NULL: no stream step ends here
    FROM parsed.hit_objects o
    JOIN file_buckets f ON o.md5 = f.md5
    LEFT JOIN span_buckets s  -- exactly one match; LEFT keeps the optimizer from joining on md5 first
        ON s.bucket_key = f.file_id * 1048576
            + least(greatest(o.time_ms >> {{ bucket_bits }}, f.first_bucket), f.last_bucket) - f.first_bucket
        AND o.time_ms >= s.lo AND o.time_ms < s.hi
),
{#- a stream step: at most a quarter beat at the BPM active at the later note (+ tolerance), between two
    objects that are not spinners (stream_max is NULL at a spinner; the earlier one's spinner bit is 0) #}
{%- macro stream_step(later, earlier, stream_max) -%}
    coalesce(({{ later }} >> 32) > ({{ earlier }} >> 32)
        AND ({{ later }} >> 32) - ({{ earlier }} >> 32) <= {{ stream_max }} AND {{ earlier }} & 1 = 0, false)
{%- endmacro %}
neighbours AS (
    -- step k is the gap from object k-1 to object k. One sort per file by (time, file order) gives each
    -- object its own step and, through lag/lead, its neighbours' steps, so finding stream runs needs no
    -- second sort.
    SELECT
        file_id, rn, last_end, key, key >> 32 AS time_ms, time_ms - (key_1 >> 32) AS interval_ms,
        sqrt(dx * dx + dy * dy) AS distance,
        (key | key_1) & 1 = 0 AS no_spinner,  -- NULL for the first object
        key & 3 = 2 AND key_1 & 3 = 2 AS kiai_pair,  -- both in kiai, neither a spinner
        {{ stream_step('key', 'key_1', 'stream_max') }} AS stream_step,
        {{ stream_step('key_1', 'key_2', 'stream_max_1') }} AS previous_stream_step,
        {{ stream_step('key_n', 'key', 'stream_max_n') }} AS next_stream_step
    FROM (
        SELECT
            file_id, last_end, key, stream_max,
            row_number() OVER w AS rn,
            lag(key) OVER w AS key_1, lag(key, 2) OVER w AS key_2, lead(key) OVER w AS key_n,
            ((xy >> 32) - (lag(xy) OVER w >> 32))::DOUBLE AS dx,
            ((xy & 4294967295) - (lag(xy) OVER w & 4294967295))::DOUBLE AS dy,
            lag(stream_max) OVER w AS stream_max_1, lead(stream_max) OVER w AS stream_max_n
        FROM objects
        WINDOW w AS (PARTITION BY file_id ORDER BY key)
    )
),
per_file AS (
    SELECT
        file_id,
        count(*) AS n_objects,
        min(time_ms) AS first_time,
        max(last_end) AS last_time,
        avg((key >> 1) & 1) AS kiai_note_ratio,
        avg(distance) FILTER (WHERE kiai_pair) AS mean_kiai_distance,
        avg(interval_ms) AS mean_interval_ms,
        var_pop(interval_ms) AS note_interval_variance,
        avg(stream_step::INTEGER) FILTER (WHERE no_spinner) AS stream_density,
        quantile_cont(distance, [0.5, 0.9]) FILTER (WHERE no_spinner) AS distance_q,
        -- stream runs: the k-th run starts at the k-th first step and ends at the k-th last step
        list_sort(list(rn) FILTER (WHERE stream_step AND NOT previous_stream_step)) AS run_starts,
        list_sort(list(rn) FILTER (WHERE stream_step AND NOT next_stream_step)) AS run_ends
    FROM neighbours
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
    p.first_time::INTEGER AS first_object_ms,
    p.last_time::INTEGER AS last_object_end_ms,
    (p.last_time - p.first_time)::INTEGER AS drain_ms,
    coalesce(k.kiai_sections, 0) AS kiai_sections,
    p.kiai_note_ratio,
    p.mean_kiai_distance,
    p.mean_interval_ms,
    p.note_interval_variance,
    p.stream_density,
    coalesce(list_max(list_transform(p.run_ends, lambda e, i: e - p.run_starts[i])) + 2, 0) AS longest_stream_notes,
    p.distance_q[1] AS distance_p50,
    p.distance_q[2] AS distance_p90
FROM files f
LEFT JOIN per_file p ON f.file_id = p.file_id
LEFT JOIN bpm ON f.file_id = bpm.file_id
LEFT JOIN kiai k ON f.file_id = k.file_id
