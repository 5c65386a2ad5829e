-- The dump importer's own tables: its log in the ppy schema beside the dump's tables, and what a dump declared
-- about its tables (MySQL types, keys, defaults) in the kiai schema, where a dump can never replace them, for
-- `kiai sql --dialect mysql`'s SHOW COLUMNS and SHOW CREATE TABLE. Idempotent: kiai runs it whenever it imports
-- (kiai.load.ppy_dump.ensure_tables).
CREATE SCHEMA IF NOT EXISTS ppy;
CREATE TABLE IF NOT EXISTS ppy.import_log (
    source      VARCHAR NOT NULL,   -- the archive, folder or file named on the command line
    file        VARCHAR NOT NULL,   -- the .sql file (archive member) the table came from
    dump_date   DATE,               -- from a YYYY_MM_DD in the source name
    table_name  VARCHAR NOT NULL,
    rows        BIGINT NOT NULL,    -- rows kept (of an incomplete file with --allow-incomplete: those it had)
    bytes       BIGINT NOT NULL,    -- size of the .sql file
    sha256      VARCHAR NOT NULL,   -- of the .sql file
    started_at  TIMESTAMP NOT NULL,
    finished_at TIMESTAMP NOT NULL,
    complete    BOOLEAN DEFAULT true  -- false: kept with --allow-incomplete
);
CREATE SCHEMA IF NOT EXISTS kiai;
CREATE TABLE IF NOT EXISTS kiai.dump_tables (
    table_name   VARCHAR NOT NULL,   -- as in ppy.<table_name>
    create_sql   VARCHAR NOT NULL,   -- the dump's CREATE TABLE statement, as written
    imported_at  TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS kiai.dump_columns (
    table_name   VARCHAR NOT NULL,
    position     INTEGER NOT NULL,   -- 1 for the first column
    column_name  VARCHAR NOT NULL,
    mysql_type   VARCHAR NOT NULL,   -- as SHOW COLUMNS prints it: bigint unsigned, tinyint(1), varchar(80)
    nullable     BOOLEAN NOT NULL,   -- as declared (NOT NULL, primary key)
    column_key   VARCHAR NOT NULL,   -- PRI, UNI, MUL or ''
    column_default VARCHAR,          -- NULL: none, or DEFAULT NULL
    extra        VARCHAR NOT NULL,   -- auto_increment, DEFAULT_GENERATED, on update CURRENT_TIMESTAMP
    collation_name VARCHAR,          -- text columns: utf8mb4_0900_ai_ci, utf8_bin, …
    comment      VARCHAR NOT NULL
);
