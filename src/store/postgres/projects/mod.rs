//! Projects, members and invitations on PostgreSQL.
//!
//! A change to a project locks its `projects` row first (`FOR UPDATE`), so the changes
//! of one project run one after another and each counts members and invitations as the
//! last left them; then the users it writes events for, in id order, in one statement
//! (`FOR NO KEY UPDATE`), the order every writer of several users' events takes, so no
//! two of them deadlock. Creating a project locks its owner's user row before counting
//! what they own.

use async_trait::async_trait;

use super::Postgres;
use crate::clock::now_timestamp;
use crate::model::{Action, Event, Invitation, Member, Project, Role, UserRef};
use crate::store::projects::{
    NewInvitation, PROJECT_SELECT, ProjectLimits, ProjectStore, Refusal, Rule, owned_limit,
    refused, removed_json,
};
use crate::store::tasks::IfMatch;
use crate::store::{Result, StoreError};

pub(super) mod account;
mod rows;

use rows::*;

#[async_trait]
impl ProjectStore for Postgres {
    async fn find_person(
        &self,
        username: Option<String>,
        email: Option<String>,
    ) -> Result<Option<UserRef>> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let sql = "SELECT id, username FROM users WHERE deleted_at IS NULL
                   AND (username = $1 OR lower(email) = lower($2 COLLATE \"C\"))";
        match one(&tx, sql, &[&username, &email]).await? {
            Some(r) => Ok(Some(UserRef {
                id: r.try_get(0)?,
                username: r.try_get(1)?,
            })),
            None => Ok(None),
        }
    }

    async fn create_project(
        &self,
        owner: i64,
        name: String,
        limits: ProjectLimits,
    ) -> Result<(Project, Vec<Event>)> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        lock_users(&tx, &[owner]).await?;
        if owned(&tx, owner).await? >= limits.max_owned {
            return Err(refused(owned_limit(limits.max_owned)));
        }
        let now = now_timestamp();
        let sql = "INSERT INTO projects (name, owner_id, created_at, updated_at)
                   VALUES ($1, $2, $3, $3) RETURNING id";
        let id: i64 = one(&tx, sql, &[&name, &owner, &now])
            .await?
            .ok_or(StoreError::NotFound)?
            .try_get(0)?;
        let sql = "INSERT INTO project_members (project_id, user_id, role, created_at)
                   VALUES ($1, $2, 'owner', $3)";
        rows(&tx, sql, &[&id, &owner, &now]).await?;
        let events = project_events(&tx, id, &[owner]).await?;
        let p = project_for(&tx, owner, id).await?;
        self.commit(tx).await?;
        Ok((p, events))
    }

