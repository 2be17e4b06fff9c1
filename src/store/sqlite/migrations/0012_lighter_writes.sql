-- tasklane schema, step 12: writes that touch fewer pages.
--
-- The search index is written once per write batch instead of once per write. FTS5
-- writes what it holds to disk at every savepoint, and each write of a batch runs in a
-- savepoint of its own (src/store/sqlite/writer.rs): with the index kept by triggers,
-- every create wrote a segment of its own and merged it away again. The triggers now
-- queue each change to the index in `task_search_pending`, in order and with the text it
-- needs; the writer replays the queue into `task_search` and empties it at the end of
-- each batch, in the batch's transaction, before its commit (`flush_search`). So the
-- index changes in the same transaction as the rows, as before. Whatever writes outside
-- the writer (a copy) replays the queue itself; until it does, the list takes the queued
-- inserts as candidates too, so a search never misses a task.
DROP TRIGGER task_search_insert;
DROP TRIGGER task_search_delete;
DROP TRIGGER task_search_update;
CREATE TABLE task_search_pending (
    seq         INTEGER PRIMARY KEY,
    op          TEXT    NOT NULL CHECK (op IN ('insert', 'delete')),
    task_id     INTEGER NOT NULL,
    title       TEXT    NOT NULL,
    description TEXT
);
CREATE TRIGGER task_search_insert AFTER INSERT ON tasks BEGIN
    INSERT INTO task_search_pending (op, task_id, title, description)
    VALUES ('insert', new.id, new.title, new.description);
END;
CREATE TRIGGER task_search_delete AFTER DELETE ON tasks BEGIN
    INSERT INTO task_search_pending (op, task_id, title, description)
    VALUES ('delete', old.id, old.title, old.description);
END;
CREATE TRIGGER task_search_update AFTER UPDATE OF title, description ON tasks
WHEN old.title IS NOT new.title OR old.description IS NOT new.description BEGIN
    INSERT INTO task_search_pending (op, task_id, title, description)
    VALUES ('delete', old.id, old.title, old.description);
    INSERT INTO task_search_pending (op, task_id, title, description)
    VALUES ('insert', new.id, new.title, new.description);
END;

-- Two indexes every task paid for and no query needs any more. The due-date filters and
-- orders walk each source's own due index (step 11), not a per-creator one; and the
-- assignee index only ever looks up an assignee (`assignee_id = ?`), so tasks assigned
-- to nobody, most of them, need no entry in it.
DROP INDEX tasks_by_user_due;
DROP INDEX tasks_by_assignee;
CREATE INDEX tasks_by_assignee ON tasks(assignee_id, user_id, id) WHERE assignee_id IS NOT NULL;
