-- tasklane schema, step 11: search (`GET /api/tasks/?search=`) through an index.
--
-- `task_search` is an FTS5 index of every task's title and description by trigram
-- (three characters, case folded), its text read from `tasks` itself (external
-- content: nothing is stored twice). It only narrows the candidates: the list keeps its
-- `LIKE` on them, so results are exactly those of the scan it replaces (FTS5 folds
-- non-ASCII case too, `LIKE` only ASCII's; the index finds a superset). detail=none
-- and columnsize=0 keep only which rows hold each trigram: the list asks for every
-- trigram of the term (`AND`), never for phrases or ranks.
--
-- The triggers keep it in the transaction of every write to `tasks`, whatever the path
-- (API, CLI, import, copy, an account's or project's deletion by cascade); an update
-- that leaves title and description as they were does not touch it. Existing rows are
-- indexed by the rebuild below.
CREATE VIRTUAL TABLE task_search USING fts5(
    title, description,
    content = 'tasks', content_rowid = 'id',
    tokenize = 'trigram case_sensitive 0', detail = 'none', columnsize = 0
);
CREATE TRIGGER task_search_insert AFTER INSERT ON tasks BEGIN
    INSERT INTO task_search (rowid, title, description)
    VALUES (new.id, new.title, new.description);
END;
CREATE TRIGGER task_search_delete AFTER DELETE ON tasks BEGIN
    INSERT INTO task_search (task_search, rowid, title, description)
    VALUES ('delete', old.id, old.title, old.description);
END;
CREATE TRIGGER task_search_update AFTER UPDATE OF title, description ON tasks
WHEN old.title IS NOT new.title OR old.description IS NOT new.description BEGIN
    INSERT INTO task_search (task_search, rowid, title, description)
    VALUES ('delete', old.id, old.title, old.description);
    INSERT INTO task_search (rowid, title, description)
    VALUES (new.id, new.title, new.description);
END;
INSERT INTO task_search (task_search) VALUES ('rebuild');
