//! What deleting an account does to its projects, inside the deletion's write (see
//! [`crate::store::users::AccountStore::delete_account`] and docs/projects.md).

use rusqlite::{Connection, params};

use super::rows::{members_of, project_events};
use crate::model::{Event, ProjectRef};
use crate::store::Result;
use crate::store::projects::{Refusal, refused};

/// Refuses (listing them) while `user` owns a project that has other members; otherwise
/// ends `user`'s part in every project: the tasks it created in projects it does not own
/// go to each project's owner, the tasks assigned to it there are unassigned, its
/// invitations (sent, received, and every one to a project it owns) are deleted, and so
/// are its memberships. The members of every project that changed get a `project` event
/// (which also moves their list's validator on). The projects it owns alone, and their
/// tasks, stay for the purge; nobody can join them any more.
pub(in crate::store::sqlite) fn end_projects(
    c: &Connection,
    user: i64,
    now: &str,
) -> Result<Vec<Event>> {
    let shared: Vec<ProjectRef> = c
        .prepare_cached(
            "SELECT p.id, p.name FROM projects p WHERE p.owner_id = ?1 AND EXISTS (
                 SELECT 1 FROM project_members m WHERE m.project_id = p.id AND m.user_id <> ?1)
             ORDER BY p.id",
        )?
        .query_map([user], |r| {
            Ok(ProjectRef {
                id: r.get(0)?,
                name: r.get(1)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    if !shared.is_empty() {
        return Err(refused(Refusal::OwnsShared(shared)));
    }
    // Projects it does not own whose members see a change: those it belongs to, and
    // those holding a task it created or is assigned.
    let affected: Vec<i64> = c
        .prepare_cached(
            "SELECT project_id FROM project_members WHERE user_id = ?1
             UNION SELECT project_id FROM tasks WHERE user_id = ?1 AND project_id IS NOT NULL
             UNION SELECT project_id FROM tasks WHERE assignee_id = ?1 AND project_id IS NOT NULL
             EXCEPT SELECT id FROM projects WHERE owner_id = ?1
             ORDER BY 1",
        )?
        .query_map([user], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    // The team's work stays in the project, its owner its creator from now on; what was
    // assigned to it is assigned to nobody. One change (one version) per task; each
    // statement goes through an index on the account (`tasks_in_projects_by_user`,
    // `tasks_by_assignee`), never through its personal tasks.
    for sql in [
        "UPDATE tasks SET
             user_id = (SELECT owner_id FROM projects p WHERE p.id = tasks.project_id),
             assignee_id = CASE WHEN assignee_id = ?1 THEN NULL ELSE assignee_id END,
             updated_at = ?2, version = version + 1
         WHERE user_id = ?1 AND project_id IS NOT NULL
           AND project_id NOT IN (SELECT id FROM projects WHERE owner_id = ?1)",
        "UPDATE tasks SET assignee_id = NULL, updated_at = ?2, version = version + 1
         WHERE assignee_id = ?1 AND project_id IS NOT NULL
           AND project_id NOT IN (SELECT id FROM projects WHERE owner_id = ?1)",
    ] {
        c.prepare_cached(sql)?.execute(params![user, now])?;
    }
    for sql in [
        "DELETE FROM project_invitations WHERE invitee_id = ?1",
        "DELETE FROM project_invitations WHERE inviter_id = ?1",
        "DELETE FROM project_invitations
         WHERE project_id IN (SELECT id FROM projects WHERE owner_id = ?1)",
        "DELETE FROM project_members WHERE user_id = ?1",
    ] {
        c.prepare_cached(sql)?.execute([user])?;
    }
    let mut events = Vec::new();
    for id in affected {
        events.extend(project_events(c, id, &members_of(c, id)?)?);
    }
    Ok(events)
}
