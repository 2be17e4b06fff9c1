//! The owner's own account: change the username, email or password, or delete it — the
//! original's `PUT`/`PATCH`/`DELETE /api/users/{id}/`, which let anyone do it to anyone,
//! now for the owner alone. Another id is the same 404 as an unknown one. The operations
//! are in `users/mod.rs`; their bodies and work are here.

use poem::Request;
use poem_openapi::{ApiResponse, Object, param::Path, payload::Json, types::Example};
use serde_json::{Map, Value};

use crate::AppState;
use crate::api::PathId;
use crate::api::auth::login_context;
use crate::api::client_address::client_address;
use crate::api::fields::{field, text};
use crate::auth::{Caller, Scope};
use crate::domain::FieldErrors;
use crate::domain::profile::{self, AccountEdit};
use crate::domain::reauth::Freshness;
use crate::error::ApiError;

/// A full change of your account (`PUT`): the original's `{username, email}`; a new
/// password may ride along with the current one.
#[derive(Object, Debug)]
#[oai(example, skip_serializing_if_is_none)]
pub struct AccountUpdate {
    /// Letters, digits and `@.+-_`; at most 150 characters; not another account's.
    #[oai(validator(min_length = 1, max_length = 150))]
    pub username: String,
    /// A valid email address, not another account's (ignoring case).
    #[oai(validator(min_length = 3, max_length = 254))]
    pub email: String,
    /// A new password (registration's rules). Ends every other credential of the account.
    #[oai(validator(min_length = 8, max_length = 4096))]
    pub password: Option<String>,
    /// Your current password: required with `password`; with a new `username` or `email`
    /// unless you logged in with your password less than 10 minutes ago
    /// (`--reauth-after`).
    #[oai(validator(min_length = 1, max_length = 4096))]
    pub current_password: Option<String>,
}

impl Example for AccountUpdate {
    fn example() -> Self {
        AccountUpdate {
            username: "alice".into(),
            email: "alice@example.org".into(),
            password: None,
            current_password: None,
        }
    }
}

/// A partial change of your account (`PATCH`): only the fields given change.
#[derive(Object, Debug)]
#[oai(example, skip_serializing_if_is_none)]
pub struct AccountPatch {
    #[oai(validator(min_length = 1, max_length = 150))]
    pub username: Option<String>,
    #[oai(validator(min_length = 3, max_length = 254))]
    pub email: Option<String>,
    /// A new password (registration's rules). Ends every other credential of the account.
    #[oai(validator(min_length = 8, max_length = 4096))]
    pub password: Option<String>,
    /// Your current password: required with `password`; with a new `username` or `email`
    /// unless you logged in with your password less than 10 minutes ago
    /// (`--reauth-after`).
    #[oai(validator(min_length = 1, max_length = 4096))]
    pub current_password: Option<String>,
}

impl Example for AccountPatch {
    fn example() -> Self {
        AccountPatch {
            username: None,
            email: None,
            password: Some("a-new-long-passphrase".into()),
            current_password: Some("correct-horse-battery".into()),
        }
    }
}

/// Deleting your account needs your password.
#[derive(Object, Debug)]
pub struct AccountDeletion {
    #[oai(validator(min_length = 1, max_length = 4096))]
    pub password: String,
}

/// Your account after the change.
#[derive(Object, Debug)]
pub struct ChangedAccount {
    pub id: i64,
    pub username: String,
    pub email: String,
    /// Present when the password changed: every session and API token of the account has
    /// ended, the one this request used included. Log in again with the new password.
    #[oai(skip_serializing_if_is_none)]
    pub detail: Option<String>,
}

#[derive(ApiResponse)]
pub enum ChangeResponse {
    /// The account after the change.
    #[oai(status = 200)]
    Ok(Json<ChangedAccount>),
}

#[derive(ApiResponse)]
pub enum DeleteResponse {
    /// The account is gone: it can no longer log in or be used, its username and email
    /// are free again, and its open streams close (4003). Its tasks, events and tokens are
    /// deleted before this answer, or, for a very large account, shortly after it.
    #[oai(status = 204)]
    Deleted,
}

const PASSWORD_CHANGED: &str = "Password changed. Every session and API token of this account \
     has ended, this one included: log in again with the new password.";

/// The caller, allowed `scope`, when `id` is their own; else the original's 404.
pub(super) fn owner(caller: Caller, id: Path<PathId>, scope: Scope) -> Result<Caller, ApiError> {
    caller.require(scope)?;
    match id.0.0 {
        Some(id) if id == caller.user.id => Ok(caller),
        Some(_) => Err(ApiError::not_found("No User matches the given query.")),
        None => Err(ApiError::not_found("Not found.")),
    }
}

pub(super) async fn change(
    req: &Request,
    state: &AppState,
    caller: Caller,
    data: &Map<String, Value>,
    partial: bool,
) -> Result<ChangeResponse, ApiError> {
    caller.require(Scope::Account)?;
    let mut errors = FieldErrors::default();
    let input = AccountEdit {
        username: field(data, "username", !partial, &mut errors, text),
        email: field(data, "email", !partial, &mut errors, text),
        password: field(data, "password", false, &mut errors, text),
        current_password: field(data, "current_password", false, &mut errors, text),
    };
    let address = client_address(req, state.limits.trust_x_forwarded_for);
    let ctx = login_context(state, &address);
    let freshness = Freshness::of(caller.session(), state.limits.reauth_after);
    let edited = profile::edit(&ctx, &state.hub, &caller.user, input, errors, freshness).await?;
    Ok(ChangeResponse::Ok(Json(ChangedAccount {
        id: edited.user.id,
        username: edited.user.username,
        email: edited.user.email,
        detail: edited
            .credentials_ended
            .then(|| PASSWORD_CHANGED.to_owned()),
    })))
}

pub(super) async fn delete(
    req: &Request,
    state: &AppState,
    caller: Caller,
    data: &Map<String, Value>,
) -> Result<DeleteResponse, ApiError> {
    caller.require(Scope::Account)?;
    let mut errors = FieldErrors::default();
    let password = field(data, "password", true, &mut errors, text);
    let address = client_address(req, state.limits.trust_x_forwarded_for);
    let ctx = login_context(state, &address);
    let purge = profile::delete(&ctx, &state.hub, &caller.user, password, errors).await?;
    tracing::info!(user_id = caller.user.id, "account deleted by its owner");
    purge.settle(profile::PURGE_WAIT).await;
    Ok(DeleteResponse::Deleted)
}
