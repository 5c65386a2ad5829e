/* kiai
materialized = "view"
description = "One row per beatmapset id, from the nested `beatmapset` of the latest /api/v2/beatmaps response that holds one of its maps."
[columns.beatmapset_id]
description = "osu! beatmapset id"
tests = ["not_null", "unique"]
[columns.tags]
description = "space-separated tags as sent"
[columns.genre_id]
description = "1 Unspecified, 2 Video Game, 3 Anime, 4 Rock, 5 Pop, 6 Other, 7 Novelty, 9 Hip Hop, 10 Electronic, 11 Metal, 12 Classical, 13 Folk, 14 Jazz (NULL in older bodies)"
[columns.language_id]
description = "1 Unspecified, 2 English, 3 Japanese, ... 14 Other (NULL in older bodies)"
*/
WITH items AS (
    SELECT r.response_id, r.fetched_at, unnest(CAST(r.body -> '$.beatmaps' AS JSON[])) AS b
    FROM raw.api_responses AS r
    WHERE {{ is_endpoint('beatmaps', 'r') }} AND r.http_status = 200
),
sets AS (
    SELECT response_id, fetched_at, b -> '$.beatmapset' AS s FROM items WHERE (b -> '$.beatmapset') IS NOT NULL
)
SELECT
    CAST(s ->> 'id' AS BIGINT) AS beatmapset_id,
    s ->> 'artist' AS artist,
    s ->> 'artist_unicode' AS artist_unicode,
    s ->> 'title' AS title,
    s ->> 'title_unicode' AS title_unicode,
    s ->> 'creator' AS creator,
    CAST(s ->> 'user_id' AS BIGINT) AS user_id,
    s ->> 'source' AS source,
    s ->> 'tags' AS tags,
    CAST(s ->> 'genre_id' AS INTEGER) AS genre_id,
    CAST(s ->> 'language_id' AS INTEGER) AS language_id,
    CAST(s ->> 'bpm' AS DOUBLE) AS bpm,
    s ->> 'status' AS status,
    CAST(s ->> 'ranked' AS TINYINT) AS ranked,
    TRY_CAST(s ->> 'ranked_date' AS TIMESTAMP) AS ranked_date,
    TRY_CAST(s ->> 'submitted_date' AS TIMESTAMP) AS submitted_date,
    TRY_CAST(s ->> 'last_updated' AS TIMESTAMP) AS last_updated,
    CAST(s ->> 'favourite_count' AS BIGINT) AS favourite_count,
    CAST(s ->> 'play_count' AS BIGINT) AS play_count,
    CAST(s ->> 'nsfw' AS BOOLEAN) AS nsfw,
    CAST(s ->> 'video' AS BOOLEAN) AS video,
    CAST(s ->> 'storyboard' AS BOOLEAN) AS storyboard,
    CAST(s -> '$.ratings' AS INTEGER[]) AS ratings,
    response_id,
    fetched_at
FROM sets
QUALIFY row_number() OVER (PARTITION BY beatmapset_id ORDER BY fetched_at DESC, response_id DESC) = 1
