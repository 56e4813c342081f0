-- 0001_init.sql: the initial schema of odeserve's database.
--
-- Applied by odeserved (src/store/migrate.c) in one transaction together with
-- PRAGMA user_version = 1; the runner refuses BEGIN/COMMIT and user_version
-- here. Never edit a migration once released: change the schema with a new
-- file, migrations/NNNN_what.sql, listed in src/store/local.mk. Statements
-- may use :odeserved_version, bound to the daemon's version.
--
-- Conventions for the tables that follow in later migrations: times are
-- UTC text in ISO 8601 with milliseconds ('2026-11-27T17:49:30.123Z', as
-- strftime('%Y-%m-%dT%H:%M:%fZ', 'now') writes them); names are TEXT
-- checked against the API's rules; foreign keys are declared (they are
-- enforced on every connection).

-- Facts about the database itself, one row per key:
--   created_at   when the database was created
--   created_by   the odeserved that created it ("odeserved 0.1.0")
--   database_id  a random 128-bit id in hex, to tell databases apart in logs
CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL CHECK (typeof(key) = 'text' AND length(key) > 0),
    value TEXT NOT NULL CHECK (typeof(value) = 'text')
) WITHOUT ROWID;

-- One row per applied migration, written by the runner inside each
-- migration's own transaction. PRAGMA user_version is the authority on the
-- schema version; this is the audit trail of when and by what it got there.
-- The runner writes it: migrations never touch it and never drop it.
CREATE TABLE schema_history (
    version           INTEGER PRIMARY KEY CHECK (version >= 1),
    name              TEXT NOT NULL,              -- file name, '0001_init.sql'
    applied_at        TEXT NOT NULL,              -- UTC, ISO 8601
    odeserved_version TEXT NOT NULL               -- the odeserved that applied it
);

INSERT INTO meta (key, value) VALUES
    ('created_at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    ('created_by', 'odeserved ' || :odeserved_version),
    ('database_id', lower(hex(randomblob(16))));
