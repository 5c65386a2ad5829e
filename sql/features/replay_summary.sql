/* kiai
description = """
One row per replay (parsed.replays, every mode): who played it, how it aimed and timed its presses
(from features.replay_hits) and how often it recorded the cursor. A replay without its beatmap parsed, or of a
mode other than osu!standard, has its row with `hits_status` saying so and no aim or timing figures: it is
counted, never dropped.

- Aim: the cursor's distance from each circle and slider head at its time (osu! px), its mean and 90th
  percentile, and the mean of dx and dy (a bias); objects with no cursor position (after a failed play's end)
  are left out.
- Timing: the press offsets of the objects pressed within their hit window, in ms of play (map ms / 1.5
  under DT and NC, / 0.75 under HT, as osu! shows the unstable rate); unstable rate = 10 x their standard
  deviation (population, as osu!). Lazer's custom rates (a mod's speed_change) are not applied.
- The player's user id comes from the dump's scores (staging.scores) through the score id or the legacy
  score id; NULL when the dump has no such score.
"""
[counts]
without_beatmap = "SELECT count(*) FROM {{ this }} WHERE hits_status = 'beatmap not parsed'"
other_modes = "SELECT count(*) FROM {{ this }} WHERE hits_status = 'mode not measured'"

[columns.replay_id]
description = "the replay (parsed.replays.replay_id)"
tests = ["not_null", "unique"]
[columns.score_id]
description = "scores.id: the replay's, else the dump's score with its legacy id"
[columns.legacy_score_id]
description = "the stable score id: the replay's, else the dump's"
[columns.user_id]
description = "the player's osu! user id, from the dump's scores; NULL when the dump has not the score"
[columns.player]
description = "the player's name as the replay header gives it"
[columns.beatmap_md5]
description = "md5 of the replayed .osu file"
[columns.file_id]
description = "parsed.beatmap_files.file_id of that file; NULL when it is not parsed"
[columns.mode]
description = "0 osu, 1 taiko, 2 catch, 3 mania"
[columns.mod_acronyms]
description = "the replay's mods, e.g. [HD, DT]"
[columns.rate]
description = "the play's speed: 1.5 under DT/NC, 0.75 under HT, else 1"
[columns.hits_status]
description = "measured | beatmap not parsed | mode not measured (only osu!standard replays are measured)"
tests = ["not_null", {accepted_values = {values = ["measured", "beatmap not parsed", "mode not measured"]}}]
[columns.n_objects]
description = "circles and slider heads of the map (the objects judged by a press)"
[columns.n_pressed]
description = "of them, those with a press within their hit window"
[columns.pressed_share]
description = "n_pressed / n_objects"
tests = [{accepted_range = {min = 0, max = 1}}]
[columns.aim_dx_mean]
description = "mean of cursor x - object x (osu! px): a horizontal aim bias"
[columns.aim_dy_mean]
description = "mean of cursor y - object y (osu! px), on the playfield as played (HR flipped)"
[columns.aim_error_mean]
description = "mean distance of the cursor from the objects' centres (osu! px)"
tests = [{accepted_range = {min = 0}}]
[columns.aim_error_p90]
description = "90th percentile of that distance (osu! px)"
tests = [{accepted_range = {min = 0}}]
[columns.offset_mean_ms]
description = "mean press offset (ms of play; > 0 is late)"
[columns.offset_std_ms]
description = "standard deviation of the press offsets (ms of play, population)"
tests = [{accepted_range = {min = 0}}]
[columns.unstable_rate]
description = "10 x offset_std_ms, osu!'s unstable rate"
tests = [{accepted_range = {min = 0}}]
[columns.n_frames]
description = "frames of the replay"
tests = ["not_null"]
[columns.duration_s]
description = "from the first frame to the last, in seconds of play"
[columns.frames_per_second]
description = "(n_frames - 1) / duration_s: how often the replay recorded the cursor; NULL for a replay of one instant"
*/
WITH played AS (
    SELECT
        r.replay_id,
        coalesce(r.score_id, by_legacy.score_id) AS score_id,
        coalesce(r.legacy_score_id, by_id.legacy_score_id) AS legacy_score_id,
        coalesce(by_id.user_id, by_legacy.user_id) AS user_id,
        r.player,
        r.beatmap_md5,
        f.file_id,
        r.mode,
        r.mod_acronyms,
        CAST(CASE WHEN (r.mods & (64 | 512)) <> 0 THEN 1.5 WHEN (r.mods & 256) <> 0 THEN 0.75 ELSE 1 END AS DOUBLE)
            AS rate,
        CASE
            WHEN r.mode <> 0 THEN 'mode not measured'
            WHEN f.file_id IS NULL THEN 'beatmap not parsed'
            ELSE 'measured'
        END AS hits_status
    FROM parsed.replays AS r
    LEFT JOIN parsed.beatmap_files AS f ON f.md5 = r.beatmap_md5 AND f.mode = 0
    LEFT JOIN {{ ref('scores') }} AS by_id ON by_id.score_id = r.score_id
    LEFT JOIN {{ ref('scores') }} AS by_legacy ON by_legacy.legacy_score_id = r.legacy_score_id
        AND r.score_id IS NULL
),
frames AS (
    SELECT replay_id, count(*) AS n_frames, min(time_ms) AS first_ms, max(time_ms) AS last_ms
    FROM parsed.replay_frames
    GROUP BY replay_id
),
hits AS (
    SELECT
        h.replay_id,
        count(*) AS n_objects,
        count(h.press_offset_ms) AS n_pressed,
        avg(h.dx) AS aim_dx_mean,
        avg(h.dy) AS aim_dy_mean,
        avg(h.distance) AS aim_error_mean,
        quantile_cont(h.distance, 0.9) AS aim_error_p90,
        avg(h.press_offset_ms / r.rate) AS offset_mean_ms,
        stddev_pop(h.press_offset_ms / r.rate) AS offset_std_ms
    FROM {{ ref('replay_hits') }} AS h
    JOIN played AS r USING (replay_id)
    WHERE h.kind <> 'spinner'
    GROUP BY h.replay_id
)
SELECT
    r.replay_id,
    r.score_id,
    r.legacy_score_id,
    r.user_id,
    r.player,
    r.beatmap_md5,
    r.file_id,
    r.mode,
    r.mod_acronyms,
    r.rate,
    r.hits_status,
    h.n_objects,
    h.n_pressed,
    CAST(h.n_pressed AS DOUBLE) / nullif(h.n_objects, 0) AS pressed_share,
    h.aim_dx_mean,
    h.aim_dy_mean,
    h.aim_error_mean,
    h.aim_error_p90,
    h.offset_mean_ms,
    h.offset_std_ms,
    10 * h.offset_std_ms AS unstable_rate,
    coalesce(fr.n_frames, 0) AS n_frames,
    (fr.last_ms - fr.first_ms) / r.rate / 1000 AS duration_s,
    (fr.n_frames - 1) * 1000 * r.rate / nullif(fr.last_ms - fr.first_ms, 0) AS frames_per_second
FROM played AS r
LEFT JOIN hits AS h USING (replay_id)
LEFT JOIN frames AS fr USING (replay_id)
