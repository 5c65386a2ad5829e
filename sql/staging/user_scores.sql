/* kiai
materialized = "view"
description = "One row per (score list, user, score id) from the latest /api/v2/users/{user}/scores/{type} page holding it. New-format fields (x-api-version 20220705) with fallbacks to the legacy format."
[columns.score_id]
description = "solo score id (= scores.id in the dump) in the new format; the legacy id in the old one"
tests = ["not_null"]
[columns.list_type]
description = "best | firsts | pinned | recent"
tests = ["not_null"]
[columns.user_id]
tests = ["not_null"]
[columns.beatmap_id]
tests = ["not_null"]
[columns.legacy_score_id]
description = "= osu_scores_high.score_id in the dump (NULL for lazer-only scores)"
[columns.accuracy]
tests = [{accepted_range = {min = 0, max = 1}}]
*/
WITH items AS (
    SELECT
        r.response_id,
        r.fetched_at,
        r.params ->> 'type' AS list_type,
        CAST(r.params ->> 'user_id' AS BIGINT) AS list_user_id,
        unnest(CAST(r.body AS JSON[])) AS s
    FROM raw.api_responses AS r
    WHERE r.source = 'osu_api' AND r.endpoint = '/api/v2/users/{user}/scores/{type}' AND r.http_status = 200
)
SELECT
    CAST(s ->> 'id' AS BIGINT) AS score_id,
    list_type,
    coalesce(CAST(s ->> 'user_id' AS BIGINT), list_user_id) AS user_id,
    coalesce(CAST(s ->> 'beatmap_id' AS BIGINT), CAST(s ->> '$.beatmap.id' AS BIGINT)) AS beatmap_id,
    coalesce(CAST(s ->> 'ruleset_id' AS TINYINT), CAST(s ->> 'mode_int' AS TINYINT)) AS ruleset_id,
    CAST(s ->> 'legacy_score_id' AS BIGINT) AS legacy_score_id,
    coalesce(CAST(s ->> 'total_score' AS BIGINT), CAST(s ->> 'score' AS BIGINT)) AS total_score,
    CAST(s ->> 'legacy_total_score' AS BIGINT) AS legacy_total_score,
    CAST(s ->> 'accuracy' AS DOUBLE) AS accuracy,
    CAST(s ->> 'max_combo' AS INTEGER) AS max_combo,
    s ->> 'rank' AS rank,
    CAST(s ->> 'pp' AS DOUBLE) AS pp,
    CAST(s ->> '$.weight.pp' AS DOUBLE) AS weighted_pp,
    CAST(s ->> 'passed' AS BOOLEAN) AS passed,
    s -> '$.mods' AS mods,
    s -> '$.statistics' AS statistics,
    s -> '$.maximum_statistics' AS maximum_statistics,
    coalesce(TRY_CAST(s ->> 'ended_at' AS TIMESTAMP), TRY_CAST(s ->> 'created_at' AS TIMESTAMP)) AS ended_at,
    s ->> 'type' AS score_format,
    response_id,
    fetched_at
FROM items
QUALIFY row_number() OVER (PARTITION BY list_type, user_id, score_id ORDER BY fetched_at DESC, response_id DESC) = 1
