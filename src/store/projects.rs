//! Shared projects as the store takes and gives them: the projects, their members and
//! their invitations.
//!
//! Who may do what is the domain's rule (`domain::projects`), but it is applied here,
//! inside the write's transaction, to the roles as they are there: each change takes a
//! [`Rule`] and calls it with the caller's and the target's current roles, so a role
//! changed by a concurrent write is never acted on stale. Limits are counted in the same
//! transaction. Every membership change writes the outbox events of the members it
//! affects (each under that member's own next event id) and returns them, so the caller
//! publishes exactly what was committed.

use async_trait::async_trait;

use super::Result;
use crate::model::{Event, Invitation, Member, Project, ProjectRef, Role, UserRef};
use crate::store::tasks::IfMatch;

/// What a change asks of the roles, for its [`Rule`].
#[derive(Clone, Copy, Debug)]
pub struct Check {
    /// The caller's role.
    pub actor: Role,
    /// The role of the member acted on, when the change acts on one.
    pub target: Option<Role>,
    /// The role being given, when the change gives one.
    pub new_role: Option<Role>,
    /// The caller acts on themself (leaving).
    pub is_self: bool,
}

/// Why a change was refused by a rule or a limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No such `what` ("Project", "Invitation", "Member") that the caller can see.
    Missing(&'static str),
    /// The caller's role is below this one.
    NeedsRole(Role),
    /// The change conflicts with the project's state (409): the message says how.
    Conflict(String),
    /// The input cannot be taken (400): a field and its message.
    Invalid(&'static str, String),
    /// An account cannot be deleted while it owns these projects, which have other
    /// members (409, listing them).
    OwnsShared(Vec<ProjectRef>),
}

/// A rule: `Ok` when the change may go ahead.
pub type Rule = fn(&Check) -> std::result::Result<(), Refusal>;

/// Limits a change is held to, counted inside its transaction.
#[derive(Clone, Copy, Debug)]
pub struct ProjectLimits {
    pub max_members: u32,
    pub max_owned: u32,
    pub max_pending_invitations: u32,
}

/// A new invitation, its invitee already resolved to a user.
#[derive(Clone, Debug)]
pub struct NewInvitation {
    pub project_id: i64,
    pub invitee_id: i64,
    pub role: Role,
    /// The current instant and the expiry, as API timestamps.
    pub now: String,
    pub expires_at: String,
}

pub(crate) fn refused(r: Refusal) -> super::StoreError {
    super::StoreError::Refused(r)
}

/// The message when a user owns as many projects as allowed.
pub(crate) fn owned_limit(max: u32) -> Refusal {
    Refusal::Conflict(format!(
        "A user may own at most {max} projects: delete or transfer one first."
    ))
}

/// The payload of a `project_removed` event.
pub(crate) fn removed_json(project_id: i64) -> String {
    format!(r#"{{"id":{project_id}}}"#)
}

/// The columns a [`Project`] is read from, for the member `?1`/`$1` (both backends):
/// id, name, owner id, owner username, role, member count, created, updated, version.
pub(crate) const PROJECT_SELECT: &str = "SELECT p.id, p.name, o.id, o.username, m.role,
        (SELECT COUNT(*) FROM project_members c WHERE c.project_id = p.id),
        p.created_at, p.updated_at, p.version
     FROM project_members m
     JOIN projects p ON p.id = m.project_id
     JOIN users o ON o.id = p.owner_id";

/// The columns an [`Invitation`] is read from (both backends).
pub(crate) const INVITATION_SELECT: &str = "SELECT i.id, p.id, p.name, a.id, a.username,
        b.id, b.username, i.role, i.created_at, i.expires_at
     FROM project_invitations i
     JOIN projects p ON p.id = i.project_id
     JOIN users a ON a.id = i.inviter_id
     JOIN users b ON b.id = i.invitee_id";

pub(crate) fn role_of(s: &str) -> Result<Role> {
    Role::parse(s).ok_or_else(|| super::StoreError::Other(format!("bad role {s:?}")))
}

/// Projects, members and invitations. `NotFound`-like answers are
/// [`Refusal::Missing`]: a project the caller is not a member of does not exist for them.
#[async_trait]
pub trait ProjectStore: Send + Sync {
    /// The account (not deleted) with this username, or else with this email (ignoring
    /// ASCII case), as members see each other.
    async fn find_person(
        &self,
        username: Option<String>,
        email: Option<String>,
    ) -> Result<Option<UserRef>>;

    /// Creates a project owned by `owner` (its first member), unless they own
    /// `limits.max_owned` already; the owner gets a `project` event.
    async fn create_project(
        &self,
        owner: i64,
        name: String,
        limits: ProjectLimits,
    ) -> Result<(Project, Vec<Event>)>;

    /// Project `id` as member `user` sees it.
    async fn get_project(&self, user: i64, id: i64) -> Result<Project>;

    /// The projects `user` belongs to, by id.
    async fn list_projects(&self, user: i64) -> Result<Vec<Project>>;

    /// Renames the project (if still at a version `if_match` names, when given): every member gets a
    /// `project` event.
    async fn rename_project(
        &self,
        actor: i64,
        id: i64,
        name: String,
        if_match: Option<IfMatch>,
        rule: Rule,
    ) -> Result<(Project, Vec<Event>)>;

    /// Deletes the project and its tasks: every member gets `project_removed`.
    async fn delete_project(&self, actor: i64, id: i64, rule: Rule) -> Result<Vec<Event>>;

    /// The members of a project `user` belongs to, by user id.
    async fn list_members(&self, user: i64, id: i64) -> Result<Vec<Member>>;

    /// Gives `member` the role `role`; they get a `project` event.
    async fn set_member_role(
        &self,
        actor: i64,
        id: i64,
        member: i64,
        role: Role,
        rule: Rule,
    ) -> Result<(Member, Vec<Event>)>;

    /// Removes `member` (the caller themself: leaving); they get `project_removed`.
    async fn remove_member(
        &self,
        actor: i64,
        id: i64,
        member: i64,
        rule: Rule,
    ) -> Result<Vec<Event>>;

    /// Makes `to` (an admin member) the owner, and the old owner an admin, in one
    /// transaction; both get a `project` event. `actor` `None` is the operator, who
    /// needs no role and may transfer to any member.
    async fn transfer_project(
        &self,
        actor: Option<i64>,
        id: i64,
        to: i64,
        limits: ProjectLimits,
        rule: Rule,
    ) -> Result<(Project, Vec<Event>)>;

    /// Invites a user, unless they are a member or already invited (an expired
    /// invitation of theirs is replaced), or the project has `max_pending_invitations`
    /// pending or `max_members` members.
    async fn create_invitation(
        &self,
        actor: i64,
        new: NewInvitation,
        limits: ProjectLimits,
        rule: Rule,
    ) -> Result<Invitation>;

    /// The project's pending invitations (not expired at `now`), for a member whose role
    /// passes `rule`.
    async fn project_invitations(
        &self,
        actor: i64,
        id: i64,
        now: String,
        rule: Rule,
    ) -> Result<Vec<Invitation>>;

    /// The invitations addressed to `user`, not expired at `now`.
    async fn my_invitations(&self, user: i64, now: String) -> Result<Vec<Invitation>>;

    /// Withdraws invitation `inv` of project `id`.
    async fn withdraw_invitation(&self, actor: i64, id: i64, inv: i64, rule: Rule) -> Result<()>;

    /// Accepts `user`'s invitation `inv` if it has not expired at `now` and the project
    /// has room: they become a member with its role (a `project` event), at once.
    async fn accept_invitation(
        &self,
        user: i64,
        inv: i64,
        now: String,
        limits: ProjectLimits,
    ) -> Result<(Project, Vec<Event>)>;

    /// Declines (deletes) `user`'s invitation `inv`.
    async fn decline_invitation(&self, user: i64, inv: i64) -> Result<()>;
}
