//! Invitations: a project's (`/api/projects/{id}/invitations/`, for its admins) and your
//! own (`/api/invitations/`, to accept or decline). Nobody becomes a member without
//! accepting; an invitation expires after 7 days.

use poem::web::Data;
use poem_openapi::{OpenApi, param::Path, payload::Json};

use super::schema::*;
use super::{context, path_id, project_error};
use crate::AppState;
use crate::api::body::DrfBody;
use crate::api::fields::{field, text};
use crate::api::{ApiTags, InviteErrors, OneErrors, PathId, ReadErrors, RemoveProjectErrors};
use crate::auth::{Caller, Scope};
use crate::domain::FieldErrors;
use crate::domain::projects::{self, Invitee};
use crate::error::ApiError;

#[derive(Default)]
pub struct InvitationsApi;

/// Reads `{username | email, role}`.
fn invitee(
    data: &serde_json::Map<String, serde_json::Value>,
) -> Result<(Invitee, crate::model::Role), ApiError> {
    let mut errors = FieldErrors::default();
    let username = field(data, "username", false, &mut errors, text);
    let email = field(data, "email", false, &mut errors, text);
    let role = role_field(data, &mut errors);
    let who = match (username, email) {
        (Some(u), None) => Some(Invitee::Username(u.trim().to_owned())),
        (None, Some(e)) => Some(Invitee::Email(e.trim().to_owned())),
        _ => {
            if errors.iter().all(|(f, _)| f == "role") {
                errors.add("non_field_errors", "Give either a username or an email.");
            }
            None
        }
    };
    errors.into_result()?;
    match (who, role) {
        (Some(w), Some(r)) => Ok((w, r)),
        _ => Err(ApiError::internal("unchecked invitation")),
    }
}

#[OpenApi(tag = "ApiTags::Projects")]
impl InvitationsApi {
    /// Invite someone to a project (admin)
    ///
    /// By `username` or `email`, with a `role`: an admin invites editors and viewers, the
    /// owner also admins. They become a member only by accepting, within 7 days. A user
    /// may send `--invitations-per-user` invitations per `--throttle-window` (429 past
    /// it); a project may have `--max-pending-invitations` pending and
    /// `--max-project-members` members (409 past them).
    #[oai(
        path = "/api/projects/:id/invitations",
        method = "post",
        operation_id = "create_project_invitation"
    )]
    async fn create_invitation(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        /// The project's id.
        id: Path<PathId>,
        body: DrfBody<InvitationInput>,
    ) -> Result<CreatedInvitationResponse, InviteErrors> {
        caller.require(Scope::ProjectsWrite)?;
        let id = path_id(id, "Project")?;
        let ctx = context(&state);
        let (who, role) = match invitee(&body.data) {
            Ok(found) => found,
            Err(e) => {
                projects::get(&ctx, &caller.user, id)
                    .await
                    .map_err(project_error)?;
                return Err(e.into());
            }
        };
        let inv = projects::invite(&ctx, &caller.user, id, who, role)
            .await
            .map_err(project_error)?;
        Ok(CreatedInvitationResponse::Created(Json(inv)))
    }

    /// List a project's pending invitations (admin)
    ///
    /// The invitations not yet accepted, declined, withdrawn or expired, by id.
    #[oai(
        path = "/api/projects/:id/invitations",
        method = "get",
        operation_id = "list_project_invitations"
    )]
    async fn list_project_invitations(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        /// The project's id.
        id: Path<PathId>,
    ) -> Result<InvitationsResponse, OneErrors> {
        caller.require(Scope::ProjectsRead)?;
        let id = path_id(id, "Project")?;
        let list = projects::project_invitations(&context(&state), &caller.user, id)
            .await
            .map_err(project_error)?;
        Ok(InvitationsResponse::Ok(Json(list)))
    }

    /// Withdraw an invitation (admin)
    ///
    /// The invitee can no longer accept it.
    #[oai(
        path = "/api/projects/:id/invitations/:inv",
        method = "delete",
        operation_id = "withdraw_project_invitation"
    )]
    async fn withdraw_invitation(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        /// The project's id.
        id: Path<PathId>,
        /// The invitation's id.
        inv: Path<PathId>,
    ) -> Result<NoContentResponse, OneErrors> {
        caller.require(Scope::ProjectsWrite)?;
        let id = path_id(id, "Project")?;
        let inv = path_id(inv, "Invitation")?;
        projects::withdraw(&context(&state), &caller.user, id, inv)
            .await
            .map_err(project_error)?;
        Ok(NoContentResponse::Done)
    }

    /// List the invitations addressed to you
    ///
    /// Pending ones only (not expired).
    #[oai(
        path = "/api/invitations",
        method = "get",
        operation_id = "list_my_invitations"
    )]
    async fn list_my_invitations(
        &self,
        state: Data<&AppState>,
        caller: Caller,
    ) -> Result<InvitationsResponse, ReadErrors> {
        caller.require(Scope::ProjectsRead)?;
        let list = projects::my_invitations(&context(&state), &caller.user).await?;
        Ok(InvitationsResponse::Ok(Json(list)))
    }

    /// Accept an invitation
    ///
    /// You become a member with its role at once (and receive a `project` event); an
    /// expired invitation is a 404, a full project a 409.
    #[oai(
        path = "/api/invitations/:id/accept",
        method = "post",
        operation_id = "accept_invitation"
    )]
    async fn accept_invitation(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        /// The invitation's id.
        id: Path<PathId>,
    ) -> Result<ProjectResponse, RemoveProjectErrors> {
        caller.require(Scope::ProjectsWrite)?;
        let id = path_id(id, "Invitation")?;
        let project = projects::accept(&context(&state), &caller.user, id).await?;
        Ok(ProjectResponse::Ok(Json(project)))
    }

    /// Decline an invitation
    ///
    /// It is deleted; the project may invite you again.
    #[oai(
        path = "/api/invitations/:id",
        method = "delete",
        operation_id = "decline_invitation"
    )]
    async fn decline_invitation(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        /// The invitation's id.
        id: Path<PathId>,
    ) -> Result<NoContentResponse, OneErrors> {
        caller.require(Scope::ProjectsWrite)?;
        let id = path_id(id, "Invitation")?;
        projects::decline(&context(&state), &caller.user, id).await?;
        Ok(NoContentResponse::Done)
    }
}
