//! Shared projects: one function per operation on projects, their members and their
//! invitations, each checking, writing through the store and publishing what it
//! committed. Who may do what is [`roles`]'s rules, which the store applies inside the
//! write's transaction to the roles as they are there.
//!
//! A project a user is not a member of does not exist for them (`Missing("Project")`,
//! answered as a 404); a member whose role is too low is refused naming the role needed.
//! Nobody becomes a member without accepting an invitation, which expires after
//! [`INVITATION_TTL`]; sending invitations is throttled per user.

pub mod roles;
pub mod task_rules;

use std::time::Duration;

use super::{Chars, DomainError, FieldErrors, check_chars};
use crate::clock::{now_and_in, now_timestamp};
use crate::hub::Hub;
use crate::model::{Event, Invitation, Member, Project, Role, User};
use crate::store::Store;
use crate::store::projects::{NewInvitation, ProjectLimits};
use crate::store::tasks::IfMatch;
use crate::throttle::{Throttle, ThrottleError};

/// How long an invitation can be accepted.
pub const INVITATION_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

const NAME: Chars = Chars::trimmed(100);

/// What the project operations reach.
#[derive(Clone, Copy)]
pub struct ProjectContext<'a> {
    pub store: &'a Store,
    pub hub: &'a Hub,
    pub limits: ProjectLimits,
    /// Invitations sent per user (scope `invite`).
    pub invites: &'a Throttle,
}

/// Who is invited: by username or by email (exactly one).
#[derive(Debug, Clone)]
pub enum Invitee {
    Username(String),
    Email(String),
}

fn publish(hub: &Hub, events: Vec<Event>) {
    for e in events {
        hub.publish(e);
    }
}

/// Checks a project name (1 to 100 characters, trimmed).
fn check_name(name: Option<String>, mut errors: FieldErrors) -> Result<String, DomainError> {
    let name = match name {
        Some(n) => match check_chars(n, NAME) {
            Ok(n) => Some(n),
            Err(m) => {
                errors.add("name", m);
                None
            }
        },
        None if errors.is_empty() => {
            errors.add("name", super::REQUIRED);
            None
        }
        None => None,
    };
    errors.into_result()?;
    name.ok_or(DomainError::Invalid(FieldErrors::one(
        "name",
        super::REQUIRED,
    )))
}

/// Creates a project owned by `user`.
pub async fn create(
    ctx: &ProjectContext<'_>,
    user: &User,
    name: Option<String>,
    errors: FieldErrors,
) -> Result<Project, DomainError> {
    let name = check_name(name, errors)?;
    let (project, events) = ctx.store.create_project(user.id, name, ctx.limits).await?;
    publish(ctx.hub, events);
    Ok(project)
}

/// The projects `user` belongs to.
pub async fn list(ctx: &ProjectContext<'_>, user: &User) -> Result<Vec<Project>, DomainError> {
    Ok(ctx.store.list_projects(user.id).await?)
}

/// Project `id`, for a member.
pub async fn get(ctx: &ProjectContext<'_>, user: &User, id: i64) -> Result<Project, DomainError> {
    Ok(ctx.store.get_project(user.id, id).await?)
}

/// Renames project `id` (admin), if still at a version `if_match` names, when given.
pub async fn rename(
    ctx: &ProjectContext<'_>,
    user: &User,
    id: i64,
    name: Option<String>,
    errors: FieldErrors,
    if_match: Option<IfMatch>,
) -> Result<Project, DomainError> {
    let name = match check_name(name, errors) {
        Ok(n) => n,
        Err(e) => {
            // As for tasks: a project the caller cannot see is a 404 first.
            ctx.store.get_project(user.id, id).await?;
            return Err(e);
        }
    };
    let (project, events) = ctx
        .store
        .rename_project(user.id, id, name, if_match, roles::rename)
        .await?;
    publish(ctx.hub, events);
    Ok(project)
}

/// Deletes project `id` and its tasks (owner).
pub async fn delete(ctx: &ProjectContext<'_>, user: &User, id: i64) -> Result<(), DomainError> {
    let events = ctx.store.delete_project(user.id, id, roles::delete).await?;
    publish(ctx.hub, events);
    Ok(())
}

/// The members of project `id`.
pub async fn members(
    ctx: &ProjectContext<'_>,
    user: &User,
    id: i64,
) -> Result<Vec<Member>, DomainError> {
    Ok(ctx.store.list_members(user.id, id).await?)
}

/// Gives `member` of project `id` the role `role`.
pub async fn set_role(
    ctx: &ProjectContext<'_>,
    user: &User,
    id: i64,
    member: i64,
    role: Role,
) -> Result<Member, DomainError> {
    if role == Role::Owner {
        ctx.store.get_project(user.id, id).await?;
        return Err(DomainError::Invalid(FieldErrors::one(
            "role",
            "A project's owner changes only by a transfer: POST /api/projects/{id}/transfer/.",
        )));
    }
    let (member, events) = ctx
        .store
        .set_member_role(user.id, id, member, role, roles::set_role)
        .await?;
    publish(ctx.hub, events);
    Ok(member)
}

