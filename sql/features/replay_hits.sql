/* kiai
description = """
Each hit object of a replayed beatmap as the replay played it: one row per (osu!standard replay, hit
object) when the replay's beatmap is parsed (parsed.replays.beatmap_md5 = parsed.beatmap_files.md5).
Positions are osu! pixels on the 512x384 playfield; times are the map's ms.

- Frame times are map times, under DT/NC and HT as well: osu! records the position of the music, so the
  frames of a DT play are about 25 ms of map apart for its 16.7 ms of play (tests/fixtures/osr/taiko.osr, NC:
  deltas of 25-29 ms where replays without a rate mod have 16-17). Object times are compared with frame times
  as they are; only features.replay_summary turns offsets into ms of play.
- HR flips the playfield: an object at (x, y) is played at (x, 384 - y). Stacked objects keep the position
  the file gives (osu! shifts each by a few pixels); lazer's Mirror is not applied.
- The cursor at an object's start is interpolated linearly between the last frame at or before that time and
  the first frame after it (frames in time order, then file order); NULL when the replay has no frame on one
  side (a failed play's objects after its end).
- A press is a frame where any of M1, M2, K1, K2 goes from up to down against the frame before it (smoke
  does not count). The press offset is the nearest press's time minus the object's (the earlier one when two
  are as near), kept when it is within the 50 window, as osu! computes it: floor(200 - 10 * OD) - 0.5 ms with
  OD x 1.4 (at most 10) under HR, OD / 2 under EZ, in map ms under every rate. osu! itself judges the first
  press in the window, which a press is not used for twice; this is the nearest.
- Spinners have a row with the cursor position but no distance or press offset: neither is judged.
"""
[counts]
replays_without_beatmap = "SELECT count(*) FROM parsed.replays AS r WHERE r.mode = 0 AND NOT EXISTS (SELECT 1 FROM parsed.beatmap_files AS f WHERE f.md5 = r.beatmap_md5 AND f.mode = 0)"
other_modes_left_out = "SELECT count(*) FROM parsed.replays WHERE mode <> 0"

[columns.replay_id]
description = "the replay (parsed.replays.replay_id)"
tests = ["not_null", {relationships = {to = "parsed.replays", field = "replay_id"}}]
[columns.file_id]
description = "the replayed beatmap file (parsed.beatmap_files.file_id)"
tests = ["not_null"]
[columns.object_index]
description = "the object's index in its file (parsed.hit_objects.object_index)"
tests = ["not_null"]
[columns.kind]
description = "circle, slider or spinner (VARCHAR)"
[columns.time_ms]
description = "the object's start (ms of map)"
[columns.object_x]
description = "the object's x as played (osu! px)"
[columns.object_y]
description = "the object's y as played: 384 - y under HR"
[columns.cursor_x]
description = "the cursor's x at the object's start, interpolated between the frames around it; NULL without a frame on both sides"
[columns.cursor_y]
description = "the cursor's y at the object's start"
[columns.dx]
description = "cursor_x - object_x (circles and slider heads)"
[columns.dy]
description = "cursor_y - object_y (circles and slider heads)"
[columns.distance]
description = "the cursor's distance from the object's centre (osu! px); NULL for spinners"
tests = [{accepted_range = {min = 0}}]
[columns.hit_window_ms]
description = "the 50 window: a press at most this far from the object's time can hit it (ms of map)"
tests = [{accepted_range = {min = 0}}]
[columns.press_offset_ms]
description = "the nearest press's time minus the object's (ms of map; > 0 is late), when within the hit window; NULL for spinners"
[columns.pressed]
description = "a press within the hit window (circles and slider heads; NULL for spinners)"
*/
WITH measured AS (
    -- osu!standard replays of a parsed file, with what their mods change: HR flips the playfield and
    -- makes OD x 1.4 (at most 10), EZ halves it (a file without OD has osu!'s 5)
    SELECT
        r.replay_id,
        f.file_id,
        (r.mods & 16) <> 0 AS hard_rock,
        CASE
            WHEN (r.mods & 16) <> 0 THEN least(coalesce(f.od, 5) * 1.4, 10)
            WHEN (r.mods & 2) <> 0 THEN coalesce(f.od, 5) / 2
            ELSE coalesce(f.od, 5)
        END AS od
    FROM parsed.replays AS r
    JOIN parsed.beatmap_files AS f ON f.md5 = r.beatmap_md5
    WHERE r.mode = 0 AND f.mode = 0
),
objects AS (
    SELECT
        r.replay_id,
        r.file_id,
        o.object_index,
        o.kind,
        o.time_ms,
        CAST(o.x AS DOUBLE) AS x,
        CAST(CASE WHEN r.hard_rock THEN 384 - o.y ELSE o.y END AS DOUBLE) AS y,
        CAST(floor(200 - 10 * r.od) - 0.5 AS DOUBLE) AS hit_window_ms
    FROM measured AS r
    JOIN parsed.hit_objects AS o USING (file_id)
),
frames AS (
    -- press_time: the frame's time where a key goes down (smoke, 16, is not a key)
    SELECT
        replay_id,
        frame_index,
        time_ms,
        CAST(x AS DOUBLE) AS x,
        CAST(y AS DOUBLE) AS y,
        CASE
            WHEN ((keys & 15) & ~lag(keys & 15, 1, 0) OVER (PARTITION BY replay_id ORDER BY frame_index)) <> 0
            THEN time_ms
        END AS press_time
    FROM parsed.replay_frames
    WHERE replay_id IN (SELECT replay_id FROM measured)
),
timeline AS (
    -- a replay's frames and objects on one clock; an object comes after the frames at its time
    SELECT
        replay_id, time_ms, 0 AS is_object, frame_index AS seq,
        time_ms AS frame_time, x AS frame_x, y AS frame_y, press_time,
        NULL AS file_id, NULL AS kind, NULL AS x, NULL AS y, NULL AS hit_window_ms
    FROM frames
    UNION ALL
    SELECT
        replay_id, time_ms, 1, object_index,
        NULL, NULL, NULL, NULL,
        file_id, kind, x, y, hit_window_ms
    FROM objects
),
around AS (
    -- for each object: the frame at or before it (t0), the frame after it (t1), the presses either side
    SELECT
        replay_id, file_id, seq AS object_index, kind, time_ms, x, y, hit_window_ms, is_object,
        last_value(frame_time IGNORE NULLS) OVER before AS t0,
        last_value(frame_x IGNORE NULLS) OVER before AS x0,
        last_value(frame_y IGNORE NULLS) OVER before AS y0,
        first_value(frame_time IGNORE NULLS) OVER after AS t1,
        first_value(frame_x IGNORE NULLS) OVER after AS x1,
        first_value(frame_y IGNORE NULLS) OVER after AS y1,
        last_value(press_time IGNORE NULLS) OVER before AS press_before,
        first_value(press_time IGNORE NULLS) OVER after AS press_after
    FROM timeline
    WINDOW
        before AS (
            PARTITION BY replay_id ORDER BY time_ms, is_object, seq ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ),
        after AS (
            PARTITION BY replay_id ORDER BY time_ms, is_object, seq ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING
        )
),
played AS (
    SELECT
        replay_id, file_id, object_index, kind, time_ms, x, y, hit_window_ms,
        CASE
            WHEN t0 = time_ms THEN x0
            WHEN t1 IS NOT NULL THEN x0 + (x1 - x0) * (time_ms - t0) / (t1 - t0)
        END AS cursor_x,
        CASE
            WHEN t0 = time_ms THEN y0
            WHEN t1 IS NOT NULL THEN y0 + (y1 - y0) * (time_ms - t0) / (t1 - t0)
        END AS cursor_y,
        CASE
            WHEN press_before IS NULL OR press_after - time_ms < time_ms - press_before THEN press_after - time_ms
            ELSE press_before - time_ms
        END AS nearest_press
    FROM around
    WHERE is_object = 1
)
SELECT
    replay_id,
    CAST(file_id AS INTEGER) AS file_id,
    CAST(object_index AS INTEGER) AS object_index,
    CAST(kind AS VARCHAR) AS kind,  -- text: every engine reads it alike (parsed.hit_objects' is an ENUM)
    CAST(time_ms AS INTEGER) AS time_ms,
    x AS object_x,
    y AS object_y,
    cursor_x,
    cursor_y,
    CASE WHEN kind <> 'spinner' THEN cursor_x - x END AS dx,
    CASE WHEN kind <> 'spinner' THEN cursor_y - y END AS dy,
    CASE WHEN kind <> 'spinner' THEN sqrt((cursor_x - x) * (cursor_x - x) + (cursor_y - y) * (cursor_y - y)) END
        AS distance,
    hit_window_ms,
    CASE WHEN kind <> 'spinner' AND abs(nearest_press) <= hit_window_ms THEN CAST(nearest_press AS INTEGER) END
        AS press_offset_ms,
    CASE WHEN kind <> 'spinner' THEN coalesce(abs(nearest_press) <= hit_window_ms, false) END AS pressed
FROM played
