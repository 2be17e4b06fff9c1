//! Projects, members and invitations on SQLite. Every change runs on the one writer, so
//! the roles a rule is checked against, the limits counted and the outbox events written
//! are all of one transaction, with no lock of their own.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::Sqlite;
use crate::clock::now_timestamp;
use crate::model::{Event, Invitation, Member, Project, Role, UserRef};
use crate::store::projects::{
    NewInvitation, PROJECT_SELECT, ProjectLimits, ProjectStore, Refusal, Rule, owned_limit, refused,
};
use crate::store::tasks::IfMatch;
use crate::store::{Result, StoreError};

pub(super) mod account;
mod rows;

use rows::*;

#[async_trait]
impl ProjectStore for Sqlite {
    async fn find_person(
        &self,
        username: Option<String>,
        email: Option<String>,
    ) -> Result<Option<UserRef>> {
        self.run(move |c| {
            Ok(c.prepare_cached(
                "SELECT id, username FROM users WHERE deleted_at IS NULL
                 AND (username = ?1 OR email = ?2 COLLATE NOCASE)",
            )?
            .query_row(params![username, email], |r| {
                Ok(UserRef {
                    id: r.get(0)?,
                    username: r.get(1)?,
                })
            })
            .optional()?)
        })
        .await
    }

    async fn create_project(
        &self,
        owner: i64,
        name: String,
        limits: ProjectLimits,
    ) -> Result<(Project, Vec<Event>)> {
        self.write(move |tx| {
            if owned(tx, owner)? >= limits.max_owned {
                return Err(refused(owned_limit(limits.max_owned)));
            }
            let now = now_timestamp();
            tx.prepare_cached(
                "INSERT INTO projects (name, owner_id, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?3)",
            )?
            .execute(params![name, owner, now])?;
            let id = tx.last_insert_rowid();
            tx.prepare_cached(
                "INSERT INTO project_members (project_id, user_id, role, created_at)
                 VALUES (?1, ?2, 'owner', ?3)",
            )?
            .execute(params![id, owner, now])?;
            let events = project_events(tx, id, &[owner])?;
            Ok((project_for(tx, owner, id)?, events))
        })
        .await
    }

    async fn get_project(&self, user: i64, id: i64) -> Result<Project> {
        self.run(move |c| project_for(c, user, id)).await
    }

    async fn list_projects(&self, user: i64) -> Result<Vec<Project>> {
        self.run(move |c| {
            let sql = format!("{PROJECT_SELECT} WHERE m.user_id = ?1 ORDER BY p.id");
            let rows: Vec<(Project, String)> = c
                .prepare_cached(&sql)?
                .query_map([user], project_row)?
                .collect::<rusqlite::Result<_>>()?;
            rows.into_iter().map(with_role).collect()
        })
        .await
    }

    async fn rename_project(
        &self,
        actor: i64,
        id: i64,
        name: String,
        if_match: Option<IfMatch>,
        rule: Rule,
    ) -> Result<(Project, Vec<Event>)> {
        self.write(move |tx| {
            check(tx, rule, id, actor, None, None)?;
            let current = project_for(tx, actor, id)?;
            if let Some(IfMatch::Versions(v)) = &if_match
                && !v.contains(&current.version)
            {
                return Err(StoreError::Stale {
                    current: current.version,
                });
            }
            tx.prepare_cached(
                "UPDATE projects SET name = ?1, updated_at = ?2, version = version + 1
                 WHERE id = ?3",
            )?
            .execute(params![name, now_timestamp(), id])?;
            let events = project_events(tx, id, &members_of(tx, id)?)?;
            Ok((project_for(tx, actor, id)?, events))
        })
        .await
    }

    async fn delete_project(&self, actor: i64, id: i64, rule: Rule) -> Result<Vec<Event>> {
        self.write(move |tx| {
            check(tx, rule, id, actor, None, None)?;
            let members = members_of(tx, id)?;
            tx.prepare_cached("DELETE FROM tasks WHERE project_id = ?1")?
                .execute([id])?;
            tx.prepare_cached("DELETE FROM projects WHERE id = ?1")?
                .execute([id])?;
            let mut events = Vec::new();
            for user in members {
                events.extend(removed_event(tx, id, user)?);
            }
            Ok(events)
        })
        .await
    }

