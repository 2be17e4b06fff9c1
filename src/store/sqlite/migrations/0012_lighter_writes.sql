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

-- The outbox in the order it is written. A change in a project writes one event per
-- member; keyed by (user_id, seq) WITHOUT ROWID, those rows landed on as many pages as
-- there were members, each split and rewritten in turn. As a rowid table, a batch's
-- events are appended to the last page or two, and only the small index entries go to
-- each member's place. The events keep their columns; `events_by_user` finds a user's
-- events by id as the primary key did, and is unique as it was. `events_by_time` goes:
-- the rows are in the order they were written, so pruning walks them oldest first by
-- rowid (src/store/sqlite/events.rs). The rows are rebuilt in that order.
CREATE TABLE events_new (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    seq     INTEGER NOT NULL,
    action  TEXT    NOT NULL
            CHECK (action IN ('create', 'update', 'delete', 'project', 'project_removed')),
    task_id INTEGER NOT NULL,
    task    TEXT    NOT NULL,
    at      TEXT    NOT NULL
);
INSERT INTO events_new (user_id, seq, action, task_id, task, at)
    SELECT user_id, seq, action, task_id, task, at FROM events ORDER BY at, user_id, seq;
DROP TABLE events;
ALTER TABLE events_new RENAME TO events;
CREATE UNIQUE INDEX events_by_user ON events(user_id, seq);
