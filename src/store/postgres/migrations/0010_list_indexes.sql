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

-- Statement-level, over the statement's transition tables: a statement that writes many
-- tasks (an account's purge, a copy, a project's deletion) touches each counter row once,
-- not once per task (PostgreSQL makes each further update of one row in a transaction
-- walk every version before it). Inserts and changes apply their net change per counter
-- row in key order, so two opposite moves wait for each other rather than deadlock.
CREATE FUNCTION task_counts_statement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO task_counts AS c (user_id, project_id, tasks, done)
        SELECT CASE WHEN project_id IS NULL THEN user_id ELSE 0 END,
               coalesce(project_id, 0), count(*), sum(completed::int)
        FROM new_rows GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (user_id, project_id)
        DO UPDATE SET tasks = c.tasks + excluded.tasks, done = c.done + excluded.done;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO task_counts AS c (user_id, project_id, tasks, done)
        SELECT u, p, sum(n), sum(d) FROM (
            SELECT CASE WHEN project_id IS NULL THEN user_id ELSE 0 END AS u,
                   coalesce(project_id, 0) AS p, -1 AS n, -(completed::int) AS d
            FROM old_rows
            UNION ALL
            SELECT CASE WHEN project_id IS NULL THEN user_id ELSE 0 END,
                   coalesce(project_id, 0), 1, completed::int
            FROM new_rows
        ) x
        GROUP BY u, p HAVING sum(n) <> 0 OR sum(d) <> 0 ORDER BY u, p
        ON CONFLICT (user_id, project_id)
        DO UPDATE SET tasks = c.tasks + excluded.tasks, done = c.done + excluded.done;
    ELSE
        -- Only rows that are still there: an account or project being deleted has
        -- already dropped its own.
        UPDATE task_counts c SET tasks = c.tasks - g.n, done = c.done - g.d
        FROM (SELECT CASE WHEN project_id IS NULL THEN user_id ELSE 0 END AS u,
                     coalesce(project_id, 0) AS p, count(*) AS n, sum(completed::int) AS d
              FROM old_rows GROUP BY 1, 2) g
        WHERE c.user_id = g.u AND c.project_id = g.p;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER task_counts_insert AFTER INSERT ON tasks
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION task_counts_statement();
CREATE TRIGGER task_counts_update AFTER UPDATE ON tasks
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION task_counts_statement();
CREATE TRIGGER task_counts_delete AFTER DELETE ON tasks
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION task_counts_statement();

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
