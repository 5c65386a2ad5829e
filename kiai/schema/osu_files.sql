-- The .osu landing tables (schema version 5; version 1 made the layout, 5 added the steps): raw file bytes keyed by md5, and the parsed sections.
-- A file's parsed rows are keyed by its integer file_id (parsed.beatmap_files holds md5 <-> file_id):
-- a 32-character md5 on every hit object was half of what storing them cost, and every model sorts
-- and joins on the integer. Idempotent: kiai runs it whenever it lands files.

CREATE TABLE IF NOT EXISTS raw.osu_files (
    md5          VARCHAR NOT NULL,   -- md5 of the exact bytes (= the API's checksum)
    beatmap_id   BIGINT,             -- from the file, else from a {id}.osu name, else NULL
    path         VARCHAR,            -- where it was read from (archive members as archive::member)
    size_bytes   BIGINT NOT NULL,
    content      BLOB NOT NULL,      -- the file's exact bytes
    ingested_at  TIMESTAMP NOT NULL
);

-- file ids are never reused, also after a file's rows are deleted
CREATE SEQUENCE IF NOT EXISTS parsed.file_ids;
CREATE TYPE IF NOT EXISTS parsed.hit_object_kind AS ENUM ('circle', 'slider', 'spinner', 'hold');
CREATE TYPE IF NOT EXISTS parsed.curve_type AS ENUM ('B', 'C', 'L', 'P');

CREATE TABLE IF NOT EXISTS parsed.beatmap_files (
    file_id INTEGER NOT NULL,            -- assigned at ingest, kept for the life of the warehouse
    md5 VARCHAR NOT NULL, beatmap_id BIGINT, beatmapset_id BIGINT,
    format_version INTEGER, mode TINYINT,
    title VARCHAR, title_unicode VARCHAR, artist VARCHAR, artist_unicode VARCHAR,
    creator VARCHAR, version VARCHAR, source VARCHAR, tags VARCHAR,
    hp DOUBLE, cs DOUBLE, od DOUBLE, ar DOUBLE,
    slider_multiplier DOUBLE, slider_tick_rate DOUBLE, stack_leniency DOUBLE,
    audio_lead_in INTEGER, preview_time INTEGER,
    n_circles INTEGER, n_sliders INTEGER, n_spinners INTEGER, n_holds INTEGER,
    n_timing_points INTEGER, n_breaks INTEGER, skipped_lines INTEGER,
    parser_version INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS parsed.hit_objects (
    file_id INTEGER NOT NULL, object_index INTEGER NOT NULL,
    time_ms INTEGER NOT NULL, x INTEGER NOT NULL, y INTEGER NOT NULL,
    kind parsed.hit_object_kind NOT NULL,
    new_combo BOOLEAN NOT NULL, combo_skip TINYINT NOT NULL, hit_sound SMALLINT,
    end_time_ms INTEGER,                 -- slider (computed), spinner and hold ends; = time_ms for circles
    slides INTEGER, length DOUBLE,       -- sliders only
    curve_type parsed.curve_type,        -- sliders only
    curve_points VARCHAR,                -- the slider's control points as written, e.g. 32:192|64:192
    -- the timing osu! applies at the object's start (osu!'s same-timestamp rule: kiai/osu/timing.py)
    beat_length DOUBLE,                  -- ms per beat of the active uninherited point; NULL: the file sets none
    slider_velocity DOUBLE NOT NULL,     -- of the active inherited point (0.1-10), 1 when none applies
    kiai BOOLEAN NOT NULL,
    -- the step into the object from the one before it in time order, ties in file order (ORDER BY time_ms,
    -- object_index): the order every feature model takes objects in, so none needs a window for it
    time_order INTEGER NOT NULL,         -- the object's place in that order, from 0
    interval_ms BIGINT,                  -- ms since the previous object's start; NULL for the first
    distance_sq DOUBLE,                  -- squared osu! px from the previous object (sqrt() is the distance; stored
                                         -- squared, a whole number: a third of the space); NULL for the first, or
                                         -- when either is a spinner
    previous_kiai BOOLEAN                -- kiai is on at the previous object; NULL for the first
);

CREATE TABLE IF NOT EXISTS parsed.timing_points (
    file_id INTEGER NOT NULL, point_index INTEGER NOT NULL,
    time_ms DOUBLE NOT NULL, beat_length DOUBLE NOT NULL,
    meter INTEGER, sample_set INTEGER, sample_index INTEGER, volume INTEGER,
    uninherited BOOLEAN NOT NULL, effects INTEGER NOT NULL, kiai BOOLEAN NOT NULL,  -- kiai: this line's bit 0
    timing_applies BOOLEAN NOT NULL,     -- this line sets the beat length from its time (one per timestamp)
    effects_apply BOOLEAN NOT NULL       -- this line sets the velocity and effects (kiai) from its time
);

CREATE TABLE IF NOT EXISTS parsed.breaks (
    file_id INTEGER NOT NULL, start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS parsed.parse_errors (
    md5 VARCHAR NOT NULL, path VARCHAR, error VARCHAR NOT NULL,
    parser_version INTEGER NOT NULL, seen_at TIMESTAMP NOT NULL
);
