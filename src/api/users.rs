//! The caller's own account. The original listed, changed and deleted any account for
//! anyone; here every route sees only the caller.

use poem::{Request, web::Data};
use poem_openapi::{Object, OpenApi, param::Path, payload::Json};

use super::account::{
    AccountDeletion, AccountPatch, AccountUpdate, ChangeResponse, DeleteResponse, change, delete,
    owner,
};
use super::auth::{RegisterRequest, RegisterResponse, register_user};
use super::body::DrfBody;
use super::{AccountErrors, ApiTags, OneErrors, PathId, ReadErrors, RegisterErrors};
use crate::AppState;
use crate::auth::{Caller, Scope};
use crate::model::User;

#[derive(Default)]
pub struct UsersApi;

/// Links to the collections, as DRF's browsable API root had them.
#[derive(Object)]
pub struct ApiRoot {
    pub tasks: String,
    pub users: String,
}

#[OpenApi(tag = "ApiTags::Users")]
impl UsersApi {
    /// Your account
    #[oai(path = "/api/users/me", method = "get", operation_id = "users_me")]
    async fn users_me(&self, caller: Caller) -> Result<Json<User>, ReadErrors> {
        caller.require(Scope::AccountRead)?;
        Ok(Json(caller.user))
    }

    /// List users: only yourself
    ///
    /// Kept for clients of the original, which listed every account to anyone.
    #[oai(path = "/api/users", method = "get", operation_id = "list_users")]
    async fn list_users(&self, caller: Caller) -> Result<Json<Vec<User>>, ReadErrors> {
        caller.require(Scope::AccountRead)?;
        Ok(Json(vec![caller.user]))
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
    #[oai(path = "/api/users/:id", method = "get", operation_id = "get_user")]
    async fn get_user(
        &self,
        caller: Caller,
        /// A user id; any id but your own is a 404.
        id: Path<PathId>,
    ) -> Result<Json<User>, OneErrors> {
        Ok(Json(owner(caller, id, Scope::AccountRead)?.user))
    }

    /// API root: links to the collections
    #[oai(path = "/api", method = "get", operation_id = "api_root")]
    async fn api_root(&self, caller: Caller, req: &Request) -> Result<Json<ApiRoot>, ReadErrors> {
        caller.require(Scope::AccountRead)?;
        let host = req
            .headers()
            .get(poem::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| {
                h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".:-[]".contains(c))
            })
            .unwrap_or("localhost");
        Ok(Json(ApiRoot {
            tasks: format!("http://{host}/api/tasks/"),
            users: format!("http://{host}/api/users/"),
        }))
    }

    /// Change your account
    #[oai(path = "/api/users/me", method = "put", operation_id = "update_me")]
    async fn update_me(
        &self,
        req: &Request,
        state: Data<&AppState>,
        caller: Caller,
        body: DrfBody<AccountUpdate>,
    ) -> Result<ChangeResponse, AccountErrors> {
        Ok(change(req, &state, caller, &body.data, false).await?)
    }

    /// Change some fields of your account
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
    ) -> Result<ChangeResponse, AccountErrors> {
        Ok(change(req, &state, caller, &body.data, true).await?)
    }

    /// Delete your account
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
    /// Any id but your own is a 404, and nothing changes.
    #[oai(path = "/api/users/:id", method = "put", operation_id = "update_user")]
    async fn update_user(
        &self,
        req: &Request,
        state: Data<&AppState>,
        caller: Caller,
        /// Your user id.
        id: Path<PathId>,
        body: DrfBody<AccountUpdate>,
    ) -> Result<ChangeResponse, AccountErrors> {
        let caller = owner(caller, id, Scope::Account)?;
        Ok(change(req, &state, caller, &body.data, false).await?)
    }

    /// Change some fields of your account (by id)
    ///
    /// Any id but your own is a 404, and nothing changes.
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
    ) -> Result<ChangeResponse, AccountErrors> {
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
