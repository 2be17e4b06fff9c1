-- tasklane schema for PostgreSQL, step 8: a project's tasks are seen by every member
-- (SQLite's step 9, with the same meaning). The list's personal arm gets an index in id
-- order; `list_epoch` moves when something the user's list shows changes without an
-- event of theirs (a co-member's new username).
CREATE INDEX tasks_personal ON tasks (user_id, id) WHERE project_id IS NULL;
ALTER TABLE users ADD COLUMN list_epoch BIGINT NOT NULL DEFAULT 0;
