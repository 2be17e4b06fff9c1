//! What deleting an account does to its projects, inside the deletion's transaction (see
//! [`crate::store::users::AccountStore::delete_account`] and docs/projects.md).
//!
//! Locks as every project change does, projects before users: the rows of the projects
//! the account owns or touches, in id order (`FOR NO KEY UPDATE`: it waits for and
//! holds off the project changes, which take `FOR UPDATE`, but not a task insert's
//! foreign key check), then the users it writes events for and the account itself, in
//! id order.

use deadpool_postgres::Transaction;

use super::rows::{lock_users, members_of, one, project_events, rows};
use crate::model::{Event, ProjectRef};
use crate::store::Result;
use crate::store::projects::{Refusal, refused};

/// Projects `$1` owns, or belongs to, or holds a task in that it created or is assigned.
const TOUCHED: &str = "SELECT id FROM projects WHERE owner_id = $1
     UNION SELECT project_id FROM project_members WHERE user_id = $1
     UNION SELECT project_id FROM tasks WHERE user_id = $1 AND project_id IS NOT NULL
     UNION SELECT project_id FROM tasks WHERE assignee_id = $1 AND project_id IS NOT NULL";

/// Locks what account `user`'s deletion writes; false when there is no such account, or
/// it is deleted already (nothing is written then).
pub(in crate::store::postgres) async fn lock_for_deletion(
    tx: &Transaction<'_>,
    user: i64,
) -> Result<bool> {
    let touched: Vec<i64> = rows(tx, TOUCHED, &[&user])
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<std::result::Result<_, _>>()?;
    let sql = "SELECT id FROM projects WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE";
    rows(tx, sql, &[&touched]).await?;
    let sql = "SELECT DISTINCT user_id FROM project_members WHERE project_id = ANY($1)";
    let mut users: Vec<i64> = rows(tx, sql, &[&touched])
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<std::result::Result<_, _>>()?;
    users.push(user);
    lock_users(tx, &users).await?;
    let sql = "SELECT 1 FROM users WHERE id = $1 AND deleted_at IS NULL";
    Ok(one(tx, sql, &[&user]).await?.is_some())
}

/// As SQLite's `end_projects`: refuses (listing them) while `user` owns a project that
/// has other members; otherwise ends `user`'s part in every project and returns the
/// `project` events of the members of every project that changed.
pub(in crate::store::postgres) async fn end_projects(
    tx: &Transaction<'_>,
    user: i64,
    now: &str,
) -> Result<Vec<Event>> {
    let sql = "SELECT p.id, p.name FROM projects p WHERE p.owner_id = $1 AND EXISTS (
                   SELECT 1 FROM project_members m WHERE m.project_id = p.id AND m.user_id <> $1)
               ORDER BY p.id";
    let shared = rows(tx, sql, &[&user])
        .await?
        .iter()
        .map(|r| {
            Ok(ProjectRef {
                id: r.try_get(0)?,
                name: r.try_get(1)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    if !shared.is_empty() {
        return Err(refused(Refusal::OwnsShared(shared)));
    }
    let sql = "SELECT project_id FROM project_members WHERE user_id = $1
               UNION SELECT project_id FROM tasks WHERE user_id = $1 AND project_id IS NOT NULL
               UNION SELECT project_id FROM tasks WHERE assignee_id = $1 AND project_id IS NOT NULL
               EXCEPT SELECT id FROM projects WHERE owner_id = $1
               ORDER BY 1";
    let affected: Vec<i64> = rows(tx, sql, &[&user])
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<std::result::Result<_, _>>()?;
    // The team's work stays in the project, its owner its creator from now on; what was
    // assigned to it is assigned to nobody. One change (one version) per task.
    for sql in [
        "UPDATE tasks t SET user_id = p.owner_id,
                 assignee_id = CASE WHEN t.assignee_id = $1 THEN NULL ELSE t.assignee_id END,
                 updated_at = $2, version = t.version + 1
         FROM projects p
         WHERE p.id = t.project_id AND t.user_id = $1 AND t.project_id IS NOT NULL
           AND p.owner_id <> $1",
        "UPDATE tasks t SET assignee_id = NULL, updated_at = $2, version = t.version + 1
         FROM projects p
         WHERE p.id = t.project_id AND t.assignee_id = $1 AND t.project_id IS NOT NULL
           AND p.owner_id <> $1",
    ] {
        rows(tx, sql, &[&user, &now]).await?;
    }
    for sql in [
        "DELETE FROM project_invitations WHERE invitee_id = $1",
        "DELETE FROM project_invitations WHERE inviter_id = $1",
        "DELETE FROM project_invitations
         WHERE project_id IN (SELECT id FROM projects WHERE owner_id = $1)",
        "DELETE FROM project_members WHERE user_id = $1",
    ] {
        rows(tx, sql, &[&user]).await?;
    }
    let mut events = Vec::new();
    for id in affected {
        let members = members_of(tx, id).await?;
        events.extend(project_events(tx, id, &members).await?);
    }
    Ok(events)
}