/// Removes `member` from project `id`; the caller's own id is leaving.
pub async fn remove(
    ctx: &ProjectContext<'_>,
    user: &User,
    id: i64,
    member: i64,
) -> Result<(), DomainError> {
    let events = ctx
        .store
        .remove_member(user.id, id, member, roles::remove)
        .await?;
    publish(ctx.hub, events);
    Ok(())
}

/// Transfers project `id` to `to`, an admin member (owner); the old owner becomes admin.
pub async fn transfer(
    ctx: &ProjectContext<'_>,
    user: &User,
    id: i64,
    to: i64,
) -> Result<Project, DomainError> {
    let (project, events) = ctx
        .store
        .transfer_project(Some(user.id), id, to, ctx.limits, roles::transfer)
        .await?;
    publish(ctx.hub, events);
    Ok(project)
}

/// The operator's transfer (`tasklane project transfer`): to any member, no role asked.
/// Its events reach streams through the outbox (no hub in an operator command).
pub async fn operator_transfer(
    store: &Store,
    limits: ProjectLimits,
    id: i64,
    to: i64,
) -> Result<Project, DomainError> {
    let (project, _events) = store
        .transfer_project(None, id, to, limits, roles::transfer)
        .await?;
    Ok(project)
}

/// Invites a user to project `id` with `role` (admin; inviting an admin needs the owner).
pub async fn invite(
    ctx: &ProjectContext<'_>,
    user: &User,
    id: i64,
    invitee: Invitee,
    role: Role,
) -> Result<Invitation, DomainError> {
    let project = ctx.store.get_project(user.id, id).await?;
    roles::invite(&crate::store::projects::Check {
        actor: project.role,
        target: None,
        new_role: Some(role),
        is_self: false,
    })
    .map_err(crate::store::StoreError::Refused)?;
    let (field, found) = match invitee {
        Invitee::Username(u) => ("username", ctx.store.find_person(Some(u), None).await?),
        Invitee::Email(e) => ("email", ctx.store.find_person(None, Some(e)).await?),
    };
    let Some(invitee) = found else {
        return Err(DomainError::Invalid(FieldErrors::one(
            field,
            "No account matches: ask them to register first.",
        )));
    };
    match ctx.invites.acquire(&user.id.to_string()).await {
        Ok(_) => {}
        Err(ThrottleError::Wait(retry_after)) => {
            return Err(DomainError::Throttled { retry_after });
        }
        Err(ThrottleError::Store(e)) => return Err(e.into()),
    }
    let (now, expires_at) = now_and_in(INVITATION_TTL);
    let new = NewInvitation {
        project_id: id,
        invitee_id: invitee.id,
        role,
        now,
        expires_at,
    };
    let invitation = ctx
        .store
        .create_invitation(user.id, new, ctx.limits, roles::invite)
        .await
        .map_err(|e| match e {
            // The store names the invitee `username`: it is whichever field named them.
            crate::store::StoreError::Refused(crate::store::projects::Refusal::Invalid(
                "username",
                m,
            )) => DomainError::Invalid(FieldErrors::one(field, m)),
            e => e.into(),
        })?;
    Ok(invitation)
}

/// The pending invitations of project `id` (admin).
pub async fn project_invitations(
    ctx: &ProjectContext<'_>,
    user: &User,
    id: i64,
) -> Result<Vec<Invitation>, DomainError> {
    let now = now_timestamp();
    Ok(ctx
        .store
        .project_invitations(user.id, id, now, roles::manage_invitations)
        .await?)
}

/// Withdraws invitation `inv` of project `id` (admin).
pub async fn withdraw(
    ctx: &ProjectContext<'_>,
    user: &User,
    id: i64,
    inv: i64,
) -> Result<(), DomainError> {
    Ok(ctx
        .store
        .withdraw_invitation(user.id, id, inv, roles::manage_invitations)
        .await?)
}

/// The pending invitations addressed to `user`.
pub async fn my_invitations(
    ctx: &ProjectContext<'_>,
    user: &User,
) -> Result<Vec<Invitation>, DomainError> {
    let now = now_timestamp();
    Ok(ctx.store.my_invitations(user.id, now).await?)
}

/// Accepts `user`'s invitation `inv`: they become a member, if it has not expired.
pub async fn accept(
    ctx: &ProjectContext<'_>,
    user: &User,
    inv: i64,
) -> Result<Project, DomainError> {
    let now = now_timestamp();
    let (project, events) = ctx
        .store
        .accept_invitation(user.id, inv, now, ctx.limits)
        .await?;
    publish(ctx.hub, events);
    Ok(project)
}

/// Declines `user`'s invitation `inv`.
pub async fn decline(ctx: &ProjectContext<'_>, user: &User, inv: i64) -> Result<(), DomainError> {
    Ok(ctx.store.decline_invitation(user.id, inv).await?)
}
