-- tasklane schema for PostgreSQL, step 10: search (`GET /api/tasks/?search=`) through
-- an index (SQLite's step 11, with the same meaning).
--
-- The list searches `lower(title) LIKE lower(term)` and the same of the description
-- (empty when missing): on `COLLATE "C"` text that is exactly `ILIKE`, which PostgreSQL
-- computes that way (ASCII letters folded only, as SQLite's `LIKE`), and it can use
-- these two pg_trgm GIN indexes of trigrams. pg_trgm's own folding and word splitting
-- are applied alike to the rows and the term, so the index finds every match, and
-- PostgreSQL rechecks each candidate with the `LIKE` itself. PostgreSQL's planner
-- chooses per query between the index (few matches) and the list's own order (many).
-- `fastupdate = off`: a write adds its trigrams to the index at once (a task whose
-- title and description are unchanged adds none), so a search never scans a pending
-- list of unindexed rows (up to 4 MB, tens of milliseconds, until a vacuum).
--
-- `CREATE EXTENSION` needs a privilege the database's owner may lack: then the step
-- creates no index and searches scan the user's tasks, with the same results (tasklane
-- logs a warning at start; docs/operations.md says how to add the indexes later).
DO $$
DECLARE
    trgm_schema TEXT;
BEGIN
    BEGIN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
    EXCEPTION WHEN insufficient_privilege OR undefined_file OR feature_not_supported THEN
        RAISE WARNING 'pg_trgm cannot be created (%): task search will not be indexed',
            SQLERRM;
    END;
    SELECT n.nspname INTO trgm_schema
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'pg_trgm';
    IF trgm_schema IS NOT NULL THEN
        EXECUTE format(
            'CREATE INDEX tasks_search_title ON tasks '
            'USING gin (lower(title) %I.gin_trgm_ops) WITH (fastupdate = off)',
            trgm_schema);
        EXECUTE format(
            'CREATE INDEX tasks_search_description ON tasks '
            'USING gin (lower(coalesce(description, %L)) %I.gin_trgm_ops) '
            'WITH (fastupdate = off)',
            '', trgm_schema);
    END IF;
END
$$;
