-- tasklane schema, step 7: shared projects, their members and invitations.
--
-- A project has one owner, who is also a member row with role 'owner' (a partial unique
-- index keeps it to one); `projects.owner_id` mirrors that row and is changed with it.
-- Ids are never reused (AUTOINCREMENT). A member sees the project; an invitation makes
-- nobody a member until its invitee accepts it, before `expires_at`.
CREATE TABLE projects (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL,
    owner_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at TEXT    NOT NULL,
    updated_at TEXT    NOT NULL,
    version    INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX projects_by_owner ON projects(owner_id);

CREATE TABLE project_members (
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role       TEXT    NOT NULL CHECK (role IN ('owner', 'admin', 'editor', 'viewer')),
    created_at TEXT    NOT NULL,
    PRIMARY KEY (project_id, user_id)
) WITHOUT ROWID;
CREATE INDEX project_members_by_user ON project_members(user_id, project_id);
CREATE UNIQUE INDEX project_members_one_owner ON project_members(project_id) WHERE role = 'owner';

CREATE TABLE project_invitations (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    inviter_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    invitee_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role       TEXT    NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
    created_at TEXT    NOT NULL,
    expires_at TEXT    NOT NULL,
    UNIQUE (project_id, invitee_id)
);
CREATE INDEX project_invitations_by_invitee ON project_invitations(invitee_id);

-- NULL: a personal task, as every task was before.
ALTER TABLE tasks ADD COLUMN project_id INTEGER REFERENCES projects(id);
CREATE INDEX tasks_by_project ON tasks(project_id, id) WHERE project_id IS NOT NULL;
-- The tasks a deleted account created in projects, found without reading its personal
-- ones: they go to each project's owner in the deletion's one short write.
CREATE INDEX tasks_in_projects_by_user ON tasks(user_id, project_id) WHERE project_id IS NOT NULL;

-- Two new event actions: 'project' (the project as the member now sees it) and
-- 'project_removed' ({"id"}); `task_id` holds the project id for them. SQLite cannot
-- change a CHECK in place: the table is rebuilt, its rows kept.
CREATE TABLE events_new (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    seq     INTEGER NOT NULL,
    action  TEXT    NOT NULL
            CHECK (action IN ('create', 'update', 'delete', 'project', 'project_removed')),
    task_id INTEGER NOT NULL,
    task    TEXT    NOT NULL,
    at      TEXT    NOT NULL,
    PRIMARY KEY (user_id, seq)
) WITHOUT ROWID;
INSERT INTO events_new (user_id, seq, action, task_id, task, at)
    SELECT user_id, seq, action, task_id, task, at FROM events;
DROP TABLE events;
ALTER TABLE events_new RENAME TO events;
CREATE INDEX events_by_time ON events(at);
