-- tasklane schema, version 1.
--
-- SQLite's step 1, applied by store::sqlite::migrate when PRAGMA user_version is below 1.
-- A later change to the schema adds a new numbered step in src/store/sqlite/migrations/
-- (listed in MIGRATIONS in src/store/sqlite/mod.rs; never edits this one in place), so a
-- database written by any earlier release upgrades on start. PostgreSQL has its own
-- numbered steps in src/store/postgres/migrations/.
--
-- Timestamps are RFC 3339 UTC strings with microseconds and a `Z` ("2026-11-25T11:42:56.437485Z"),
-- exactly what the API returns; they sort as text. Expiry instants that are only compared
-- (refresh tokens) are unix seconds.

-- Server-wide key/value settings; holds the generated JWT signing secret.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- Accounts. Usernames are case-sensitive (as Django's were); emails are unique ignoring
-- ASCII case, which the original did not enforce.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL UNIQUE,
    email         TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT    NOT NULL,          -- argon2id PHC string
    is_active     INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    created_at    TEXT    NOT NULL,
    event_seq     INTEGER NOT NULL DEFAULT 0,  -- the last event_id given to this user's events
    events_pruned_through INTEGER NOT NULL DEFAULT 0  -- events up to this id were pruned
);

-- Tasks. AUTOINCREMENT so that an id is never reused after a delete: events and
-- clients refer to tasks by id long after they are gone.
CREATE TABLE tasks (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    title       TEXT    NOT NULL,
    description TEXT,                          -- NULL when never given; '' is kept as ''
    completed   INTEGER NOT NULL DEFAULT 0 CHECK (completed IN (0, 1)),
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL,
    version     INTEGER NOT NULL DEFAULT 1     -- bumped on every change (optimistic concurrency)
);
CREATE INDEX tasks_by_user ON tasks(user_id, id);

-- The outbox: one row per task change, written in the same transaction as the change.
-- `seq` is the event_id clients see: 1, 2, 3… per user, taken from users.event_seq inside
-- the write transaction. Because a user's next id is only handed out after the previous
-- change committed, "event N+1 arrived but I last saw N-1" always means "N is in the
-- outbox": a stream can detect and fill any gap, even when events reach it out of order
-- through several processes. `task` is the task's JSON as of the event (for a delete: as
-- it was), stored ready to send.
CREATE TABLE events (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    seq     INTEGER NOT NULL,
    action  TEXT    NOT NULL CHECK (action IN ('create', 'update', 'delete')),
    task_id INTEGER NOT NULL,
    task    TEXT    NOT NULL,
    at      TEXT    NOT NULL,
    PRIMARY KEY (user_id, seq)
) WITHOUT ROWID;
CREATE INDEX events_by_time ON events(at);

-- Refresh tokens, one row per token issued. A family is the chain of tokens rotated from
-- one login. Presenting a spent token after the grace window revokes the whole family.
CREATE TABLE refresh_tokens (
    jti        TEXT    PRIMARY KEY,
    family     TEXT    NOT NULL,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL,               -- unix seconds
    spent_at   REAL,                           -- unix seconds when rotated; NULL while live
    successor  TEXT,                           -- the {access, refresh} pair it was rotated into
    revoked_at REAL                            -- set on logout or detected reuse
) WITHOUT ROWID;
CREATE INDEX refresh_tokens_by_family ON refresh_tokens(family);
CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens(expires_at);

-- Idempotency keys for POST /api/tasks/: the first response to (user, key) is kept for
-- the retention window and returned again for a retry with the same body.
CREATE TABLE idempotency_keys (
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    key          TEXT    NOT NULL,
    request_hash TEXT    NOT NULL,               -- sha256 of the request's fields
    status       INTEGER NOT NULL,
    body         TEXT    NOT NULL,               -- the response body as first sent
    created_at   REAL    NOT NULL,               -- unix seconds
    PRIMARY KEY (user_id, key)
) WITHOUT ROWID;
CREATE INDEX idempotency_keys_by_age ON idempotency_keys(created_at);

-- Personal API tokens for scripts. Only a SHA-256 of the secret is kept: the secret is
-- shown once, at creation. `scopes` is a space-separated subset of
-- `tasks:read tasks:write`.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,
    prefix       TEXT    NOT NULL,               -- the first characters, to recognise it
    scopes       TEXT    NOT NULL,
    created_at   TEXT    NOT NULL,
    expires_at   TEXT,                           -- API timestamp; NULL = never
    expires_unix INTEGER,
    last_used_at TEXT,
    revoked_at   TEXT
);
CREATE INDEX api_tokens_by_user ON api_tokens(user_id);
