-- tasklane schema, step 7: a task's due date and assignee.
--
-- `due_at` is in the API's timestamp format (`2026-11-25T11:42:56.437485Z`, UTC,
-- microseconds), like created_at, so it sorts as text as the instant does. `assignee_id`
-- is the user the task is assigned to; the assignment ends with the account. Both are
-- NULL by default, so every existing task reads as due never and assigned to nobody.
ALTER TABLE tasks ADD COLUMN due_at TEXT;
ALTER TABLE tasks ADD COLUMN assignee_id INTEGER REFERENCES users(id) ON DELETE SET NULL;

-- The list's due_before/due_after filters and due_at orders, per user.
CREATE INDEX tasks_by_user_due ON tasks(user_id, due_at, id);
-- The assignee filter per user, and the foreign key's check when a user row is deleted.
CREATE INDEX tasks_by_assignee ON tasks(assignee_id, user_id, id);
