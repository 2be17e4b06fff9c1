-- tasklane schema, step 10 (after the search index, step 9): lists that cost the
-- page, not the whole table.
--
-- `task_counts` holds how many tasks, and how many done, each user has personally
-- (`user_id`, `project_id` 0) and each project has (`user_id` 0, `project_id`): the
-- unfiltered and `completed` totals of a list are a sum of a few of its rows instead of
-- a count of every task. A trigger keeps it in the transaction of every write to
-- `tasks`, whoever writes (the API, the CLI, an import, a copy, a cascade from a deleted
-- account or project), so it cannot drift. It is built here from the tasks there are.
CREATE TABLE task_counts (
    user_id    BIGINT NOT NULL,
    project_id BIGINT NOT NULL,
    tasks      BIGINT NOT NULL DEFAULT 0,
    done       BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, project_id)
);

INSERT INTO task_counts (user_id, project_id, tasks, done)
SELECT CASE WHEN project_id IS NULL THEN user_id ELSE 0 END, coalesce(project_id, 0),
       count(*), count(*) FILTER (WHERE completed)
FROM tasks GROUP BY 1, 2;

-- A move takes one count off its old row and puts one on its new row, locking the two
-- in key order, so two moves the opposite way wait for each other instead of
-- deadlocking.
CREATE FUNCTION task_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_key BIGINT[];
    new_key BIGINT[];
BEGIN
    IF TG_OP <> 'INSERT' THEN
        old_key := ARRAY[CASE WHEN OLD.project_id IS NULL THEN OLD.user_id ELSE 0 END,
                         coalesce(OLD.project_id, 0), OLD.completed::int];
    END IF;
    IF TG_OP <> 'DELETE' THEN
        new_key := ARRAY[CASE WHEN NEW.project_id IS NULL THEN NEW.user_id ELSE 0 END,
                         coalesce(NEW.project_id, 0), NEW.completed::int];
    END IF;
    IF new_key IS NOT NULL AND (old_key IS NULL OR new_key[1:2] < old_key[1:2]) THEN
        INSERT INTO task_counts AS c (user_id, project_id, tasks, done)
        VALUES (new_key[1], new_key[2], 1, new_key[3])
        ON CONFLICT (user_id, project_id)
        DO UPDATE SET tasks = c.tasks + 1, done = c.done + excluded.done;
        new_key := NULL;
    END IF;
    IF old_key IS NOT NULL THEN
        UPDATE task_counts SET tasks = tasks - 1, done = done - old_key[3]
        WHERE user_id = old_key[1] AND project_id = old_key[2];
    END IF;
    IF new_key IS NOT NULL THEN
        INSERT INTO task_counts AS c (user_id, project_id, tasks, done)
        VALUES (new_key[1], new_key[2], 1, new_key[3])
        ON CONFLICT (user_id, project_id)
        DO UPDATE SET tasks = c.tasks + 1, done = c.done + excluded.done;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER task_counts_insert_delete AFTER INSERT OR DELETE ON tasks
    FOR EACH ROW EXECUTE FUNCTION task_counts_apply();
CREATE TRIGGER task_counts_update AFTER UPDATE OF completed, project_id, user_id ON tasks
    FOR EACH ROW
    WHEN (OLD.completed IS DISTINCT FROM NEW.completed
          OR OLD.project_id IS DISTINCT FROM NEW.project_id
          OR OLD.user_id IS DISTINCT FROM NEW.user_id)
    EXECUTE FUNCTION task_counts_apply();

-- A deleted account's or project's counts go with it (its tasks' own deletes only ever
-- update rows).
CREATE FUNCTION task_counts_owner_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'users' THEN
        DELETE FROM task_counts WHERE user_id = OLD.id AND project_id = 0;
    ELSE
        DELETE FROM task_counts WHERE user_id = 0 AND project_id = OLD.id;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER task_counts_user_gone AFTER DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION task_counts_owner_gone();
CREATE TRIGGER task_counts_project_gone AFTER DELETE ON projects
    FOR EACH ROW EXECUTE FUNCTION task_counts_owner_gone();

-- The list walks each source of a user's tasks (their personal ones, each project's) in
-- the list's order and stops at the page: one index per source and order (both
-- directions of an order share one, but by `due_at`, where undated tasks come last
-- either way). The id orders use `tasks_personal` and `tasks_by_project`.
CREATE INDEX tasks_personal_created ON tasks(user_id, created_at, id) WHERE project_id IS NULL;
CREATE INDEX tasks_personal_updated ON tasks(user_id, updated_at, id) WHERE project_id IS NULL;
CREATE INDEX tasks_personal_title ON tasks(user_id, title, id) WHERE project_id IS NULL;
CREATE INDEX tasks_personal_due ON tasks(user_id, (due_at IS NULL), due_at, id)
    WHERE project_id IS NULL;
CREATE INDEX tasks_personal_due_desc ON tasks(user_id, (due_at IS NULL), due_at DESC, id DESC)
    WHERE project_id IS NULL;
CREATE INDEX tasks_project_created ON tasks(project_id, created_at, id)
    WHERE project_id IS NOT NULL;
CREATE INDEX tasks_project_updated ON tasks(project_id, updated_at, id)
    WHERE project_id IS NOT NULL;
CREATE INDEX tasks_project_title ON tasks(project_id, title, id) WHERE project_id IS NOT NULL;
CREATE INDEX tasks_project_due ON tasks(project_id, (due_at IS NULL), due_at, id)
    WHERE project_id IS NOT NULL;
CREATE INDEX tasks_project_due_desc ON tasks(project_id, (due_at IS NULL), due_at DESC, id DESC)
    WHERE project_id IS NOT NULL;
