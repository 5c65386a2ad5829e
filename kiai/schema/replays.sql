-- The replay landing tables: raw .osr bytes keyed by md5, one parsed row per replay and its frames, the
-- replays that could not be parsed, and the queue of `kiai fetch replays`. Idempotent: kiai runs it
-- whenever it lands or fetches replays (kiai.load.replays.ensure_tables).
--
-- Ids: score_id is the osu! score id (the dump's scores.id), legacy_score_id the stable one
-- (osu_scores_high.score_id = scores.legacy_score_id). A stable replay's header carries its legacy id, a
-- lazer replay's its score id; a fetched replay also has the id it was asked by.

CREATE TABLE IF NOT EXISTS raw.replays (
    md5             VARCHAR NOT NULL,   -- md5 of the exact bytes
    score_id        BIGINT,             -- scores.id: the id it was fetched by, or a lazer header's id
    legacy_score_id BIGINT,             -- a stable header's id, or the legacy id it was fetched by
    path            VARCHAR,            -- where it was read from (archive members as archive::member)
    size_bytes      BIGINT NOT NULL,
    content         BLOB NOT NULL,      -- the file's exact bytes
    ingested_at     TIMESTAMP NOT NULL  -- UTC
);

-- replay ids are never reused, also after a replay's rows are deleted
CREATE SEQUENCE IF NOT EXISTS parsed.replay_ids;

CREATE TABLE IF NOT EXISTS parsed.replays (
    replay_id       INTEGER NOT NULL,   -- the key of parsed.replay_frames
    md5             VARCHAR NOT NULL,   -- of the .osr bytes (raw.replays)
    score_id        BIGINT,
    legacy_score_id BIGINT,
    beatmap_md5     VARCHAR,            -- joins parsed.beatmap_files.md5 and the dump's osu_beatmaps.checksum
    mode            TINYINT NOT NULL,   -- 0 osu, 1 taiko, 2 catch, 3 mania
    ruleset         VARCHAR NOT NULL,   -- osu | taiko | fruits | mania
    game_version    INTEGER NOT NULL,   -- yyyymmdd for stable, >= 30000000 for lazer
    player          VARCHAR,
    replay_md5      VARCHAR,            -- the header's hash of the play (not of the file)
    n300 INTEGER NOT NULL, n100 INTEGER NOT NULL, n50 INTEGER NOT NULL,
    ngeki INTEGER NOT NULL, nkatu INTEGER NOT NULL, nmiss INTEGER NOT NULL,
    score           BIGINT NOT NULL,
    max_combo       INTEGER NOT NULL,
    perfect         BOOLEAN NOT NULL,
    mods            BIGINT NOT NULL,    -- the legacy bit field (HD = 8, HR = 16, DT = 64, ...)
    mod_acronyms    VARCHAR[] NOT NULL, -- e.g. [HD, DT]; NC without its DT, PF without its SD
    played_at       TIMESTAMP NOT NULL, -- UTC
    life_bar        STRUCT(time_ms BIGINT, life DOUBLE)[] NOT NULL,
    rng_seed        INTEGER,            -- of the seed item (-12345|0|0|seed), when there is one
    n_frames        INTEGER NOT NULL,
    score_info      JSON,               -- lazer's score info (version >= 30000001)
    parser_version  INTEGER NOT NULL
);

-- frames in file order, as kiai.osu.replay reads them: time_ms is absolute (the running sum of the
-- deltas; stable's two leading frames are dropped, their deltas count), so it rises within a replay
-- except where the file itself goes back in time
CREATE TABLE IF NOT EXISTS parsed.replay_frames (
    replay_id   INTEGER NOT NULL,
    frame_index INTEGER NOT NULL,       -- 0, 1, ... within the replay
    time_ms     BIGINT NOT NULL,
    x           FLOAT NOT NULL,         -- osu! pixels as written (mania: the pressed columns as bits)
    y           FLOAT NOT NULL,
    keys        INTEGER NOT NULL        -- bit field: M1 1, M2 2, K1 4, K2 8, smoke 16 (osu!)
);

-- a replay that is not a usable .osr (or an input that could not be read: md5 of no bytes)
CREATE TABLE IF NOT EXISTS parsed.replay_errors (
    md5 VARCHAR NOT NULL, path VARCHAR, error VARCHAR NOT NULL,
    parser_version INTEGER NOT NULL, seen_at TIMESTAMP NOT NULL
);

-- the queue of `kiai fetch replays`: one row per replay asked for
CREATE TABLE IF NOT EXISTS raw.replay_queue (
    score_id        BIGINT NOT NULL,    -- the id in the URL
    ruleset         VARCHAR NOT NULL,   -- '' for /scores/{score_id}/download; else /scores/{ruleset}/{id}/download
    legacy_score_id BIGINT,             -- a score id's legacy id (from the dump), which a stable replay carries
    state           VARCHAR NOT NULL,   -- asked (not fetched yet) | done | missing (404) | failed
    tries           INTEGER NOT NULL,
    error           VARCHAR,            -- why the last try failed
    md5             VARCHAR,            -- of the landed file (done)
    asked_at        TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (score_id, ruleset)
);
