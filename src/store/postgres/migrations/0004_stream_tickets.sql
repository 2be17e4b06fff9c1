-- tasklane schema for PostgreSQL, step 4: stream tickets (SQLite's step 5; see there).
-- Short-lived, single-use, kept only as a SHA-256; redeemed by one DELETE … RETURNING,
-- so one redemption wins across every host.
CREATE TABLE stream_tickets (
    ticket_hash   TEXT COLLATE "C" PRIMARY KEY,
    user_id       BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    api_token_id  BIGINT REFERENCES api_tokens(id) ON DELETE CASCADE,
    scopes        TEXT NOT NULL,
    generation    BIGINT NOT NULL,
    credential_expires_at BIGINT NOT NULL,
    expires_at    DOUBLE PRECISION NOT NULL
);
CREATE INDEX stream_tickets_by_user ON stream_tickets (user_id, expires_at);
CREATE INDEX stream_tickets_by_age ON stream_tickets (expires_at);
CREATE INDEX stream_tickets_by_api_token ON stream_tickets (api_token_id);
