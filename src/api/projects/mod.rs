//! Shared projects and their members: the routes under `/api/projects/`. A project you
//! are not a member of is a 404 (as another user's task), a role too low a 403 naming
//! the role needed; the rules themselves are `domain::projects`'s. Invitations are
//! [`invitations`]'. API tokens need `projects:read` to read and `projects:write` to
//! change.

pub mod invitations;
mod schema;

use poem::web::Data;
use poem_openapi::{
    OpenApi,
    param::{Header, Path},
    payload::Json,
};

use super::body::DrfBody;
use super::fields::{field, text};
use super::tasks::preconditions::parse_if_match;
use super::{
    ApiTags, ChangeProjectErrors, CreateProjectErrors, OneErrors, PathId, ReadErrors,
    RemoveProjectErrors,
};
use crate::AppState;
use crate::auth::{Caller, Scope};
use crate::domain::projects::{self, ProjectContext};
use crate::domain::{DomainError, FieldErrors};
use crate::error::ApiError;

pub use schema::*;

#[derive(Default)]
pub struct ProjectsApi;

/// What the project operations reach, from the state.
pub(super) fn context(state: &AppState) -> ProjectContext<'_> {
    ProjectContext {
        store: &state.store,
        hub: &state.hub,
        limits: state.limits.projects,
        invites: &state.throttles.invite,
    }
}

/// A project operation's error: a missing project is DRF's 404 for it, a stale
/// `If-Match` names the project.
pub(super) fn project_error(e: impl Into<DomainError>) -> ApiError {
    match e.into() {
        DomainError::NotFound => DomainError::Missing("Project").into(),
        DomainError::Stale { current } => {
            ApiError::PreconditionFailed(Json(crate::error::ErrorDetail {
                detail: format!(
                    "The project has changed since you read it: it is now version {current}. \
                 Fetch it again, then retry."
                ),
                code: Some("stale_version".into()),
                messages: None,
                projects: None,
            }))
        }
        e => e.into(),
    }
}

/// The id in the path, or the 404 of `what` for one that is not a number.
pub(super) fn path_id(id: Path<PathId>, what: &'static str) -> Result<i64, ApiError> {
    id.0.0.ok_or_else(|| DomainError::Missing(what).into())
}

#[OpenApi(tag = "ApiTags::Projects")]
impl ProjectsApi {
    /// List the projects you belong to
    ///
    /// Each with your own role in it and its member count, by id.
    #[oai(path = "/api/projects", method = "get", operation_id = "list_projects")]
    async fn list_projects(
        &self,
        state: Data<&AppState>,
        caller: Caller,
    ) -> Result<ProjectsResponse, ReadErrors> {
        caller.require(Scope::ProjectsRead)?;
        let list = projects::list(&context(&state), &caller.user).await?;
        Ok(ProjectsResponse::Ok(Json(list)))
    }

