-- tasklane schema for PostgreSQL, step 2: login and registration throttles counted in
-- the database, shared by every host (SQLite's step 3). One row per counted attempt
-- inside the window; `key` is 16 bytes of a SHA-256.
CREATE TABLE throttle_hits (
    scope TEXT COLLATE "C" NOT NULL,
    key   BYTEA NOT NULL,
    at    DOUBLE PRECISION NOT NULL
);
CREATE INDEX throttle_hits_by_key ON throttle_hits (scope, key, at);
CREATE INDEX throttle_hits_by_age ON throttle_hits (at);
