-- The API landing tables: every HTTP response body verbatim with its request, the download log of .osu files
-- and replays, and the collection labels of kiai.toml. Idempotent: kiai runs it whenever it fetches
-- (kiai.load.api_responses.ensure_tables). The endpoints' names: kiai.catalog.
CREATE SEQUENCE IF NOT EXISTS raw.api_response_ids;
CREATE TABLE IF NOT EXISTS raw.api_responses (
    response_id  BIGINT PRIMARY KEY DEFAULT nextval('raw.api_response_ids'),
    source       VARCHAR NOT NULL,     -- osu_api | collector
    endpoint     VARCHAR NOT NULL,     -- path template, e.g. /api/v2/users/{user}/scores/{type}
    params       JSON NOT NULL,        -- what identifies the request: query and path values, never headers
    http_status  INTEGER NOT NULL,
    fetched_at   TIMESTAMP NOT NULL,   -- UTC
    body         VARCHAR NOT NULL      -- the body as sent (UTF-8)
);
CREATE TABLE IF NOT EXISTS raw.collection_labels (
    category      VARCHAR NOT NULL,    -- from kiai.toml [collections]
    collection_id BIGINT NOT NULL,
    position      INTEGER NOT NULL,    -- order in kiai.toml (first category wins on conflicts)
    labelled_at   TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS raw.download_attempts (
    beatmap_id    BIGINT,              -- of a .osu download (NULL for replays)
    outcome       VARCHAR NOT NULL,    -- ok | not_found | not_osu | not_replay | empty | md5_mismatch | too_large |
                                       -- failed
    http_status   INTEGER,
    expected_md5  VARCHAR NOT NULL,    -- '' when the API gave no checksum (always, for replays)
    got_md5       VARCHAR,
    size_bytes    BIGINT,
    error         VARCHAR,             -- why, for a body that was refused or a request that failed
    attempted_at  TIMESTAMP NOT NULL,
    kind          VARCHAR,             -- 'replay' for replay downloads; NULL for .osu files
    score_id      BIGINT,              -- of a replay download: the id in its URL
    ruleset       VARCHAR              -- of a replay download by legacy id ('' by score id)
);