    // One statement, outside a transaction (no `BEGIN`/`ROLLBACK` round trips): every
    // task create in a project asks it first.
    async fn get_project(&self, user: i64, id: i64) -> Result<Project> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&format!(
                "{PROJECT_SELECT} WHERE m.user_id = $1 AND p.id = $2"
            ))
            .await?;
        match c.query_opt(&stmt, &[&user, &id]).await? {
            Some(r) => project(&r),
            None => Err(refused(Refusal::Missing("Project"))),
        }
    }

    async fn list_projects(&self, user: i64) -> Result<Vec<Project>> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let sql = format!("{PROJECT_SELECT} WHERE m.user_id = $1 ORDER BY p.id");
        rows(&tx, &sql, &[&user])
            .await?
            .iter()
            .map(project)
            .collect()
    }

    async fn rename_project(
        &self,
        actor: i64,
        id: i64,
        name: String,
        if_match: Option<IfMatch>,
        rule: Rule,
    ) -> Result<(Project, Vec<Event>)> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        lock_project(&tx, id).await?;
        check(&tx, rule, id, actor, None, None).await?;
        let current = project_for(&tx, actor, id).await?;
        if let Some(IfMatch::Versions(v)) = &if_match
            && !v.contains(&current.version)
        {
            return Err(StoreError::Stale {
                current: current.version,
            });
        }
        let members = members_of(&tx, id).await?;
        lock_users(&tx, &members).await?;
        let sql = "UPDATE projects SET name = $1, updated_at = $2, version = version + 1
                   WHERE id = $3";
        rows(&tx, sql, &[&name, &now_timestamp(), &id]).await?;
        let events = project_events(&tx, id, &members).await?;
        let p = project_for(&tx, actor, id).await?;
        self.commit(tx).await?;
        Ok((p, events))
    }

    async fn delete_project(&self, actor: i64, id: i64, rule: Rule) -> Result<Vec<Event>> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        lock_project(&tx, id).await?;
        check(&tx, rule, id, actor, None, None).await?;
        let members = members_of(&tx, id).await?;
        lock_users(&tx, &members).await?;
        rows(&tx, "DELETE FROM tasks WHERE project_id = $1", &[&id]).await?;
        rows(&tx, "DELETE FROM projects WHERE id = $1", &[&id]).await?;
        let mut events = Vec::new();
        for user in members {
            let json = removed_json(id);
            events.extend(insert_event(&tx, user, Action::ProjectRemoved, id, &json).await?);
        }
        self.commit(tx).await?;
        Ok(events)
    }

    // One statement: one snapshot (a member removed meanwhile is in it or not, never
    // half), one round trip; every task create in a project asks it first. A project
    // always has its owner, so no row means the caller is not a member.
    async fn list_members(&self, user: i64, id: i64) -> Result<Vec<Member>> {
        let c = self.client().await?;
        let stmt = c.prepare_cached(MEMBERS).await?;
        let out = c
            .query(&stmt, &[&id, &user])
            .await?
            .iter()
            .map(member_row)
            .collect::<Result<Vec<_>>>()?;
        if out.is_empty() {
            return Err(refused(Refusal::Missing("Project")));
        }
        Ok(out)
    }

    async fn set_member_role(
        &self,
        actor: i64,
        id: i64,
        user: i64,
        role: Role,
        rule: Rule,
    ) -> Result<(Member, Vec<Event>)> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        lock_project(&tx, id).await?;
        check(&tx, rule, id, actor, Some(user), Some(role)).await?;
        lock_users(&tx, &[user]).await?;
        let sql = "UPDATE project_members SET role = $1 WHERE project_id = $2 AND user_id = $3";
        rows(&tx, sql, &[&role.as_str(), &id, &user]).await?;
        let events = project_events(&tx, id, &[user]).await?;
        let m = member(&tx, id, user).await?;
        self.commit(tx).await?;
        Ok((m, events))
    }

    async fn remove_member(
        &self,
        actor: i64,
        id: i64,
        user: i64,
        rule: Rule,
    ) -> Result<Vec<Event>> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        lock_project(&tx, id).await?;
        check(&tx, rule, id, actor, Some(user), None).await?;
        lock_users(&tx, &[user]).await?;
        let sql = "DELETE FROM project_members WHERE project_id = $1 AND user_id = $2";
        rows(&tx, sql, &[&id, &user]).await?;
        let json = removed_json(id);
        let events = insert_event(&tx, user, Action::ProjectRemoved, id, &json).await?;
        self.commit(tx).await?;
        Ok(events.into_iter().collect())
    }

    async fn transfer_project(
        &self,
        actor: Option<i64>,
        id: i64,
        to: i64,
        limits: ProjectLimits,
        rule: Rule,
    ) -> Result<(Project, Vec<Event>)> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let old = lock_project(&tx, id).await?;
        match actor {
            Some(actor) => check(&tx, rule, id, actor, Some(to), Some(Role::Owner)).await?,
            None => {
                role_in(&tx, id, to)
                    .await?
                    .ok_or(refused(Refusal::Missing("Member")))?;
            }
        }
        if to == old {
            return Err(refused(Refusal::Conflict(
                "This user already owns the project.".into(),
            )));
        }
        let members = members_of(&tx, id).await?;
        lock_users(&tx, &members).await?;
        if owned(&tx, to).await? >= limits.max_owned {
            return Err(refused(owned_limit(limits.max_owned)));
        }
        let sql = "UPDATE project_members SET role = $3 WHERE project_id = $1 AND user_id = $2";
        rows(&tx, sql, &[&id, &old, &"admin"]).await?;
        rows(&tx, sql, &[&id, &to, &"owner"]).await?;
        let sql = "UPDATE projects SET owner_id = $1, updated_at = $2, version = version + 1
                   WHERE id = $3";
        rows(&tx, sql, &[&to, &now_timestamp(), &id]).await?;
        let events = project_events(&tx, id, &members).await?;
        let p = project_for(&tx, actor.unwrap_or(to), id).await?;
        self.commit(tx).await?;
        Ok((p, events))
    }

    async fn create_invitation(
        &self,
        actor: i64,
        new: NewInvitation,
        limits: ProjectLimits,
        rule: Rule,
    ) -> Result<Invitation> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let id = new.project_id;
        lock_project(&tx, id).await?;
        check(&tx, rule, id, actor, None, Some(new.role)).await?;
        if role_in(&tx, id, new.invitee_id).await?.is_some() {
            return Err(refused(Refusal::Invalid(
                "username",
                "This user is already a member of the project.".into(),
            )));
        }
        let sql = "DELETE FROM project_invitations
                   WHERE project_id = $1 AND invitee_id = $2 AND expires_at <= $3";
        rows(&tx, sql, &[&id, &new.invitee_id, &new.now]).await?;
        member_room(&tx, id, limits).await?;
        let sql =
            "SELECT COUNT(*) FROM project_invitations WHERE project_id = $1 AND expires_at > $2";
        let pending = count(&tx, sql, &[&id, &new.now]).await?;
        if pending >= limits.max_pending_invitations {
            return Err(refused(Refusal::Conflict(format!(
                "The project has {pending} pending invitations, the most it may have: \
                 withdraw one first."
            ))));
        }
        let sql = "INSERT INTO project_invitations
                   (project_id, inviter_id, invitee_id, role, created_at, expires_at)
                   VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING id";
        let role = new.role.as_str();
        let args: Args = &[
            &id,
            &actor,
            &new.invitee_id,
            &role,
            &new.now,
            &new.expires_at,
        ];
        let Some(r) = one(&tx, sql, args).await? else {
            return Err(refused(Refusal::Invalid(
                "username",
                "This user already has a pending invitation to the project.".into(),
            )));
        };
        let inv: i64 = r.try_get(0)?;
        let out = invitations(&tx, "i.id = $1", &[&inv])
            .await?
            .pop()
            .ok_or(StoreError::NotFound)?;
        self.commit(tx).await?;
        Ok(out)
    }

    async fn project_invitations(
        &self,
        actor: i64,
        id: i64,
        now: String,
        rule: Rule,
    ) -> Result<Vec<Invitation>> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        check(&tx, rule, id, actor, None, None).await?;
        invitations(&tx, "i.project_id = $1 AND i.expires_at > $2", &[&id, &now]).await
    }

    async fn my_invitations(&self, user: i64, now: String) -> Result<Vec<Invitation>> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        invitations(
            &tx,
            "i.invitee_id = $1 AND i.expires_at > $2",
            &[&user, &now],
        )
        .await
    }

    async fn withdraw_invitation(&self, actor: i64, id: i64, inv: i64, rule: Rule) -> Result<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        lock_project(&tx, id).await?;
        check(&tx, rule, id, actor, None, None).await?;
        let sql = "DELETE FROM project_invitations WHERE id = $1 AND project_id = $2 RETURNING id";
        if rows(&tx, sql, &[&inv, &id]).await?.is_empty() {
            return Err(refused(Refusal::Missing("Invitation")));
        }
        self.commit(tx).await
    }

    async fn accept_invitation(
        &self,
        user: i64,
        inv: i64,
        now: String,
        limits: ProjectLimits,
    ) -> Result<(Project, Vec<Event>)> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let sql = "SELECT project_id FROM project_invitations WHERE id = $1 AND invitee_id = $2";
        let id: i64 = one(&tx, sql, &[&inv, &user])
            .await?
            .ok_or(refused(Refusal::Missing("Invitation")))?
            .try_get(0)?;
        lock_project(&tx, id).await?;
        // Read again under the project's lock: it may have been withdrawn meanwhile.
        let sql = "DELETE FROM project_invitations
                   WHERE id = $1 AND invitee_id = $2 AND expires_at > $3 RETURNING role";
        let role: String = one(&tx, sql, &[&inv, &user, &now])
            .await?
            .ok_or(refused(Refusal::Missing("Invitation")))?
            .try_get(0)?;
        member_room(&tx, id, limits).await?;
        lock_users(&tx, &[user]).await?;
        let sql = "INSERT INTO project_members (project_id, user_id, role, created_at)
                   VALUES ($1, $2, $3, $4)";
        rows(&tx, sql, &[&id, &user, &role, &now]).await?;
        let events = project_events(&tx, id, &[user]).await?;
        let p = project_for(&tx, user, id).await?;
        self.commit(tx).await?;
        Ok((p, events))
    }

    async fn decline_invitation(&self, user: i64, inv: i64) -> Result<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let sql = "DELETE FROM project_invitations WHERE id = $1 AND invitee_id = $2 RETURNING id";
        if rows(&tx, sql, &[&inv, &user]).await?.is_empty() {
            return Err(refused(Refusal::Missing("Invitation")));
        }
        self.commit(tx).await
    }
}
