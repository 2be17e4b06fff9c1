//! Personal API tokens for scripts: created and managed from a logged-in session, used
//! as `Authorization: Bearer tlp_…` on the task routes and the stream.

use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, param::Path, payload::Json, types::Example};

use super::body::DrfBody;
use super::fields::{field, text};
use super::{ApiTags, CreateErrors, OneErrors, PathId, ReadErrors};
use crate::AppState;
use crate::auth::{Caller, Scope};
use crate::domain::api_tokens::{self, NewToken};
use crate::error::{ApiError, FieldErrors};
use crate::store::Store;
use crate::store::api_tokens::ApiTokenRow;

#[derive(Default)]
pub struct TokensApi;

/// A token to create.
#[derive(Object, Debug)]
#[oai(example)]
pub struct NewTokenRequest {
    /// What the token is for, 1 to 100 characters.
    #[oai(validator(min_length = 1, max_length = 100))]
    pub name: String,
    /// Any of `tasks:read`, `tasks:write` (which implies `tasks:read`: writes answer with
    /// the task) and `account:read` (`/api/`, `/api/users/…`).
    pub scopes: Vec<String>,
    /// Days until it expires, 1 to 3650; omit for a token that does not expire.
    #[oai(validator(minimum(value = "1"), maximum(value = "3650")))]
    pub expires_in_days: Option<u32>,
}

impl Example for NewTokenRequest {
    fn example() -> Self {
        NewTokenRequest {
            name: "nightly backup script".into(),
            scopes: vec!["tasks:read".into()],
            expires_in_days: Some(90),
        }
    }
}

/// A personal API token, without its secret.
#[derive(Object, Debug)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    /// The token's first characters, to recognise it.
    pub prefix: String,
    pub scopes: Vec<String>,
    pub created_at: String,
    #[oai(nullable)]
    pub expires_at: Option<String>,
    #[oai(nullable)]
    pub last_used_at: Option<String>,
}

/// A token just created: the only time its secret is shown.
#[derive(Object, Debug)]
pub struct CreatedToken {
    #[oai(flatten)]
    pub info: ApiToken,
    /// The secret: send as `Authorization: Bearer <token>`. Store it now; it is kept only
    /// as a hash and cannot be shown again.
    pub token: String,
}

#[derive(ApiResponse)]
pub enum CreateTokenResponse {
    /// The token was created.
    #[oai(status = 201)]
    Created(Json<CreatedToken>),
}

#[derive(ApiResponse)]
pub enum RevokeTokenResponse {
    /// The token no longer works.
    #[oai(status = 204)]
    Revoked,
}

pub fn api_token(row: ApiTokenRow) -> ApiToken {
    ApiToken {
        id: row.id,
        name: row.name,
        prefix: row.prefix,
        scopes: row.scopes,
        created_at: row.created_at,
        expires_at: row.expires_at,
        last_used_at: row.last_used_at,
    }
}

#[OpenApi(tag = "ApiTags::Tokens")]
impl TokensApi {
    /// Create a personal API token
    ///
    /// Only from a logged-in session (an API token cannot create tokens). The secret is in
    /// the response once.
    #[oai(
        path = "/api/tokens",
        method = "post",
        operation_id = "create_api_token"
    )]
    async fn create_api_token(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        body: DrfBody<NewTokenRequest>,
    ) -> Result<CreateTokenResponse, CreateErrors> {
        caller.require(Scope::Account)?;
        let created = issue_api_token(&state.store, caller.user.id, &body.data).await?;
        Ok(CreateTokenResponse::Created(Json(created)))
    }

    /// List your personal API tokens (without secrets)
    #[oai(path = "/api/tokens", method = "get", operation_id = "list_api_tokens")]
    async fn list_api_tokens(
        &self,
        state: Data<&AppState>,
        caller: Caller,
    ) -> Result<Json<Vec<ApiToken>>, ReadErrors> {
        caller.require(Scope::Account)?;
        let rows = state.store.list_api_tokens(caller.user.id).await?;
        Ok(Json(rows.into_iter().map(api_token).collect()))
    }

    /// Revoke a personal API token
    #[oai(
        path = "/api/tokens/:id",
        method = "delete",
        operation_id = "revoke_api_token"
    )]
    async fn revoke_api_token(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        /// The token's id.
        id: Path<PathId>,
    ) -> Result<RevokeTokenResponse, OneErrors> {
        caller.require(Scope::Account)?;
        let Some(id) = id.0.0 else {
            return Err(ApiError::not_found("Not found.").into());
        };
        if state.store.revoke_api_token(caller.user.id, id).await? {
            Ok(RevokeTokenResponse::Revoked)
        } else {
            Err(ApiError::not_found("No API token matches the given query.").into())
        }
    }
}

/// Reads `{name, scopes, expires_in_days}` as DRF would (a form sends the scopes as
/// one string, JSON as a list) and issues the token through the domain.
pub async fn issue_api_token(
    store: &Store,
    user_id: i64,
    data: &serde_json::Map<String, serde_json::Value>,
) -> Result<CreatedToken, ApiError> {
    let mut errors = FieldErrors::default();
    let input = NewToken {
        name: field(data, "name", true, &mut errors, text),
        scopes: field(data, "scopes", true, &mut errors, |v| match v {
            serde_json::Value::String(s) => Ok(s
                .split([' ', ','])
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()),
            serde_json::Value::Array(a) => a
                .iter()
                .map(|s| s.as_str().map(str::to_owned))
                .collect::<Option<_>>()
                .ok_or_else(|| "Expected a list of scopes.".into()),
            _ => Err("Expected a list of scopes.".into()),
        }),
        expires_in_days: field(data, "expires_in_days", false, &mut errors, |v| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                .ok_or_else(|| "Ensure this value is a whole number from 1 to 3650.".into())
        }),
    };
    let issued = api_tokens::issue(store, user_id, input, errors).await?;
    Ok(CreatedToken {
        info: api_token(issued.row),
        token: issued.secret,
    })
}
