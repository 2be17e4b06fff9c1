//! The caller's own account, `/api/users/…`. The original listed, changed and deleted
//! any account for anyone; here every route sees only the caller. The operations are
//! here (one `OpenApi` struct for all these paths, or the document loses some); the
//! bodies of changing and deleting your account, and their work, are in `account.rs`.

mod account;

use poem::{Request, web::Data};
use poem_openapi::{ApiResponse, OpenApi, param::Path, payload::Json};

use super::auth::{RegisterRequest, RegisterResponse, register_user};
use super::body::DrfBody;
use super::{
    AccountChangeErrors, AccountErrors, ApiTags, OneErrors, PathId, ReadErrors, RegisterErrors,
};
use crate::AppState;
use crate::auth::{Caller, Scope};
use crate::model::User;
use account::{
    AccountDeletion, AccountPatch, AccountUpdate, ChangeResponse, DeleteResponse, change, delete,
    owner,
};

#[derive(Default)]
pub struct UsersApi;

#[derive(ApiResponse)]
pub enum MeResponse {
    /// Your account.
    #[oai(status = 200)]
    Ok(Json<User>),
}

#[derive(ApiResponse)]
pub enum UserListResponse {
    /// A list holding only your own account.
    #[oai(status = 200)]
    Ok(Json<Vec<User>>),
}

#[derive(ApiResponse)]
pub enum UserResponse {
    /// Your account (the id was yours).
    #[oai(status = 200)]
    Ok(Json<User>),
}

#[OpenApi(tag = "ApiTags::Users")]
impl UsersApi {
    /// Your account
    ///
    /// The account the credential belongs to: a session's, or an API token's owner (the
    /// token needs `account:read`).
    #[oai(path = "/api/users/me", method = "get", operation_id = "users_me")]
    async fn users_me(&self, caller: Caller) -> Result<MeResponse, ReadErrors> {
        caller.require(Scope::AccountRead)?;
        Ok(MeResponse::Ok(Json(caller.user)))
    }

    /// List users: only yourself
    ///
    /// Kept for clients of the original, which listed every account to anyone.
    #[oai(path = "/api/users", method = "get", operation_id = "list_users")]
    async fn list_users(&self, caller: Caller) -> Result<UserListResponse, ReadErrors> {
        caller.require(Scope::AccountRead)?;
        Ok(UserListResponse::Ok(Json(vec![caller.user])))
    }

    /// Register a new account (the original's route)
    ///
    /// Same as `POST /api/register/`.
    #[oai(path = "/api/users", method = "post", operation_id = "create_user")]
    async fn create_user(
        &self,
        req: &Request,
        state: Data<&AppState>,
        body: DrfBody<RegisterRequest>,
    ) -> Result<RegisterResponse, RegisterErrors> {
        let user = register_user(req, &state, &body.data).await?;
        Ok(RegisterResponse::Created(Json(user)))
    }

    /// One user: only yourself
    ///
    /// Kept for clients of the original: your own id answers with your account, any other
    /// id is a 404.
    #[oai(path = "/api/users/:id", method = "get", operation_id = "get_user")]
    async fn get_user(
        &self,
        caller: Caller,
        /// A user id; any id but your own is a 404.
        id: Path<PathId>,
    ) -> Result<UserResponse, OneErrors> {
        Ok(UserResponse::Ok(Json(
            owner(caller, id, Scope::AccountRead)?.user,
        )))
    }

    /// Change your account
    ///
    /// `username` and `email` are required. A new `username` or `email` needs
    /// `current_password`, unless you logged in with your password less than 10 minutes
    /// ago (`--reauth-after`); else 403 `reauthentication_required`. Sending the ones you
    /// have changes nothing and needs nothing. A new `password` always needs
    /// `current_password`, checked as a login attempt (throttled); it ends every session
    /// and API token of the account, this one included. Only from a logged-in session,
    /// not an API token.
    #[oai(path = "/api/users/me", method = "put", operation_id = "update_me")]
    async fn update_me(
        &self,
        req: &Request,
        state: Data<&AppState>,
        caller: Caller,
        body: DrfBody<AccountUpdate>,
    ) -> Result<ChangeResponse, AccountChangeErrors> {
        Ok(change(req, &state, caller, &body.data, false).await?)
    }

    /// Change some fields of your account
    ///
    /// Only the fields given change, with the rules of `PUT /api/users/me/`: a new
    /// `username` or `email` needs `current_password`, unless you logged in with your
    /// password less than 10 minutes ago (`--reauth-after`); else 403
    /// `reauthentication_required`. A new `password` always needs `current_password`.
    #[oai(
        path = "/api/users/me",
        method = "patch",
        operation_id = "partial_update_me"
    )]
    async fn partial_update_me(
        &self,
        req: &Request,
        state: Data<&AppState>,
        caller: Caller,
        body: DrfBody<AccountPatch>,
    ) -> Result<ChangeResponse, AccountChangeErrors> {
        Ok(change(req, &state, caller, &body.data, true).await?)
    }

    /// Delete your account
    ///
    /// Needs your `password`, checked as a login attempt (throttled). The account goes with
    /// its tasks, events and tokens, and its open streams close. Only from a logged-in
    /// session, not an API token.
    #[oai(path = "/api/users/me", method = "delete", operation_id = "delete_me")]
    async fn delete_me(
        &self,
        req: &Request,
        state: Data<&AppState>,
        caller: Caller,
        body: DrfBody<AccountDeletion>,
    ) -> Result<DeleteResponse, AccountErrors> {
        Ok(delete(req, &state, caller, &body.data).await?)
    }

    /// Change your account (by id)
    ///
    /// Any id but your own is a 404, and nothing changes. As `PUT /api/users/me/`: a new
    /// `username` or `email` needs `current_password` or a recent password login.
    #[oai(path = "/api/users/:id", method = "put", operation_id = "update_user")]
    async fn update_user(
        &self,
        req: &Request,
        state: Data<&AppState>,
        caller: Caller,
        /// Your user id.
        id: Path<PathId>,
        body: DrfBody<AccountUpdate>,
    ) -> Result<ChangeResponse, AccountChangeErrors> {
        let caller = owner(caller, id, Scope::Account)?;
        Ok(change(req, &state, caller, &body.data, false).await?)
    }

    /// Change some fields of your account (by id)
    ///
    /// Any id but your own is a 404, and nothing changes. As `PATCH /api/users/me/`: a
    /// new `username` or `email` needs `current_password` or a recent password login.
    #[oai(
        path = "/api/users/:id",
        method = "patch",
        operation_id = "partial_update_user"
    )]
    async fn partial_update_user(
        &self,
        req: &Request,
        state: Data<&AppState>,
        caller: Caller,
        /// Your user id.
        id: Path<PathId>,
        body: DrfBody<AccountPatch>,
    ) -> Result<ChangeResponse, AccountChangeErrors> {
        let caller = owner(caller, id, Scope::Account)?;
        Ok(change(req, &state, caller, &body.data, true).await?)
    }

    /// Delete your account (by id)
    ///
    /// Any id but your own is a 404, and nothing is deleted.
    #[oai(
        path = "/api/users/:id",
        method = "delete",
        operation_id = "delete_user"
    )]
    async fn delete_user(
        &self,
        req: &Request,
        state: Data<&AppState>,
        caller: Caller,
        /// Your user id.
        id: Path<PathId>,
        body: DrfBody<AccountDeletion>,
    ) -> Result<DeleteResponse, AccountErrors> {
        let caller = owner(caller, id, Scope::Account)?;
        Ok(delete(req, &state, caller, &body.data).await?)
    }
}
