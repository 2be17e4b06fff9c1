//! What the project, member and invitation operations take and answer, as the OpenAPI
//! document describes them, and the readers of their bodies' fields (DRF's messages).

use poem_openapi::{ApiResponse, Object, payload::Json};
use serde_json::{Map, Value};

use crate::api::fields::{field, text};
use crate::domain::FieldErrors;
use crate::model::{Invitation, Member, Project, Role};

/// A project to create, or its new name.
#[derive(Object, Debug)]
pub struct ProjectInput {
    /// 1 to 100 characters; surrounding whitespace is trimmed.
    #[oai(validator(min_length = 1, max_length = 100))]
    pub name: String,
}

/// A member's new role (`admin`, `editor` or `viewer`; the owner changes by a transfer).
#[derive(Object, Debug)]
pub struct RoleInput {
    pub role: Role,
}

/// Whom to transfer a project to: an admin member's user id.
#[derive(Object, Debug)]
pub struct TransferInput {
    pub user_id: i64,
}

/// Whom to invite (by `username` or by `email`: exactly one) and with which role
/// (`admin`, `editor` or `viewer`).
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct InvitationInput {
    pub username: Option<String>,
    pub email: Option<String>,
    pub role: Role,
}

#[derive(ApiResponse)]
pub enum ProjectResponse {
    /// The project, as you see it.
    #[oai(status = 200)]
    Ok(Json<Project>),
}

#[derive(ApiResponse)]
pub enum CreatedProjectResponse {
    /// The project was created; you are its owner.
    #[oai(status = 201)]
    Created(Json<Project>),
}

#[derive(ApiResponse)]
pub enum ProjectsResponse {
    /// The projects you belong to, by id.
    #[oai(status = 200)]
    Ok(Json<Vec<Project>>),
}

#[derive(ApiResponse)]
pub enum MembersResponse {
    /// The members, by user id (never their emails).
    #[oai(status = 200)]
    Ok(Json<Vec<Member>>),
}

#[derive(ApiResponse)]
pub enum MemberResponse {
    /// The member with the new role.
    #[oai(status = 200)]
    Ok(Json<Member>),
}

#[derive(ApiResponse)]
pub enum InvitationsResponse {
    /// The pending invitations (not expired), by id.
    #[oai(status = 200)]
    Ok(Json<Vec<Invitation>>),
}

#[derive(ApiResponse)]
pub enum CreatedInvitationResponse {
    /// The invitation was sent: they become a member when they accept it.
    #[oai(status = 201)]
    Created(Json<Invitation>),
}

#[derive(ApiResponse)]
pub enum NoContentResponse {
    /// Done.
    #[oai(status = 204)]
    Done,
}

/// DRF `ChoiceField` over the roles.
pub fn role(v: &Value) -> Result<Role, String> {
    let s = text(v)?;
    Role::parse(&s).ok_or_else(|| format!("\"{s}\" is not a valid choice."))
}

/// DRF `IntegerField`: whole numbers, and their text.
pub fn integer(v: &Value) -> Result<i64, String> {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        .ok_or_else(|| "A valid integer is required.".into())
}

/// The `role` field, required.
pub fn role_field(data: &Map<String, Value>, errors: &mut FieldErrors) -> Option<Role> {
    field(data, "role", true, errors, role)
}