    async fn list_members(&self, user: i64, id: i64) -> Result<Vec<Member>> {
        self.run(move |c| {
            role_in(c, id, user)?.ok_or(refused(Refusal::Missing("Project")))?;
            members_of(c, id)?
                .into_iter()
                .map(|m| member(c, id, m))
                .collect()
        })
        .await
    }

    async fn set_member_role(
        &self,
        actor: i64,
        id: i64,
        user: i64,
        role: Role,
        rule: Rule,
    ) -> Result<(Member, Vec<Event>)> {
        self.write(move |tx| {
            check(tx, rule, id, actor, Some(user), Some(role))?;
            tx.prepare_cached(
                "UPDATE project_members SET role = ?1 WHERE project_id = ?2 AND user_id = ?3",
            )?
            .execute(params![role.as_str(), id, user])?;
            let events = project_events(tx, id, &[user])?;
            Ok((member(tx, id, user)?, events))
        })
        .await
    }

    async fn remove_member(
        &self,
        actor: i64,
        id: i64,
        user: i64,
        rule: Rule,
    ) -> Result<Vec<Event>> {
        self.write(move |tx| {
            check(tx, rule, id, actor, Some(user), None)?;
            tx.prepare_cached(
                "DELETE FROM project_members WHERE project_id = ?1 AND user_id = ?2",
            )?
            .execute(params![id, user])?;
            Ok(removed_event(tx, id, user)?.into_iter().collect())
        })
        .await
    }

    async fn transfer_project(
        &self,
        actor: Option<i64>,
        id: i64,
        to: i64,
        limits: ProjectLimits,
        rule: Rule,
    ) -> Result<(Project, Vec<Event>)> {
        self.write(move |tx| {
            let old: i64 = tx
                .prepare_cached("SELECT owner_id FROM projects WHERE id = ?1")?
                .query_row([id], |r| r.get(0))
                .optional()?
                .ok_or(refused(Refusal::Missing("Project")))?;
            match actor {
                Some(actor) => {
                    check(tx, rule, id, actor, Some(to), Some(Role::Owner))?;
                }
                None => {
                    role_in(tx, id, to)?.ok_or(refused(Refusal::Missing("Member")))?;
                }
            }
            if to == old {
                return Err(refused(Refusal::Conflict(
                    "This user already owns the project.".into(),
                )));
            }
            if owned(tx, to)? >= limits.max_owned {
                return Err(refused(owned_limit(limits.max_owned)));
            }
            let now = now_timestamp();
            tx.prepare_cached(
                "UPDATE project_members SET role = 'admin' WHERE project_id = ?1 AND user_id = ?2",
            )?
            .execute(params![id, old])?;
            tx.prepare_cached(
                "UPDATE project_members SET role = 'owner' WHERE project_id = ?1 AND user_id = ?2",
            )?
            .execute(params![id, to])?;
            tx.prepare_cached(
                "UPDATE projects SET owner_id = ?1, updated_at = ?2, version = version + 1
                 WHERE id = ?3",
            )?
            .execute(params![to, now, id])?;
            let events = project_events(tx, id, &members_of(tx, id)?)?;
            Ok((project_for(tx, actor.unwrap_or(to), id)?, events))
        })
        .await
    }

