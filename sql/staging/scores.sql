/* kiai
description = "One row per score of the data.ppy.sh dump (ppy.scores), typed: ids with the beatmapset through ppy.osu_beatmaps, the mods of `data` as acronyms and flags, its hit statistics as counts. Lines up with staging.user_scores: the same names for the same facts, so one query can union them (UNION ALL BY NAME). Keys of `data` without a column here are kept in data_extra."
[columns.score_id]
description = "scores.id, the solo score id (= staging.user_scores.score_id in the API's new format)"
tests = ["not_null", "unique"]
[columns.legacy_score_id]
description = "= osu_scores_high.score_id for a score imported from osu!stable; NULL for a lazer score"
[columns.user_id]
tests = ["not_null"]
[columns.beatmap_id]
tests = ["not_null"]
[columns.beatmapset_id]
description = "from ppy.osu_beatmaps; NULL when the dump has no row for the beatmap"
[columns.ruleset_id]
description = "0 osu, 1 taiko, 2 fruits, 3 mania"
tests = [{accepted_range = {min = 0, max = 3}}]
[columns.accuracy]
tests = [{accepted_range = {min = 0, max = 1}}]
[columns.total_score]
description = "lazer's standardised total score"
[columns.legacy_total_score]
description = "osu!stable's score (0 for a lazer score in the dump)"
[columns.mod_acronyms]
description = "the mods of data.mods, in order: ['HD', 'DT', 'CL']"
[columns.mod_dt]
description = "DT or NC (Nightcore is DT with pitch)"
[columns.mod_ht]
description = "HT or DC (Daycore is HT with pitch)"
[columns.mods]
description = "data.mods as JSON, with each mod's settings (speed_change, …)"
[columns.count_great]
description = "statistics.great (300s); the dump leaves zero counts out: 0 here"
[columns.statistics]
description = "data.statistics as JSON: every hit result, also those without a count_ column"
[columns.data_extra]
description = "the keys of data other than mods, statistics, maximum_statistics and total_score_without_mods (NULL if none)"
[columns.updated_at]
description = "scores.unix_updated_at as a UTC timestamp"
*/
WITH s AS (
    SELECT
        s.*,
        coalesce(list_transform(CAST(s.data -> '$.mods' AS JSON[]), lambda m: m ->> 'acronym'), []) AS acronyms
    FROM ppy.scores AS s
)
SELECT
    CAST(s.id AS BIGINT) AS score_id,
    CAST(s.legacy_score_id AS BIGINT) AS legacy_score_id,
    CAST(s.user_id AS BIGINT) AS user_id,
    CAST(s.beatmap_id AS BIGINT) AS beatmap_id,
    CAST(b.beatmapset_id AS BIGINT) AS beatmapset_id,
    CAST(s.ruleset_id AS TINYINT) AS ruleset_id,
    s.rank,
    s.accuracy,
    s.pp,
    CAST(s.max_combo AS INTEGER) AS max_combo,
    CAST(s.total_score AS BIGINT) AS total_score,
    CAST(s.legacy_total_score AS BIGINT) AS legacy_total_score,
    CAST(s.data ->> '$.total_score_without_mods' AS BIGINT) AS total_score_without_mods,
    CAST(s.passed AS BOOLEAN) AS passed,
    CAST(s.has_replay AS BOOLEAN) AS has_replay,
    s.acronyms AS mod_acronyms,
    list_contains(s.acronyms, 'HD') AS mod_hd,
    list_contains(s.acronyms, 'HR') AS mod_hr,
    list_contains(s.acronyms, 'DT') OR list_contains(s.acronyms, 'NC') AS mod_dt,
    list_contains(s.acronyms, 'FL') AS mod_fl,
    list_contains(s.acronyms, 'EZ') AS mod_ez,
    list_contains(s.acronyms, 'HT') OR list_contains(s.acronyms, 'DC') AS mod_ht,
    s.data -> '$.mods' AS mods,
    coalesce(CAST(s.data ->> '$.statistics.great' AS INTEGER), 0) AS count_great,
    coalesce(CAST(s.data ->> '$.statistics.ok' AS INTEGER), 0) AS count_ok,
    coalesce(CAST(s.data ->> '$.statistics.meh' AS INTEGER), 0) AS count_meh,
    coalesce(CAST(s.data ->> '$.statistics.miss' AS INTEGER), 0) AS count_miss,
    coalesce(CAST(s.data ->> '$.statistics.large_tick_hit' AS INTEGER), 0) AS count_large_tick_hit,
    coalesce(CAST(s.data ->> '$.statistics.large_tick_miss' AS INTEGER), 0) AS count_large_tick_miss,
    coalesce(CAST(s.data ->> '$.statistics.small_tick_hit' AS INTEGER), 0) AS count_small_tick_hit,
    coalesce(CAST(s.data ->> '$.statistics.small_tick_miss' AS INTEGER), 0) AS count_small_tick_miss,
    coalesce(CAST(s.data ->> '$.statistics.slider_tail_hit' AS INTEGER), 0) AS count_slider_tail_hit,
    coalesce(CAST(s.data ->> '$.statistics.large_bonus' AS INTEGER), 0) AS count_large_bonus,
    coalesce(CAST(s.data ->> '$.statistics.small_bonus' AS INTEGER), 0) AS count_small_bonus,
    s.data -> '$.statistics' AS statistics,
    s.data -> '$.maximum_statistics' AS maximum_statistics,
    CAST(nullif(
        json_merge_patch(s.data, '{"mods": null, "statistics": null, "maximum_statistics": null, "total_score_without_mods": null}'),
        '{}'
    ) AS JSON) AS data_extra,
    s.started_at,
    s.ended_at,
    epoch_ms(CAST(s.unix_updated_at AS BIGINT) * 1000) AS updated_at,
    CAST(s.build_id AS INTEGER) AS build_id,
    CAST(s.preserve AS BOOLEAN) AS preserve,
    CAST(s.ranked AS BOOLEAN) AS ranked
FROM s
LEFT JOIN ppy.osu_beatmaps AS b ON b.beatmap_id = s.beatmap_id
