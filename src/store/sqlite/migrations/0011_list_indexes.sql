-- tasklane schema, step 11 (after the search index, step 10): lists that cost the
-- page, not the whole table.
--
-- `task_counts` holds how many tasks, and how many done, each user has personally
-- (`user_id`, `project_id` 0) and each project has (`user_id` 0, `project_id`): the
-- unfiltered and `completed` totals of a list are a sum of a few of its rows instead of
-- a count of every task. Triggers keep it in the transaction of every write to `tasks`,
-- whoever writes (the API, the CLI, an import, a copy, a cascade from a deleted account
-- or project), so it cannot drift. It is built here from the tasks there are.
CREATE TABLE task_counts (
    user_id    INTEGER NOT NULL,
    project_id INTEGER NOT NULL,
    tasks      INTEGER NOT NULL DEFAULT 0,
    done       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, project_id)
) WITHOUT ROWID;

INSERT INTO task_counts (user_id, project_id, tasks, done)
SELECT CASE WHEN project_id IS NULL THEN user_id ELSE 0 END, IFNULL(project_id, 0),
       COUNT(*), SUM(completed != 0)
FROM tasks GROUP BY 1, 2;

CREATE TRIGGER task_counts_insert AFTER INSERT ON tasks BEGIN
    INSERT INTO task_counts (user_id, project_id, tasks, done)
    VALUES (CASE WHEN NEW.project_id IS NULL THEN NEW.user_id ELSE 0 END,
            IFNULL(NEW.project_id, 0), 1, NEW.completed != 0)
    ON CONFLICT (user_id, project_id)
    DO UPDATE SET tasks = tasks + 1, done = done + excluded.done;
END;

CREATE TRIGGER task_counts_delete AFTER DELETE ON tasks BEGIN
    UPDATE task_counts SET tasks = tasks - 1, done = done - (OLD.completed != 0)
    WHERE user_id = CASE WHEN OLD.project_id IS NULL THEN OLD.user_id ELSE 0 END
      AND project_id = IFNULL(OLD.project_id, 0);
END;

CREATE TRIGGER task_counts_update AFTER UPDATE OF completed, project_id, user_id ON tasks
WHEN OLD.completed IS NOT NEW.completed OR OLD.project_id IS NOT NEW.project_id
     OR OLD.user_id IS NOT NEW.user_id
BEGIN
    UPDATE task_counts SET tasks = tasks - 1, done = done - (OLD.completed != 0)
    WHERE user_id = CASE WHEN OLD.project_id IS NULL THEN OLD.user_id ELSE 0 END
      AND project_id = IFNULL(OLD.project_id, 0);
    INSERT INTO task_counts (user_id, project_id, tasks, done)
    VALUES (CASE WHEN NEW.project_id IS NULL THEN NEW.user_id ELSE 0 END,
            IFNULL(NEW.project_id, 0), 1, NEW.completed != 0)
    ON CONFLICT (user_id, project_id)
    DO UPDATE SET tasks = tasks + 1, done = done + excluded.done;
END;

-- A deleted account's or project's counts go with it (its tasks' own deletes, whenever
-- they run, only ever update rows).
CREATE TRIGGER task_counts_user_gone AFTER DELETE ON users BEGIN
    DELETE FROM task_counts WHERE user_id = OLD.id AND project_id = 0;
END;
CREATE TRIGGER task_counts_project_gone AFTER DELETE ON projects BEGIN
    DELETE FROM task_counts WHERE user_id = 0 AND project_id = OLD.id;
END;

-- The list walks each source of a user's tasks (their personal ones, each project's) in
-- the list's order and stops at the page: one index per source and order (both
-- directions of an order share one, but by `due_at`, where undated tasks come last
-- either way). The id orders use `tasks_personal` and `tasks_by_project`.
CREATE INDEX tasks_personal_created ON tasks(user_id, created_at, id) WHERE project_id IS NULL;
CREATE INDEX tasks_personal_updated ON tasks(user_id, updated_at, id) WHERE project_id IS NULL;
CREATE INDEX tasks_personal_title ON tasks(user_id, title, id) WHERE project_id IS NULL;
CREATE INDEX tasks_personal_due ON tasks(user_id, due_at IS NULL, due_at, id)
    WHERE project_id IS NULL;
CREATE INDEX tasks_personal_due_desc ON tasks(user_id, due_at IS NULL, due_at DESC, id DESC)
    WHERE project_id IS NULL;
CREATE INDEX tasks_project_created ON tasks(project_id, created_at, id)
    WHERE project_id IS NOT NULL;
CREATE INDEX tasks_project_updated ON tasks(project_id, updated_at, id)
    WHERE project_id IS NOT NULL;
CREATE INDEX tasks_project_title ON tasks(project_id, title, id) WHERE project_id IS NOT NULL;
CREATE INDEX tasks_project_due ON tasks(project_id, due_at IS NULL, due_at, id)
    WHERE project_id IS NOT NULL;
CREATE INDEX tasks_project_due_desc ON tasks(project_id, due_at IS NULL, due_at DESC, id DESC)
    WHERE project_id IS NOT NULL;
