//! The parts SQLite's project store is made of: reading projects, members and
//! invitations, checking a rule against the roles inside the transaction, and
//! writing the outbox events of a membership change.

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::model::{
    Action, Event, Invitation, Member, Project, ProjectRef, Role, Timestamp, UserRef,
};
use crate::store::projects::{
    Check, INVITATION_SELECT, PROJECT_SELECT, Refusal, Rule, refused, removed_json, role_of,
};
use crate::store::{Result, StoreError};

pub(super) fn project_row(r: &Row) -> rusqlite::Result<(Project, String)> {
    let role: String = r.get(4)?;
    Ok((
        Project {
            id: r.get(0)?,
            name: r.get(1)?,
            owner: UserRef {
                id: r.get(2)?,
                username: r.get(3)?,
            },
            role: Role::Viewer,
            member_count: r.get(5)?,
            created_at: Timestamp(r.get(6)?),
            updated_at: Timestamp(r.get(7)?),
            version: r.get(8)?,
        },
        role,
    ))
}

pub(super) fn with_role((mut p, role): (Project, String)) -> Result<Project> {
    p.role = role_of(&role)?;
    Ok(p)
}

pub(super) fn invitation_row(r: &Row) -> rusqlite::Result<(Invitation, String)> {
    Ok((
        Invitation {
            id: r.get(0)?,
            project: ProjectRef {
                id: r.get(1)?,
                name: r.get(2)?,
            },
            inviter: UserRef {
                id: r.get(3)?,
                username: r.get(4)?,
            },
            invitee: UserRef {
                id: r.get(5)?,
                username: r.get(6)?,
            },
            role: Role::Viewer,
            created_at: Timestamp(r.get(8)?),
            expires_at: Timestamp(r.get(9)?),
        },
        r.get(7)?,
    ))
}

pub(super) fn invitations(
    c: &Connection,
    filter: &str,
    args: impl rusqlite::Params,
) -> Result<Vec<Invitation>> {
    let sql = format!("{INVITATION_SELECT} WHERE {filter} ORDER BY i.id");
    let rows: Vec<(Invitation, String)> = c
        .prepare_cached(&sql)?
        .query_map(args, invitation_row)?
        .collect::<rusqlite::Result<_>>()?;
    rows.into_iter()
        .map(|(mut i, role)| {
            i.role = role_of(&role)?;
            Ok(i)
        })
        .collect()
}

/// Project `id` as `user` sees it; `Missing` unless they are a member.
pub(super) fn project_for(c: &Connection, user: i64, id: i64) -> Result<Project> {
    let sql = format!("{PROJECT_SELECT} WHERE m.user_id = ?1 AND p.id = ?2");
    match c
        .prepare_cached(&sql)?
        .query_row(params![user, id], project_row)
        .optional()?
    {
        Some(row) => with_role(row),
        None => Err(refused(Refusal::Missing("Project"))),
    }
}

pub(super) fn role_in(c: &Connection, id: i64, user: i64) -> Result<Option<Role>> {
    let role: Option<String> = c
        .prepare_cached("SELECT role FROM project_members WHERE project_id = ?1 AND user_id = ?2")?
        .query_row(params![id, user], |r| r.get(0))
        .optional()?;
    role.as_deref().map(role_of).transpose()
}

/// The caller's role, checked by `rule` against `target`'s (`Missing` if either is not
/// a member).
pub(super) fn check(
    c: &Connection,
    rule: Rule,
    id: i64,
    actor: i64,
    target: Option<i64>,
    new_role: Option<Role>,
) -> Result<(Role, Option<Role>)> {
    let actor_role = role_in(c, id, actor)?.ok_or(refused(Refusal::Missing("Project")))?;
    let target_role = match target {
        Some(t) => Some(role_in(c, id, t)?.ok_or(refused(Refusal::Missing("Member")))?),
        None => None,
    };
    rule(&Check {
        actor: actor_role,
        target: target_role,
        new_role,
        is_self: target == Some(actor),
    })
    .map_err(refused)?;
    Ok((actor_role, target_role))
}

/// Appends an event for `user` under their next event id; `None` for an account being
/// purged (it takes no more events).
pub(super) fn insert_event(
    c: &Connection,
    user: i64,
    action: Action,
    subject: i64,
    json: &str,
) -> Result<Option<Event>> {
    super::super::events::event_for(c, user, action, subject, json)
}

/// `project` events for `users`, each with the project as that user now sees it.
pub(super) fn project_events(c: &Connection, id: i64, users: &[i64]) -> Result<Vec<Event>> {
    let mut events = Vec::new();
    for &user in users {
        let p = project_for(c, user, id)?;
        let json = serde_json::to_string(&p).map_err(|e| StoreError::Other(e.to_string()))?;
        events.extend(insert_event(c, user, Action::Project, id, &json)?);
    }
    Ok(events)
}

pub(super) fn removed_event(c: &Connection, id: i64, user: i64) -> Result<Option<Event>> {
    insert_event(c, user, Action::ProjectRemoved, id, &removed_json(id))
}

pub(super) fn members_of(c: &Connection, id: i64) -> Result<Vec<i64>> {
    Ok(c.prepare_cached(
        "SELECT user_id FROM project_members WHERE project_id = ?1 ORDER BY user_id",
    )?
    .query_map([id], |r| r.get(0))?
    .collect::<rusqlite::Result<_>>()?)
}

pub(super) fn count(c: &Connection, sql: &str, args: impl rusqlite::Params) -> Result<u32> {
    let n: i64 = c.prepare_cached(sql)?.query_row(args, |r| r.get(0))?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

pub(super) fn owned(c: &Connection, user: i64) -> Result<u32> {
    count(
        c,
        "SELECT COUNT(*) FROM projects WHERE owner_id = ?1",
        [user],
    )
}

pub(super) fn member(c: &Connection, id: i64, user: i64) -> Result<Member> {
    let row: (i64, String, String, String) = c
        .prepare_cached(
            "SELECT u.id, u.username, m.role, m.created_at FROM project_members m
             JOIN users u ON u.id = m.user_id WHERE m.project_id = ?1 AND m.user_id = ?2",
        )?
        .query_row(params![id, user], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
    Ok(Member {
        id: row.0,
        username: row.1,
        role: role_of(&row.2)?,
        joined_at: Timestamp(row.3),
    })
}
