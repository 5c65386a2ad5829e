/* kiai
description = """
Tier-3 features: what the players of the data.ppy.sh dump do with a beatmap, the signals behind a "farm
map" that no geometry shows. One row per beatmap with at least one osu!standard score (ruleset 0) in
staging.scores; scores of other rulesets (converts played in taiko, catch or mania) are left out and
counted in the build log. Shares and quantiles are over the map's scores in the dump, except
score_top_play_share, which is over its players. A player's top plays are their var score_top_plays
best beatmaps by pp among their osu!standard scores in the dump (a beatmap counts once, by its best
score; ties by beatmap id; a score without pp is never a top play), as osu! ranks a profile's best
performance. DT includes NC (Nightcore is DT with pitch), HT includes DC.
"""
[counts]
other_rulesets_left_out = "SELECT count(*) FROM {{ ref('scores') }} WHERE ruleset_id IS DISTINCT FROM 0"

[columns.beatmap_id]
tests = ["not_null", "unique"]
[columns.score_count]
description = "osu!standard scores of the beatmap in the dump"
tests = [{accepted_range = {min = 1}}]
[columns.score_players]
description = "distinct players with the beatmap among their osu!standard scores in the dump"
tests = [{accepted_range = {min = 1}}]
[columns.score_top_play_share]
description = "share of those players for whom it is one of their var score_top_plays best beatmaps by pp"
tests = [{accepted_range = {min = 0, max = 1}}]
[columns.score_pp_median]
description = "median pp of its scores (scores without pp left out; NULL when none has pp)"
[columns.score_pp_p90]
description = "90th percentile of that pp (linear interpolation, as quantile_cont)"
[columns.score_pp_per_drain_minute]
description = "median over its scores of pp per minute of drain time as played: the API's hit_length, divided by 1.5 with DT/NC and by 0.75 with HT/DC (each mod's default rate; a lazer speed_change setting is not read); NULL without the API's hit_length"
[columns.score_accuracy_median]
description = "median accuracy (0-1) of its scores"
tests = [{accepted_range = {min = 0, max = 1}}]
[columns.score_dt_hr_share]
description = "share of its scores with DT (or NC) or HR"
tests = [{accepted_range = {min = 0, max = 1}}]
[columns.score_pass_share]
description = "share of its scores that passed"
tests = [{accepted_range = {min = 0, max = 1}}]
*/
WITH scores AS (
    SELECT score_id, user_id, beatmap_id, pp, accuracy, passed, mod_dt, mod_hr, mod_ht
    FROM {{ ref('scores') }}
    WHERE ruleset_id = 0
),
best AS (
    -- each player's best pp on each beatmap they played
    SELECT user_id, beatmap_id, max(pp) AS pp
    FROM scores
    GROUP BY user_id, beatmap_id
),
ranked AS (
    SELECT
        beatmap_id,
        pp IS NOT NULL
            AND row_number() OVER (PARTITION BY user_id ORDER BY pp DESC NULLS LAST, beatmap_id)
                <= {{ var('score_top_plays') | int }} AS top_play
    FROM best
),
players AS (
    SELECT beatmap_id, count(*) AS score_players, avg(CAST(top_play AS DOUBLE)) AS score_top_play_share
    FROM ranked
    GROUP BY beatmap_id
),
plays AS (
    SELECT
        s.beatmap_id,
        count(*) AS score_count,
        quantile_cont(CAST(s.pp AS DOUBLE), 0.5) AS score_pp_median,
        quantile_cont(CAST(s.pp AS DOUBLE), 0.9) AS score_pp_p90,
        quantile_cont(
            CAST(s.pp AS DOUBLE) * 60
            * CASE WHEN s.mod_dt THEN 1.5 WHEN s.mod_ht THEN 0.75 ELSE 1.0 END
            / nullif(a.hit_length, 0),
            0.5
        ) AS score_pp_per_drain_minute,
        quantile_cont(CAST(s.accuracy AS DOUBLE), 0.5) AS score_accuracy_median,
        avg(CAST(s.mod_dt OR s.mod_hr AS DOUBLE)) AS score_dt_hr_share,
        avg(CAST(s.passed AS DOUBLE)) AS score_pass_share
    FROM scores AS s
    LEFT JOIN {{ ref('api_features') }} AS a ON a.beatmap_id = s.beatmap_id
    GROUP BY s.beatmap_id
)
SELECT
    p.beatmap_id,
    p.score_count,
    u.score_players,
    u.score_top_play_share,
    p.score_pp_median,
    p.score_pp_p90,
    p.score_pp_per_drain_minute,
    p.score_accuracy_median,
    p.score_dt_hr_share,
    p.score_pass_share
FROM plays AS p
JOIN players AS u ON u.beatmap_id = p.beatmap_id
