-- tasklane schema, step 6: accounts deleted at once, their rows purged in short jobs.
--
-- Deleting an account is one short write: `deleted_at` (unix seconds) is set, the account
-- deactivated and its username and email replaced by `deleted:<id>` (which no
-- registration can take), so it can no longer log in, refresh or be seen, and its name
-- and email are free at once. Its tasks, events, keys and tokens are then deleted a
-- bounded number at a time, each batch its own short write, so other writes run between
-- them; the user row goes last. A purge cut short (the process stopped) is resumed by
-- housekeeping, which finds the accounts still to purge here.
ALTER TABLE users ADD COLUMN deleted_at REAL;
CREATE INDEX users_deleted ON users (id) WHERE deleted_at IS NOT NULL;

-- A user's refresh tokens, found without scanning them all: by the purge, by
-- `end_credentials`, and by the foreign key's check when the user row is deleted.
CREATE INDEX refresh_tokens_by_user ON refresh_tokens (user_id);
