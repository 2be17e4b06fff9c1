-- tasklane schema, step 5: stream tickets (`POST /api/stream-tickets/`), so that no
-- long-lived credential travels in a WebSocket's or an EventSource's URL.
--
-- A ticket is short-lived (30 s) and single-use: redeeming it deletes its row in the
-- same statement that reads it (DELETE … RETURNING), so only one redemption wins, in any
-- process. Only the SHA-256 of the ticket is kept. The row carries what the stream needs
-- to act, and to be re-checked, as the credential that minted it: a session (the access
-- token's credentials generation and expiry) or a personal API token (its id and scopes). Housekeeping
-- deletes expired rows; minting keeps at most a fixed number of live tickets per user,
-- the oldest dropped first.
CREATE TABLE stream_tickets (
    ticket_hash   TEXT PRIMARY KEY,                 -- SHA-256 (hex) of the ticket
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    api_token_id  INTEGER REFERENCES api_tokens(id) ON DELETE CASCADE, -- NULL: a session
    scopes        TEXT NOT NULL,                    -- the API token's scopes; '' for a session
    generation    INTEGER NOT NULL,                 -- the session's credentials generation; 0 for API tokens
    credential_expires_at INTEGER NOT NULL,         -- unix s: the minting credential's expiry
    expires_at    REAL NOT NULL                     -- unix s: not redeemable after this
) WITHOUT ROWID;
CREATE INDEX stream_tickets_by_user ON stream_tickets (user_id, expires_at);
CREATE INDEX stream_tickets_by_age ON stream_tickets (expires_at);
CREATE INDEX stream_tickets_by_api_token ON stream_tickets (api_token_id);
