-- tasklane schema, step 4: a credentials generation per account, in place of a cut-off second.
--
-- `credentials_generation` counts the changes that ended the account's older credentials:
-- changing, setting or resetting the password and deactivating the account each add one,
-- in the same transaction that revokes its refresh and API tokens. Every access and
-- refresh token carries the generation it was issued at (its `gen` claim) and is refused
-- once the account's has moved on; a login stores its refresh token only if the account is
-- still active at the generation it read with the password hash it verified, in the same
-- write (so a login racing a password change never outlives it). This replaces
-- `credentials_after`, a unix second compared with `iat`, which let a token issued in the
-- same second as the change survive it.
--
-- Every account starts at 0, the generation tokens of the original Django app (which carry
-- no `gen`) are held to; an account whose credentials were ever ended starts at 1, so the
-- original app's tokens from before that stay refused. Tokens without a `gen` issued by
-- an earlier tasklane are refused from now on: their sessions log in again once.
ALTER TABLE users ADD COLUMN credentials_generation INTEGER NOT NULL DEFAULT 0;
UPDATE users SET credentials_generation = 1 WHERE credentials_after > 0;
ALTER TABLE users DROP COLUMN credentials_after;
