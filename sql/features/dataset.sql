/* kiai
description = """
The labelled dataset: one row per labelled osu!standard beatmap that has features, its label from the
categories of kiai.toml [collections] (osu!collector membership), then every feature column of
beatmap_features (numeric, BOOLEAN has_tag_* flags, VARCHAR genre and status; the tier-3 score_*
columns are NULL for maps without osu!standard scores in the data.ppy.sh dump). A beatmap in two or
more categories is listed in label_conflicts and, by var label_conflict_policy, kept under its first
category in kiai.toml order (keep_first) or left out (drop). Labelled maps of other modes or without any
API answer or parsed file are left out and counted in the build log.
"""
[counts]
labelled = "SELECT count(DISTINCT beatmap_id) FROM {{ ref('collection_members') }}"
conflicts = "SELECT count(*) FROM {{ ref('label_conflicts') }}"
left_out = "SELECT (SELECT count(DISTINCT beatmap_id) FROM {{ ref('collection_members') }}) - (SELECT count(*) FROM {{ this }})"

[columns.beatmap_id]
tests = ["not_null", "unique"]
[columns.beatmapset_id]
tests = ["not_null"]
[columns.md5]
description = "md5 of the .osu the features come from"
[columns.label]
description = "category from kiai.toml [collections]"
tests = ["not_null"]
*/
WITH labels AS (
    SELECT
        beatmap_id,
        -- deterministic: from the first membership in kiai.toml order, then collection order
        arg_min(beatmapset_id, [category_order, collection_id, position]) AS beatmapset_id,
        arg_min(checksum, [category_order, collection_id, position]) AS checksum,
        min(category) AS any_category  -- used only for maps in a single category
    FROM {{ ref('collection_members') }}
    GROUP BY beatmap_id
),
chosen AS (
    -- a map in one category keeps it; a conflicting one gets label_conflicts.kept_label (NULL: dropped)
    SELECT l.beatmap_id, l.beatmapset_id, l.checksum, coalesce(c.kept_label, l.any_category) AS label
    FROM labels AS l
    LEFT JOIN {{ ref('label_conflicts') }} AS c ON c.beatmap_id = l.beatmap_id
    WHERE c.beatmap_id IS NULL OR c.kept_label IS NOT NULL
),
features AS (
    SELECT * FROM {{ ref('beatmap_features') }}
),
matched AS (
    -- by beatmap id; a parsed file without an id by the md5 osu!collector gives
    SELECT c.beatmap_id AS label_beatmap_id, c.beatmapset_id AS label_beatmapset_id, c.label, f.*
    FROM chosen AS c JOIN features AS f ON f.beatmap_id = c.beatmap_id
    UNION ALL BY NAME
    SELECT c.beatmap_id AS label_beatmap_id, c.beatmapset_id AS label_beatmapset_id, c.label, f.*
    FROM chosen AS c JOIN features AS f ON f.beatmap_id IS NULL AND f.md5 = c.checksum
    QUALIFY row_number() OVER (PARTITION BY c.beatmap_id ORDER BY f.md5) = 1
)
SELECT
    label_beatmap_id AS beatmap_id,
    coalesce(beatmapset_id, label_beatmapset_id) AS beatmapset_id,
    md5,
    label,
    * EXCLUDE (label_beatmap_id, label_beatmapset_id, beatmap_id, beatmapset_id, md5, label)
FROM matched
QUALIFY row_number() OVER (PARTITION BY label_beatmap_id ORDER BY beatmap_id NULLS LAST) = 1
ORDER BY beatmap_id