    async fn create_invitation(
        &self,
        actor: i64,
        new: NewInvitation,
        limits: ProjectLimits,
        rule: Rule,
    ) -> Result<Invitation> {
        self.write(move |tx| {
            let id = new.project_id;
            check(tx, rule, id, actor, None, Some(new.role))?;
            if role_in(tx, id, new.invitee_id)?.is_some() {
                return Err(refused(Refusal::Invalid(
                    "username",
                    "This user is already a member of the project.".into(),
                )));
            }
            tx.prepare_cached(
                "DELETE FROM project_invitations
                 WHERE project_id = ?1 AND invitee_id = ?2 AND expires_at <= ?3",
            )?
            .execute(params![id, new.invitee_id, new.now])?;
            let members = count(tx, "SELECT COUNT(*) FROM project_members WHERE project_id = ?1", [id])?;
            if members >= limits.max_members {
                return Err(refused(Refusal::Conflict(format!(
                    "The project has {members} members, the most it may have."
                ))));
            }
            let pending = count(
                tx,
                "SELECT COUNT(*) FROM project_invitations WHERE project_id = ?1 AND expires_at > ?2",
                params![id, new.now],
            )?;
            if pending >= limits.max_pending_invitations {
                return Err(refused(Refusal::Conflict(format!(
                    "The project has {pending} pending invitations, the most it may have: \
                     withdraw one first."
                ))));
            }
            let inserted = tx
                .prepare_cached(
                    "INSERT INTO project_invitations
                     (project_id, inviter_id, invitee_id, role, created_at, expires_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
                )?
                .execute(params![
                    id,
                    actor,
                    new.invitee_id,
                    new.role.as_str(),
                    new.now,
                    new.expires_at
                ])?;
            if inserted == 0 {
                return Err(refused(Refusal::Invalid(
                    "username",
                    "This user already has a pending invitation to the project.".into(),
                )));
            }
            let inv = tx.last_insert_rowid();
            invitations(tx, "i.id = ?1", [inv])?
                .pop()
                .ok_or(StoreError::NotFound)
        })
        .await
    }

    async fn project_invitations(
        &self,
        actor: i64,
        id: i64,
        now: String,
        rule: Rule,
    ) -> Result<Vec<Invitation>> {
        self.run(move |c| {
            check(c, rule, id, actor, None, None)?;
            invitations(
                c,
                "i.project_id = ?1 AND i.expires_at > ?2",
                params![id, now],
            )
        })
        .await
    }

    async fn my_invitations(&self, user: i64, now: String) -> Result<Vec<Invitation>> {
        self.run(move |c| {
            invitations(
                c,
                "i.invitee_id = ?1 AND i.expires_at > ?2",
                params![user, now],
            )
        })
        .await
    }

    async fn withdraw_invitation(&self, actor: i64, id: i64, inv: i64, rule: Rule) -> Result<()> {
        self.write(move |tx| {
            check(tx, rule, id, actor, None, None)?;
            let n = tx
                .prepare_cached(
                    "DELETE FROM project_invitations WHERE id = ?1 AND project_id = ?2",
                )?
                .execute(params![inv, id])?;
            if n == 0 {
                return Err(refused(Refusal::Missing("Invitation")));
            }
            Ok(())
        })
        .await
    }

    async fn accept_invitation(
        &self,
        user: i64,
        inv: i64,
        now: String,
        limits: ProjectLimits,
    ) -> Result<(Project, Vec<Event>)> {
        self.write(move |tx| {
            let found: Option<(i64, String)> = tx
                .prepare_cached(
                    "SELECT project_id, role FROM project_invitations
                     WHERE id = ?1 AND invitee_id = ?2 AND expires_at > ?3",
                )?
                .query_row(params![inv, user, now], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let (id, role) = found.ok_or(refused(Refusal::Missing("Invitation")))?;
            let members = count(
                tx,
                "SELECT COUNT(*) FROM project_members WHERE project_id = ?1",
                [id],
            )?;
            if members >= limits.max_members {
                return Err(refused(Refusal::Conflict(format!(
                    "The project has {members} members, the most it may have."
                ))));
            }
            tx.prepare_cached("DELETE FROM project_invitations WHERE id = ?1")?
                .execute([inv])?;
            tx.prepare_cached(
                "INSERT INTO project_members (project_id, user_id, role, created_at)
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![id, user, role, now])?;
            let events = project_events(tx, id, &[user])?;
            Ok((project_for(tx, user, id)?, events))
        })
        .await
    }

    async fn decline_invitation(&self, user: i64, inv: i64) -> Result<()> {
        self.write(move |tx| {
            let n = tx
                .prepare_cached(
                    "DELETE FROM project_invitations WHERE id = ?1 AND invitee_id = ?2",
                )?
                .execute(params![inv, user])?;
            if n == 0 {
                return Err(refused(Refusal::Missing("Invitation")));
            }
            Ok(())
        })
        .await
    }
}
