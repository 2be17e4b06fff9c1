-- tasklane schema, step 3: login and registration throttles counted in the database, so
-- every process on the file counts the same attempts.
--
-- One row per counted attempt inside the window; `key` is 16 bytes of the SHA-256 of what
-- is counted (an address, or an address and a username), so the table's size does not
-- depend on what clients send. Housekeeping deletes rows that left the window, and the
-- oldest rows past a cap.
CREATE TABLE throttle_hits (
    scope TEXT NOT NULL,   -- 'login', 'login_address', 'register'
    key   BLOB NOT NULL,
    at    REAL NOT NULL    -- unix seconds
);
CREATE INDEX throttle_hits_by_key ON throttle_hits (scope, key, at);
CREATE INDEX throttle_hits_by_age ON throttle_hits (at);
