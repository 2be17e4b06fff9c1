//! The parts PostgreSQL's project store is made of: reading projects, members and
//! invitations, checking a rule against the roles inside the transaction, and
//! writing the outbox events of a membership change.

use deadpool_postgres::Transaction;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::model::{
    Action, Event, Invitation, Member, Project, ProjectRef, Role, Timestamp, UserRef,
};
use crate::store::projects::{
    Check, INVITATION_SELECT, PROJECT_SELECT, ProjectLimits, Refusal, Rule, refused, role_of,
};
use crate::store::{Result, StoreError};

pub(super) type Args<'a> = &'a [&'a (dyn ToSql + Sync)];

pub(super) fn project(r: &Row) -> Result<Project> {
    Ok(Project {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        owner: UserRef {
            id: r.try_get(2)?,
            username: r.try_get(3)?,
        },
        role: role_of(r.try_get(4)?)?,
        member_count: r.try_get(5)?,
        created_at: Timestamp(r.try_get(6)?),
        updated_at: Timestamp(r.try_get(7)?),
        version: r.try_get(8)?,
    })
}

pub(super) fn invitation(r: &Row) -> Result<Invitation> {
    Ok(Invitation {
        id: r.try_get(0)?,
        project: ProjectRef {
            id: r.try_get(1)?,
            name: r.try_get(2)?,
        },
        inviter: UserRef {
            id: r.try_get(3)?,
            username: r.try_get(4)?,
        },
        invitee: UserRef {
            id: r.try_get(5)?,
            username: r.try_get(6)?,
        },
        role: role_of(r.try_get(7)?)?,
        created_at: Timestamp(r.try_get(8)?),
        expires_at: Timestamp(r.try_get(9)?),
    })
}

pub(super) async fn rows(tx: &Transaction<'_>, sql: &str, args: Args<'_>) -> Result<Vec<Row>> {
    let stmt = tx.prepare_cached(sql).await?;
    Ok(tx.query(&stmt, args).await?)
}

pub(super) async fn one(tx: &Transaction<'_>, sql: &str, args: Args<'_>) -> Result<Option<Row>> {
    let stmt = tx.prepare_cached(sql).await?;
    Ok(tx.query_opt(&stmt, args).await?)
}

pub(super) async fn count(tx: &Transaction<'_>, sql: &str, args: Args<'_>) -> Result<u32> {
    let n: i64 = one(tx, sql, args)
        .await?
        .ok_or(StoreError::NotFound)?
        .try_get(0)?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

pub(super) async fn invitations(
    tx: &Transaction<'_>,
    filter: &str,
    args: Args<'_>,
) -> Result<Vec<Invitation>> {
    let sql = format!("{INVITATION_SELECT} WHERE {filter} ORDER BY i.id");
    rows(tx, &sql, args).await?.iter().map(invitation).collect()
}

pub(super) async fn project_for(tx: &Transaction<'_>, user: i64, id: i64) -> Result<Project> {
    let sql = format!("{PROJECT_SELECT} WHERE m.user_id = $1 AND p.id = $2");
    match one(tx, &sql, &[&user, &id]).await? {
        Some(r) => project(&r),
        None => Err(refused(Refusal::Missing("Project"))),
    }
}

pub(super) async fn role_in(tx: &Transaction<'_>, id: i64, user: i64) -> Result<Option<Role>> {
    let sql = "SELECT role FROM project_members WHERE project_id = $1 AND user_id = $2";
    match one(tx, sql, &[&id, &user]).await? {
        Some(r) => Ok(Some(role_of(r.try_get(0)?)?)),
        None => Ok(None),
    }
}

/// Locks the project row (`Missing` when there is none) and returns its owner.
pub(super) async fn lock_project(tx: &Transaction<'_>, id: i64) -> Result<i64> {
    let sql = "SELECT owner_id FROM projects WHERE id = $1 FOR UPDATE";
    match one(tx, sql, &[&id]).await? {
        Some(r) => Ok(r.try_get(0)?),
        None => Err(refused(Refusal::Missing("Project"))),
    }
}

/// Locks the users rows of `users` in id order.
pub(super) async fn lock_users(tx: &Transaction<'_>, users: &[i64]) -> Result<()> {
    let mut ids = users.to_vec();
    ids.sort_unstable();
    let sql = "SELECT id FROM users WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE";
    rows(tx, sql, &[&ids]).await?;
    Ok(())
}

pub(super) async fn check(
    tx: &Transaction<'_>,
    rule: Rule,
    id: i64,
    actor: i64,
    target: Option<i64>,
    new_role: Option<Role>,
) -> Result<()> {
    let actor_role = role_in(tx, id, actor)
        .await?
        .ok_or(refused(Refusal::Missing("Project")))?;
    let target_role = match target {
        Some(t) => Some(
            role_in(tx, id, t)
                .await?
                .ok_or(refused(Refusal::Missing("Member")))?,
        ),
        None => None,
    };
    rule(&Check {
        actor: actor_role,
        target: target_role,
        new_role,
        is_self: target == Some(actor),
    })
    .map_err(refused)
}

pub(super) async fn insert_event(
    tx: &Transaction<'_>,
    user: i64,
    action: Action,
    subject: i64,
    json: &str,
) -> Result<Option<Event>> {
    super::super::tasks::event_for(tx, user, action, subject, json).await
}

pub(super) async fn project_events(
    tx: &Transaction<'_>,
    id: i64,
    users: &[i64],
) -> Result<Vec<Event>> {
    let mut events = Vec::new();
    for &user in users {
        let p = project_for(tx, user, id).await?;
        let json = serde_json::to_string(&p).map_err(|e| StoreError::Other(e.to_string()))?;
        events.extend(insert_event(tx, user, Action::Project, id, &json).await?);
    }
    Ok(events)
}

pub(super) async fn members_of(tx: &Transaction<'_>, id: i64) -> Result<Vec<i64>> {
    let sql = "SELECT user_id FROM project_members WHERE project_id = $1 ORDER BY user_id";
    rows(tx, sql, &[&id])
        .await?
        .iter()
        .map(|r| Ok(r.try_get(0)?))
        .collect()
}

/// Project `$1`'s members, by id, if user `$2` is one of them (else none).
pub(super) const MEMBERS: &str = "SELECT u.id, u.username, m.role, m.created_at
     FROM project_members m JOIN users u ON u.id = m.user_id
     WHERE m.project_id = $1 AND EXISTS (
         SELECT 1 FROM project_members c WHERE c.project_id = $1 AND c.user_id = $2)
     ORDER BY m.user_id";

pub(super) fn member_row(r: &Row) -> Result<Member> {
    Ok(Member {
        id: r.try_get(0)?,
        username: r.try_get(1)?,
        role: role_of(r.try_get(2)?)?,
        joined_at: Timestamp(r.try_get(3)?),
    })
}

pub(super) async fn member(tx: &Transaction<'_>, id: i64, user: i64) -> Result<Member> {
    let sql = "SELECT u.id, u.username, m.role, m.created_at FROM project_members m
               JOIN users u ON u.id = m.user_id WHERE m.project_id = $1 AND m.user_id = $2";
    let r = one(tx, sql, &[&id, &user])
        .await?
        .ok_or(StoreError::NotFound)?;
    member_row(&r)
}

pub(super) async fn owned(tx: &Transaction<'_>, user: i64) -> Result<u32> {
    count(
        tx,
        "SELECT COUNT(*) FROM projects WHERE owner_id = $1",
        &[&user],
    )
    .await
}

pub(super) async fn member_room(
    tx: &Transaction<'_>,
    id: i64,
    limits: ProjectLimits,
) -> Result<()> {
    let sql = "SELECT COUNT(*) FROM project_members WHERE project_id = $1";
    let members = count(tx, sql, &[&id]).await?;
    if members >= limits.max_members {
        return Err(refused(Refusal::Conflict(format!(
            "The project has {members} members, the most it may have."
        ))));
    }
    Ok(())
}
