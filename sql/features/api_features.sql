/* kiai
description = """
Tier-1 features of every osu!standard beatmap (mode 0) the osu! API has answered for: one row per
beatmap id, from staging.beatmaps and its set in staging.beatmapsets. Other modes are left out and
counted in the build log. Ratios whose denominator is zero are NULL.
"""
[counts]
other_modes_left_out = "SELECT count(*) FROM {{ ref('beatmaps') }} WHERE mode_int IS DISTINCT FROM 0"

[columns.beatmap_id]
description = "osu! beatmap id"
tests = ["not_null", "unique"]
[columns.beatmapset_id]
tests = ["not_null"]
[columns.md5]
description = "md5 of the current .osu file (the API's `checksum`)"
[columns.bpm]
description = "BPM as the API reports it"
[columns.ar]
description = "approach rate"
[columns.cs]
description = "circle size"
[columns.od]
description = "overall difficulty (the API's `accuracy`)"
[columns.hp]
description = "HP drain (the API's `drain`)"
[columns.star_rating]
description = "star rating without mods (the API's `difficulty_rating`)"
[columns.hit_length]
description = "drain time in seconds: first object to last object end, breaks excluded"
[columns.total_length]
description = "length in seconds from the song's start (0 ms) to the last object's end, as osu! counts it"
[columns.break_time]
description = "total_length - hit_length (s): the breaks plus the lead-in before the first object"
[columns.break_ratio]
description = "break_time / total_length (lead-in included, as break_time); NULL when total_length is 0"
[columns.n_circles]
[columns.n_sliders]
[columns.n_spinners]
[columns.slider_ratio]
description = "n_sliders / (n_circles + n_sliders); NULL when both are 0"
tests = [{accepted_range = {min = 0, max = 1}}]
[columns.max_combo]
[columns.genre]
description = "genre name from var genre_names by the set's genre_id; 'unknown' when missing or not in the map"
tests = ["not_null"]
[columns.status]
description = "ranked status: graveyard | wip | pending | ranked | approved | qualified | loved"
*/
{#- one has_tag_<word> column per var tag_keywords: a whole-tag match, case-insensitive; a keyword of
    several words matches those tags in a row ("finger control") -#}
{%- set flags = var('tag_keywords') | map('identifier') | list %}
{%- if flags | length != flags | unique | list | length %}
{{- fail("var tag_keywords gives the same has_tag_ column twice: " ~ flags | join(', ')) }}
{%- endif %}
WITH maps AS (
    SELECT * FROM {{ ref('beatmaps') }} WHERE mode_int = 0
)
SELECT
    b.beatmap_id,
    b.beatmapset_id,
    b.checksum AS md5,
    b.bpm,
    b.ar,
    b.cs,
    b.od,
    b.hp,
    b.difficulty_rating AS star_rating,
    b.hit_length,
    b.total_length,
    b.total_length - b.hit_length AS break_time,
    (b.total_length - b.hit_length) / nullif(b.total_length, 0) AS break_ratio,
    b.count_circles AS n_circles,
    b.count_sliders AS n_sliders,
    b.count_spinners AS n_spinners,
    b.count_sliders / nullif(b.count_circles + b.count_sliders, 0) AS slider_ratio,
    b.max_combo,
    CASE s.genre_id
        {%- for id, name in var('genre_names').items() %}
        WHEN {{ id | int }} THEN {{ name | sql }}
        {%- endfor %}
        ELSE 'unknown'
    END AS genre,
    {%- for word in var('tag_keywords') %}
    coalesce(regexp_matches(s.tags, {{ word | tag_regex | sql }}, 'i'), false) AS {{ ('has_tag_' ~ word) | identifier }},
    {%- endfor %}
    coalesce(b.status, s.status) AS status
FROM maps AS b
LEFT JOIN {{ ref('beatmapsets') }} AS s ON s.beatmapset_id = b.beatmapset_id
