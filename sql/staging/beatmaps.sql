/* kiai
materialized = "view"
description = "One row per beatmap id, from the latest /api/v2/beatmaps response that contains it."
[columns.beatmap_id]
description = "osu! beatmap id"
tests = ["not_null", "unique"]
[columns.beatmapset_id]
tests = ["not_null"]
[columns.checksum]
description = "md5 of the .osu file"
[columns.mode_int]
description = "ruleset: 0 osu, 1 taiko, 2 fruits, 3 mania"
tests = [{accepted_range = {min = 0, max = 3}}]
[columns.od]
description = "overall difficulty (the API's `accuracy`)"
[columns.hp]
description = "HP drain (the API's `drain`)"
[columns.ar]
tests = [{accepted_range = {min = 0, max = 11}}]
[columns.cs]
tests = [{accepted_range = {min = 0, max = 10}}]
[columns.ranked]
description = "-2 graveyard, -1 wip, 0 pending, 1 ranked, 2 approved, 3 qualified, 4 loved"
[columns.response_id]
description = "the raw.api_responses row this came from"
*/
WITH items AS (
    SELECT r.response_id, r.fetched_at, unnest(CAST(r.body -> '$.beatmaps' AS JSON[])) AS b
    FROM raw.api_responses AS r
    WHERE {{ is_endpoint('beatmaps', 'r') }} AND r.http_status = 200
)
SELECT
    CAST(b ->> 'id' AS BIGINT) AS beatmap_id,
    CAST(b ->> 'beatmapset_id' AS BIGINT) AS beatmapset_id,
    b ->> 'checksum' AS checksum,
    b ->> 'mode' AS mode,
    CAST(b ->> 'mode_int' AS TINYINT) AS mode_int,
    b ->> 'version' AS version,
    CAST(b ->> 'difficulty_rating' AS DOUBLE) AS difficulty_rating,
    CAST(b ->> 'accuracy' AS DOUBLE) AS od,
    CAST(b ->> 'ar' AS DOUBLE) AS ar,
    CAST(b ->> 'cs' AS DOUBLE) AS cs,
    CAST(b ->> 'drain' AS DOUBLE) AS hp,
    CAST(b ->> 'bpm' AS DOUBLE) AS bpm,
    CAST(b ->> 'total_length' AS INTEGER) AS total_length,
    CAST(b ->> 'hit_length' AS INTEGER) AS hit_length,
    CAST(b ->> 'count_circles' AS INTEGER) AS count_circles,
    CAST(b ->> 'count_sliders' AS INTEGER) AS count_sliders,
    CAST(b ->> 'count_spinners' AS INTEGER) AS count_spinners,
    CAST(b ->> 'max_combo' AS INTEGER) AS max_combo,
    b ->> 'status' AS status,
    CAST(b ->> 'ranked' AS TINYINT) AS ranked,
    CAST(b ->> 'is_scoreable' AS BOOLEAN) AS is_scoreable,
    CAST(b ->> 'convert' AS BOOLEAN) AS is_convert,
    CAST(b ->> 'passcount' AS BIGINT) AS passcount,
    CAST(b ->> 'playcount' AS BIGINT) AS playcount,
    CAST(b ->> 'user_id' AS BIGINT) AS user_id,
    TRY_CAST(b ->> 'last_updated' AS TIMESTAMP) AS last_updated,
    TRY_CAST(b ->> 'deleted_at' AS TIMESTAMP) AS deleted_at,
    b ->> 'url' AS url,
    response_id,
    fetched_at
FROM items
QUALIFY row_number() OVER (PARTITION BY beatmap_id ORDER BY fetched_at DESC, response_id DESC) = 1
