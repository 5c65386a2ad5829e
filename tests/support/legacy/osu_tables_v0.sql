CREATE TABLE IF NOT EXISTS raw.osu_files (
    md5          VARCHAR NOT NULL,   -- md5 of the exact bytes (= the API's checksum)
    beatmap_id   BIGINT,             -- from the file, else from a {id}.osu name, else NULL
    path         VARCHAR,            -- where it was read from (archive members as archive::member)
    size_bytes   BIGINT NOT NULL,
    content      BLOB NOT NULL,      -- the file's exact bytes
    ingested_at  TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS parsed.beatmap_files (
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
    md5 VARCHAR NOT NULL, object_index INTEGER NOT NULL,
    time_ms INTEGER NOT NULL, x INTEGER NOT NULL, y INTEGER NOT NULL,
    kind VARCHAR NOT NULL,               -- circle | slider | spinner | hold
    new_combo BOOLEAN NOT NULL, combo_skip TINYINT NOT NULL, hit_sound SMALLINT,
    end_time_ms INTEGER,                 -- slider (computed), spinner and hold ends; = time_ms for circles
    slides INTEGER, length DOUBLE,       -- sliders only
    curve_type VARCHAR,                  -- B | C | L | P, sliders only
    curve_points VARCHAR                 -- the slider's control points as written, e.g. 32:192|64:192
);
CREATE TABLE IF NOT EXISTS parsed.timing_points (
    md5 VARCHAR NOT NULL, point_index INTEGER NOT NULL,
    time_ms DOUBLE NOT NULL, beat_length DOUBLE NOT NULL,
    meter INTEGER, sample_set INTEGER, sample_index INTEGER, volume INTEGER,
    uninherited BOOLEAN NOT NULL, effects INTEGER NOT NULL, kiai BOOLEAN NOT NULL
);
CREATE TABLE IF NOT EXISTS parsed.breaks (
    md5 VARCHAR NOT NULL, start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS parsed.parse_errors (
    md5 VARCHAR NOT NULL, path VARCHAR, error VARCHAR NOT NULL,
    parser_version INTEGER NOT NULL, seen_at TIMESTAMP NOT NULL
);
