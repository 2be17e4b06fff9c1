-- tasklane schema for PostgreSQL, step 5: accounts deleted at once, their rows purged in
-- short transactions (SQLite's step 6). `deleted_at` is unix seconds; a deleted account
-- is inactive, its username and email are `deleted:<id>`, and housekeeping resumes the
-- purge of any account found here.
ALTER TABLE users ADD COLUMN deleted_at DOUBLE PRECISION;
CREATE INDEX users_deleted ON users (id) WHERE deleted_at IS NOT NULL;
