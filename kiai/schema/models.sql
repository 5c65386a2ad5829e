-- The model runner's metadata: model versions, current versions, the build log, sqlglot's cached answers, test
-- results, and the dataset exports. `{K}` is the kiai schema qualified with the warehouse's catalog
-- (kiai.transform.store.execute: a warehouse file named kiai.duckdb makes a bare `kiai.x` ambiguous).
-- Idempotent: kiai runs it before every build and export.
CREATE TABLE IF NOT EXISTS {K}.model_versions (
    model VARCHAR NOT NULL, fingerprint VARCHAR NOT NULL, relation VARCHAR NOT NULL,
    materialized VARCHAR NOT NULL, path VARCHAR,
    sql VARCHAR,            -- rendered with ref() as stable names
    sql_hash VARCHAR,       -- hash of the sqlglot-canonical SQL
    vars VARCHAR, upstream VARCHAR, watermarks VARCHAR, columns VARCHAR,  -- JSON
    tests_hash VARCHAR, tests_passed BOOLEAN, rows BIGINT, created_at TIMESTAMP NOT NULL,  -- UTC
    code_fingerprint VARCHAR  -- the feature version: SQL, vars, upstream code; no data watermark
);
CREATE TABLE IF NOT EXISTS {K}.model_current (
    model VARCHAR NOT NULL, fingerprint VARCHAR NOT NULL, switched_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS {K}.model_builds (
    run_id VARCHAR NOT NULL, model VARCHAR NOT NULL, fingerprint VARCHAR, action VARCHAR NOT NULL,
    started_at TIMESTAMP NOT NULL, finished_at TIMESTAMP NOT NULL, rows BIGINT,  -- UTC
    status VARCHAR NOT NULL,  -- built | reused | retested | tests_failed | error | skipped
    message VARCHAR, counts VARCHAR  -- counts: JSON of the model's [counts], e.g. rows left out
);
CREATE TABLE IF NOT EXISTS {K}.sql_cache (
    key VARCHAR NOT NULL, parsed VARCHAR NOT NULL  -- hash of a model's rendered SQL -> sqlglot's answer (JSON)
);
CREATE TABLE IF NOT EXISTS {K}.model_test_results (
    model VARCHAR NOT NULL, fingerprint VARCHAR NOT NULL, test VARCHAR NOT NULL,
    failures BIGINT NOT NULL, checked_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS {K}.dataset_exports (
    export_id VARCHAR NOT NULL, exported_at TIMESTAMP NOT NULL, path VARCHAR NOT NULL, format VARCHAR NOT NULL,
    rows BIGINT NOT NULL, columns VARCHAR NOT NULL, labels VARCHAR NOT NULL,  -- JSON
    sha256 VARCHAR NOT NULL,
    dataset_fingerprint VARCHAR NOT NULL,       -- the dataset version exported (data included)
    dataset_code_fingerprint VARCHAR,           -- its feature version (SQL and vars only)
    fingerprints VARCHAR NOT NULL, code_fingerprints VARCHAR NOT NULL,  -- JSON: model -> version, upstream too
    split VARCHAR                               -- JSON: {"folds", "seed"} or NULL
);
