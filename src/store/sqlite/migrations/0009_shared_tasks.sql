-- tasklane schema, step 9: a project's tasks are seen by every member.
--
-- The list is "my personal tasks, or any task of a project I belong to": each arm is
-- served by an index in id order (this one for the personal arm, `tasks_by_project` for
-- the projects'). `list_epoch` moves when something the user's list shows changes without
-- an event of theirs (a co-member's new username); the list cache checks it together
-- with `event_seq`.
CREATE INDEX tasks_personal ON tasks(user_id, id) WHERE project_id IS NULL;
ALTER TABLE users ADD COLUMN list_epoch INTEGER NOT NULL DEFAULT 0;
