-- tasklane schema, step 2: credentials that end when they should.
--
-- `credentials_after` is a unix second: access tokens issued (`iat`) before it are refused.
-- Changing or resetting the password and deactivating the account set it to the second
-- after the change, and revoke every refresh and API token in the same transaction;
-- tokens issued afterwards carry an `iat` no earlier than it.
ALTER TABLE users ADD COLUMN credentials_after INTEGER NOT NULL DEFAULT 0;

-- `tasks:write` now implies `tasks:read` (a write answers with the task), and says so.
UPDATE api_tokens SET scopes = 'tasks:read tasks:write' WHERE scopes = 'tasks:write';

-- The sweep that forgets rotated pairs once their grace window has passed looks here.
CREATE INDEX refresh_tokens_with_successor ON refresh_tokens(spent_at) WHERE successor IS NOT NULL;