    /// Create a project
    ///
    /// You become its owner. A user may own at most `--max-owned-projects` (100 by
    /// default): past it, 409.
    #[oai(
        path = "/api/projects",
        method = "post",
        operation_id = "create_project"
    )]
    async fn create_project(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        body: DrfBody<ProjectInput>,
    ) -> Result<CreatedProjectResponse, CreateProjectErrors> {
        caller.require(Scope::ProjectsWrite)?;
        let mut errors = FieldErrors::default();
        let name = field(&body.data, "name", true, &mut errors, text);
        let project = projects::create(&context(&state), &caller.user, name, errors).await?;
        Ok(CreatedProjectResponse::Created(Json(project)))
    }

    /// Get a project you belong to
    ///
    /// A project you are not a member of is a 404, as one that does not exist.
    #[oai(
        path = "/api/projects/:id",
        method = "get",
        operation_id = "get_project"
    )]
    async fn get_project(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        /// The project's id.
        id: Path<PathId>,
    ) -> Result<ProjectResponse, OneErrors> {
        caller.require(Scope::ProjectsRead)?;
        let id = path_id(id, "Project")?;
        let project = projects::get(&context(&state), &caller.user, id)
            .await
            .map_err(project_error)?;
        Ok(ProjectResponse::Ok(Json(project)))
    }

    /// Rename a project (admin)
    ///
    /// With `If-Match` (`"v3"`, or `*`), only if the project is still at that version
    /// (else 412). Every member receives a `project` event.
    #[oai(
        path = "/api/projects/:id",
        method = "patch",
        operation_id = "rename_project"
    )]
    async fn rename_project(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        /// The project's id.
        id: Path<PathId>,
        /// The version you last saw (`"v3"`), or `*`.
        #[oai(name = "If-Match")]
        if_match: Header<Option<String>>,
        body: DrfBody<ProjectInput>,
    ) -> Result<ProjectResponse, ChangeProjectErrors> {
        caller.require(Scope::ProjectsWrite)?;
        let id = path_id(id, "Project")?;
        let mut errors = FieldErrors::default();
        let name = field(&body.data, "name", true, &mut errors, text);
        let if_match = if_match.0.as_deref().map(parse_if_match);
        let project = projects::rename(&context(&state), &caller.user, id, name, errors, if_match)
            .await
            .map_err(project_error)?;
        Ok(ProjectResponse::Ok(Json(project)))
    }

    /// Delete a project and its tasks (owner)
    ///
    /// Every member receives a `project_removed` event.
    #[oai(
        path = "/api/projects/:id",
        method = "delete",
        operation_id = "delete_project"
    )]
    async fn delete_project(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        /// The project's id.
        id: Path<PathId>,
    ) -> Result<NoContentResponse, RemoveProjectErrors> {
        caller.require(Scope::ProjectsWrite)?;
        let id = path_id(id, "Project")?;
        projects::delete(&context(&state), &caller.user, id)
            .await
            .map_err(project_error)?;
        Ok(NoContentResponse::Done)
    }

    /// List a project's members
    ///
    /// Their ids, usernames and roles: never their emails.
    #[oai(
        path = "/api/projects/:id/members",
        method = "get",
        operation_id = "list_project_members"
    )]
    async fn list_members(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        /// The project's id.
        id: Path<PathId>,
    ) -> Result<MembersResponse, OneErrors> {
        caller.require(Scope::ProjectsRead)?;
        let id = path_id(id, "Project")?;
        let members = projects::members(&context(&state), &caller.user, id)
            .await
            .map_err(project_error)?;
        Ok(MembersResponse::Ok(Json(members)))
    }

    /// Change a member's role
    ///
    /// An admin re-roles editors and viewers; the owner also makes and unmakes admins.
    /// The owner's role changes only by a transfer. The member receives a `project` event.
    #[oai(
        path = "/api/projects/:id/members/:user_id",
        method = "patch",
        operation_id = "update_project_member"
    )]
    async fn update_member(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        /// The project's id.
        id: Path<PathId>,
        /// The member's user id.
        user_id: Path<PathId>,
        body: DrfBody<RoleInput>,
    ) -> Result<MemberResponse, ChangeProjectErrors> {
        caller.require(Scope::ProjectsWrite)?;
        let id = path_id(id, "Project")?;
        let member = path_id(user_id, "Member")?;
        let mut errors = FieldErrors::default();
        let role = role_field(&body.data, &mut errors);
        errors.into_result()?;
        let Some(role) = role else {
            return Err(ApiError::internal("no role").into());
        };
        let member = projects::set_role(&context(&state), &caller.user, id, member, role)
            .await
            .map_err(project_error)?;
        Ok(MemberResponse::Ok(Json(member)))
    }

    /// Remove a member, or leave
    ///
    /// Your own id leaves the project (the owner transfers it first: else 409). An admin
    /// removes editors and viewers; the owner also removes admins. The member receives a
    /// `project_removed` event.
    #[oai(
        path = "/api/projects/:id/members/:user_id",
        method = "delete",
        operation_id = "remove_project_member"
    )]
    async fn remove_member(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        /// The project's id.
        id: Path<PathId>,
        /// The member's user id (yours: leave).
        user_id: Path<PathId>,
    ) -> Result<NoContentResponse, RemoveProjectErrors> {
        caller.require(Scope::ProjectsWrite)?;
        let id = path_id(id, "Project")?;
        let member = path_id(user_id, "Member")?;
        projects::remove(&context(&state), &caller.user, id, member)
            .await
            .map_err(project_error)?;
        Ok(NoContentResponse::Done)
    }

    /// Transfer a project to an admin member (owner)
    ///
    /// In one step: they become the owner, you an admin. Every member receives a
    /// `project` event.
    #[oai(
        path = "/api/projects/:id/transfer",
        method = "post",
        operation_id = "transfer_project"
    )]
    async fn transfer_project(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        /// The project's id.
        id: Path<PathId>,
        body: DrfBody<TransferInput>,
    ) -> Result<ProjectResponse, ChangeProjectErrors> {
        caller.require(Scope::ProjectsWrite)?;
        let id = path_id(id, "Project")?;
        let mut errors = FieldErrors::default();
        let to = field(&body.data, "user_id", true, &mut errors, integer);
        if let Err(e) = errors.into_result() {
            projects::get(&context(&state), &caller.user, id)
                .await
                .map_err(project_error)?;
            return Err(e.into());
        }
        let to = to.unwrap_or_default();
        let project = projects::transfer(&context(&state), &caller.user, id, to)
            .await
            .map_err(project_error)?;
        Ok(ProjectResponse::Ok(Json(project)))
    }
}
