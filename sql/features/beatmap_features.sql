/* kiai
description = """
Both feature tiers side by side: one row per osu!standard beatmap known from the API (api_features)
and/or from a parsed file (file_features). A file is matched by its BeatmapID, or by its md5 equal to
the API's checksum when the file has no id; when several files match one beatmap, the one whose md5 is
the API's checksum wins. Tier-1 columns are NULL for maps the API has not answered for, tier-2 columns
for maps without a parsed file.
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
    SELECT files.*
    FROM files
    LEFT JOIN api ON api.beatmap_id = files.beatmap_id
    QUALIFY files.beatmap_id IS NULL
        OR row_number() OVER (
            PARTITION BY files.beatmap_id ORDER BY files.md5 IS NOT DISTINCT FROM api.md5 DESC, files.md5
        ) = 1
)
SELECT
    coalesce(a.beatmap_id, f.beatmap_id) AS beatmap_id,
    coalesce(a.beatmapset_id, f.file_beatmapset_id) AS beatmapset_id,
    coalesce(f.md5, a.md5) AS md5,
    a.* EXCLUDE (beatmap_id, beatmapset_id, md5),
    f.* EXCLUDE (beatmap_id, md5, file_beatmapset_id)
FROM api AS a
FULL OUTER JOIN one_file AS f ON f.beatmap_id = a.beatmap_id
