-- tasklane schema for PostgreSQL, step 3: a credentials generation per account, in place of
-- a cut-off second (SQLite's step 4, which says why).
--
-- `credentials_generation` counts the changes that ended the account's older credentials
-- (password changed, set or reset; account deactivated), each bumping it under the user's
-- row lock in the transaction that revokes its tokens. Tokens carry the generation they
-- were issued at (`gen`) and are refused once it moved on. Every account starts at 0, the
-- generation the original Django app's tokens (no `gen`) are held to; one whose
-- credentials were ever ended starts at 1.
ALTER TABLE users ADD COLUMN credentials_generation BIGINT NOT NULL DEFAULT 0;
UPDATE users SET credentials_generation = 1 WHERE credentials_after > 0;
ALTER TABLE users DROP COLUMN credentials_after;
