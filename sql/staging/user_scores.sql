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
[columns.total_score]
description = "lazer's standardised total score (new format only)"
[columns.legacy_total_score]
description = "osu!stable's score: legacy_total_score, or `score` in the legacy format"
[columns.mod_acronyms]
description = "the mods as acronyms, from either format; mod_hd … mod_ht flag the common ones, as in staging.scores"
[columns.count_great]
description = "300s (statistics.great, or count_300 in the legacy format); the count_ columns line up with staging.scores, the lazer-only ones are NULL in the legacy format"
*/
WITH items AS (
    SELECT
        r.response_id,
        r.fetched_at,
        r.params ->> 'type' AS list_type,
        CAST(r.params ->> 'user_id' AS BIGINT) AS list_user_id,
        unnest(CAST(r.body AS JSON[])) AS s
    FROM raw.api_responses AS r
    WHERE {{ is_endpoint('user_scores', 'r') }} AND r.http_status = 200
),
scores AS (
    SELECT
        *,
        s ->> 'type' = 'solo_score' AS new_format,
        CASE
            WHEN json_type(s, '$.mods[0]') = 'VARCHAR' THEN CAST(s -> '$.mods' AS VARCHAR[])  -- legacy: ["HD", "DT"]
            ELSE coalesce(list_transform(CAST(s -> '$.mods' AS JSON[]), lambda m: m ->> 'acronym'), [])
        END AS acronyms
    FROM items
)
SELECT
    CAST(s ->> 'id' AS BIGINT) AS score_id,
    list_type,
    coalesce(CAST(s ->> 'user_id' AS BIGINT), list_user_id) AS user_id,
    coalesce(CAST(s ->> 'beatmap_id' AS BIGINT), CAST(s ->> '$.beatmap.id' AS BIGINT)) AS beatmap_id,
    coalesce(CAST(s ->> '$.beatmap.beatmapset_id' AS BIGINT), CAST(s ->> '$.beatmapset.id' AS BIGINT)) AS beatmapset_id,
    coalesce(CAST(s ->> 'ruleset_id' AS TINYINT), CAST(s ->> 'mode_int' AS TINYINT)) AS ruleset_id,
    CAST(s ->> 'legacy_score_id' AS BIGINT) AS legacy_score_id,
    CASE WHEN new_format THEN CAST(s ->> 'total_score' AS BIGINT) END AS total_score,
    CASE WHEN new_format THEN CAST(s ->> 'legacy_total_score' AS BIGINT) ELSE CAST(s ->> 'score' AS BIGINT) END
        AS legacy_total_score,
    CAST(s ->> 'accuracy' AS DOUBLE) AS accuracy,
    CAST(s ->> 'max_combo' AS INTEGER) AS max_combo,
    s ->> 'rank' AS rank,
    CAST(s ->> 'pp' AS DOUBLE) AS pp,
    CAST(s ->> '$.weight.pp' AS DOUBLE) AS weighted_pp,
    CAST(s ->> 'passed' AS BOOLEAN) AS passed,
    coalesce(CAST(s ->> 'has_replay' AS BOOLEAN), CAST(s ->> 'replay' AS BOOLEAN)) AS has_replay,
    acronyms AS mod_acronyms,
    list_contains(acronyms, 'HD') AS mod_hd,
    list_contains(acronyms, 'HR') AS mod_hr,
    list_contains(acronyms, 'DT') OR list_contains(acronyms, 'NC') AS mod_dt,
    list_contains(acronyms, 'FL') AS mod_fl,
    list_contains(acronyms, 'EZ') AS mod_ez,
    list_contains(acronyms, 'HT') OR list_contains(acronyms, 'DC') AS mod_ht,
    s -> '$.mods' AS mods,
    -- the new format names hit results and leaves zero counts out; the legacy one has count_300 …
    CASE WHEN new_format THEN coalesce(CAST(s ->> '$.statistics.great' AS INTEGER), 0)
        ELSE CAST(s ->> '$.statistics.count_300' AS INTEGER) END AS count_great,
    CASE WHEN new_format THEN coalesce(CAST(s ->> '$.statistics.ok' AS INTEGER), 0)
        ELSE CAST(s ->> '$.statistics.count_100' AS INTEGER) END AS count_ok,
    CASE WHEN new_format THEN coalesce(CAST(s ->> '$.statistics.meh' AS INTEGER), 0)
        ELSE CAST(s ->> '$.statistics.count_50' AS INTEGER) END AS count_meh,
    CASE WHEN new_format THEN coalesce(CAST(s ->> '$.statistics.miss' AS INTEGER), 0)
        ELSE CAST(s ->> '$.statistics.count_miss' AS INTEGER) END AS count_miss,
    CASE WHEN new_format THEN coalesce(CAST(s ->> '$.statistics.large_tick_hit' AS INTEGER), 0) END
        AS count_large_tick_hit,
    CASE WHEN new_format THEN coalesce(CAST(s ->> '$.statistics.large_tick_miss' AS INTEGER), 0) END
        AS count_large_tick_miss,
    CASE WHEN new_format THEN coalesce(CAST(s ->> '$.statistics.small_tick_hit' AS INTEGER), 0) END
        AS count_small_tick_hit,
    CASE WHEN new_format THEN coalesce(CAST(s ->> '$.statistics.small_tick_miss' AS INTEGER), 0) END
        AS count_small_tick_miss,
    CASE WHEN new_format THEN coalesce(CAST(s ->> '$.statistics.slider_tail_hit' AS INTEGER), 0) END
        AS count_slider_tail_hit,
    CASE WHEN new_format THEN coalesce(CAST(s ->> '$.statistics.large_bonus' AS INTEGER), 0) END AS count_large_bonus,
    CASE WHEN new_format THEN coalesce(CAST(s ->> '$.statistics.small_bonus' AS INTEGER), 0) END AS count_small_bonus,
    s -> '$.statistics' AS statistics,
    s -> '$.maximum_statistics' AS maximum_statistics,
    TRY_CAST(s ->> 'started_at' AS TIMESTAMP) AS started_at,
    coalesce(TRY_CAST(s ->> 'ended_at' AS TIMESTAMP), TRY_CAST(s ->> 'created_at' AS TIMESTAMP)) AS ended_at,
    s ->> 'type' AS score_format,
    response_id,
    fetched_at
FROM scores
QUALIFY row_number() OVER (PARTITION BY list_type, user_id, score_id ORDER BY fetched_at DESC, response_id DESC) = 1
