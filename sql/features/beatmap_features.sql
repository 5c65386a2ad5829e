/* kiai
description = """
The feature tiers side by side: one row per osu!standard beatmap known from the API (api_features)
and/or from a parsed file (file_features), with the dump's scores of it (score_features). A file is matched by its BeatmapID, or by its md5 equal to
the API's checksum when the file has no id; when several files match one beatmap, the one whose md5 is
the API's checksum wins. Tier-2 columns are NULL for maps without a parsed file.

For a parsed file the API has not answered for (e.g. `kiai predict map.osu`), the tier-1 columns that
the file itself gives are filled from it, as the API would compute them: ar, cs, od, hp, bpm (the BPM
held longest), n_circles, n_sliders, n_spinners, slider_ratio, hit_length and total_length (whole
seconds: total from 0 to the last object's end, hit = first object to last end minus breaks),
break_time, break_ratio and the has_tag_* flags from the file's Tags. star_rating (needs osu!'s
difficulty calculator), max_combo (needs slider tick positions), genre and status (set metadata only
the API has) stay NULL there.

The tier-3 columns (score_*, from score_features: what the dump's players do with the map) are NULL
where the data.ppy.sh dump has no osu!standard score for the beatmap, and everywhere before a dump is
imported.
"""
[counts]
api_only = "SELECT count(*) FROM {{ this }} WHERE n_objects IS NULL"
file_only = "SELECT count(*) FROM {{ this }} WHERE star_rating IS NULL AND n_objects IS NOT NULL"

[columns.beatmap_id]
description = "osu! beatmap id; NULL only for a file with no id that the API does not know by md5"
tests = ["unique"]
[columns.beatmapset_id]
description = "from the API, else from the file"
[columns.md5]
description = "md5 of the parsed file the tier-2 features come from, else the API's checksum"
tests = ["not_null"]
*/
{%- set flags = var('tag_keywords') %}
WITH api AS (
    SELECT * FROM {{ ref('api_features') }}
),
files AS (
    SELECT
        f.* EXCLUDE (beatmap_id),
        coalesce(f.beatmap_id, by_md5.beatmap_id) AS beatmap_id,
        p.beatmapset_id AS file_beatmapset_id
    FROM {{ ref('file_features') }} AS f
    LEFT JOIN api AS by_md5 ON f.beatmap_id IS NULL AND by_md5.md5 = f.md5
    LEFT JOIN parsed.beatmap_files AS p ON p.md5 = f.md5
),
one_file AS (
    SELECT files.*, api.beatmap_id IS NULL AS file_only
    FROM files
    LEFT JOIN api ON api.beatmap_id = files.beatmap_id
    QUALIFY files.beatmap_id IS NULL
        OR row_number() OVER (
            PARTITION BY files.beatmap_id ORDER BY files.md5 IS NOT DISTINCT FROM api.md5 DESC, files.md5
        ) = 1
),
breaks AS (
    SELECT f.md5, sum(b.end_ms - b.start_ms) AS break_ms
    FROM parsed.breaks AS b
    JOIN parsed.beatmap_files AS f USING (file_id)
    GROUP BY f.md5
),
file_tier1 AS (
    -- the tier-1 columns a file gives, computed the way the API does (see the description)
    SELECT
        f.beatmap_id,
        f.file_beatmapset_id AS beatmapset_id,
        f.md5,
        f.bpm_most_common AS bpm,
        p.ar,
        p.cs,
        p.od,
        p.hp,
        CAST((f.last_object_end_ms - f.first_object_ms - coalesce(b.break_ms, 0)) // 1000 AS INTEGER) AS hit_length,
        CAST(f.last_object_end_ms // 1000 AS INTEGER) AS total_length,
        total_length - hit_length AS break_time,
        (total_length - hit_length) / nullif(total_length, 0) AS break_ratio,
        p.n_circles,
        p.n_sliders,
        p.n_spinners,
        p.n_sliders / nullif(p.n_circles + p.n_sliders, 0) AS slider_ratio
        {%- for word in flags %},
        coalesce(regexp_matches(p.tags, {{ word | tag_regex | sql }}, 'i'), false) AS {{ ('has_tag_' ~ word) | identifier }}
        {%- endfor %}
    FROM one_file AS f
    JOIN parsed.beatmap_files AS p ON p.md5 = f.md5
    LEFT JOIN breaks AS b ON b.md5 = f.md5
    WHERE f.file_only
),
tier1 AS (
    -- the API's row, else the file's; key: the beatmap id, or for a file without one its md5
    SELECT *, NULL::VARCHAR AS key_md5 FROM api
    UNION ALL BY NAME
    SELECT *, CASE WHEN beatmap_id IS NULL THEN md5 END AS key_md5 FROM file_tier1
)
SELECT
    coalesce(t.beatmap_id, f.beatmap_id) AS beatmap_id,
    coalesce(t.beatmapset_id, f.file_beatmapset_id) AS beatmapset_id,
    coalesce(f.md5, t.md5) AS md5,
    t.* EXCLUDE (beatmap_id, beatmapset_id, md5, key_md5),
    f.* EXCLUDE (beatmap_id, md5, file_beatmapset_id, file_only, first_object_ms, last_object_end_ms),
    s.* EXCLUDE (beatmap_id)
FROM tier1 AS t
LEFT JOIN one_file AS f
    ON f.beatmap_id IS NOT DISTINCT FROM t.beatmap_id
    AND (CASE WHEN f.beatmap_id IS NULL THEN f.md5 END) IS NOT DISTINCT FROM t.key_md5
LEFT JOIN {{ ref('score_features') }} AS s ON s.beatmap_id = t.beatmap_id
