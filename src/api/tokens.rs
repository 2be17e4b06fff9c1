//! Personal API tokens for scripts: created and managed from a logged-in session, used
//! as `Authorization: Bearer tlp_…` on the task routes and the stream.

use poem::{Request, web::Data};
use poem_openapi::{
    ApiResponse, Enum, Object, OpenApi, param::Path, payload::Json, types::Example,
};

use super::auth::login_context;
use super::body::DrfBody;
use super::client_address::client_address;
use super::fields::{field, text};
use super::{ApiTags, MintErrors, OneErrors, PathId, ReadErrors};
use crate::AppState;
use crate::auth::{AuthError, Caller, Scope};
use crate::domain::api_tokens::{self, NewToken};
use crate::domain::reauth::Freshness;
use crate::error::{ApiError, FieldErrors, api_token_error};
use crate::model::Timestamp;
use crate::store::api_tokens::ApiTokenRow;

#[derive(Default)]
pub struct TokensApi;

/// What a personal API token may do. `tasks:write` implies `tasks:read` (every write
/// answers with the task): a token asked for with `tasks:write` lists both.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenScope {
    /// Read your tasks, their events and changes.
    #[oai(rename = "tasks:read")]
    TasksRead,
    /// Create, change and delete your tasks.
    #[oai(rename = "tasks:write")]
    TasksWrite,
    /// Read your account (`/api/`, `/api/users/…`).
    #[oai(rename = "account:read")]
    AccountRead,
    /// Read your shared projects, their members and invitations.
    #[oai(rename = "projects:read")]
    ProjectsRead,
    /// Create and change projects, members and invitations (implies `projects:read`).
    #[oai(rename = "projects:write")]
    ProjectsWrite,
}

impl TokenScope {
    /// The scope stored as `name` (one of `auth::TOKEN_SCOPES`).
    pub fn from_name(name: &str) -> Option<TokenScope> {
        match name {
            "tasks:read" => Some(TokenScope::TasksRead),
            "tasks:write" => Some(TokenScope::TasksWrite),
            "account:read" => Some(TokenScope::AccountRead),
            "projects:read" => Some(TokenScope::ProjectsRead),
            "projects:write" => Some(TokenScope::ProjectsWrite),
            _ => None,
        }
    }
}

/// A token to create.
#[derive(Object, Debug)]
#[oai(example, skip_serializing_if_is_none)]
pub struct NewTokenRequest {
    /// What the token is for, 1 to 100 characters, without control or format characters
    /// (Unicode categories Cc, Cf, Zl, Zp: no escape sequences, no bidi overrides).
    #[oai(validator(min_length = 1, max_length = 100))]
    pub name: String,
    /// Any of `tasks:read`, `tasks:write` (which implies `tasks:read`: writes answer with
    /// the task), `projects:read`, `projects:write` (which implies `projects:read`) and
    /// `account:read` (`/api/`, `/api/users/…`); at least one.
    pub scopes: Vec<TokenScope>,
    /// Days until it expires, 1 to 3650; omit for a token that does not expire.
    #[oai(validator(minimum(value = "1"), maximum(value = "3650")))]
    pub expires_in_days: Option<u32>,
    /// Your current password. Needed unless you logged in with your password less than
    /// 10 minutes ago (`--reauth-after`; refreshing does not count): a token outlives the
    /// session that asks for it.
    #[oai(validator(min_length = 1, max_length = 4096))]
    pub current_password: Option<String>,
}

impl Example for NewTokenRequest {
    fn example() -> Self {
        NewTokenRequest {
            name: "nightly backup script".into(),
            scopes: vec![TokenScope::TasksRead],
            expires_in_days: Some(90),
            current_password: None,
        }
    }
}

/// A personal API token, without its secret.
#[derive(Object, Debug)]
#[oai(example)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    /// The token's first characters, to recognise it.
    pub prefix: String,
    /// What it may do, sorted.
    pub scopes: Vec<TokenScope>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it stops working; `null`: never.
    #[oai(nullable)]
    pub expires_at: Option<Timestamp>,
    /// When it was last used (updated at most once a minute); `null`: never.
    #[oai(nullable)]
    pub last_used_at: Option<Timestamp>,
}

impl Example for ApiToken {
    fn example() -> Self {
        ApiToken {
            id: 3,
            name: "nightly backup script".into(),
            prefix: "tlp_8fK2xQ".into(),
            scopes: vec![TokenScope::TasksRead],
            created_at: "2026-11-25T11:42:56.437485Z".into(),
            expires_at: Some("2027-02-23T11:42:56.437485Z".into()),
            last_used_at: None,
        }
    }
}

/// A token just created: the only time its secret is shown.
#[derive(Object, Debug)]
#[oai(example)]
pub struct CreatedToken {
    #[oai(flatten)]
    pub info: ApiToken,
    /// The secret: send as `Authorization: Bearer <token>`. Store it now; it is kept only
    /// as a hash and cannot be shown again.
    pub token: String,
}

impl Example for CreatedToken {
    fn example() -> Self {
        CreatedToken {
            info: ApiToken::example(),
            token: "tlp_8fK2xQ0cVb7Jm4TzLw1RyN5sHd9Ae3GuPk6XoI".into(),
        }
    }
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

#[derive(ApiResponse)]
pub enum ListTokensResponse {
    /// Your tokens that are not revoked (expired ones too), newest first, without their
    /// secrets.
    #[oai(status = 200)]
    Ok(Json<Vec<ApiToken>>),
}

pub fn api_token(row: ApiTokenRow) -> ApiToken {
    ApiToken {
        id: row.id,
        name: row.name,
        prefix: row.prefix,
        // Every stored scope is one of `TOKEN_SCOPES` (checked when the token is issued).
        scopes: row
            .scopes
            .iter()
            .filter_map(|s| {
                let scope = TokenScope::from_name(s);
                if scope.is_none() {
                    tracing::warn!(token = row.id, scope = %s, "API token with an unknown scope");
                }
                scope
            })
            .collect(),
        created_at: row.created_at.into(),
        expires_at: row.expires_at.map(Timestamp),
        last_used_at: row.last_used_at.map(Timestamp),
    }
}

#[OpenApi(tag = "ApiTags::Tokens")]
impl TokensApi {
    /// Create a personal API token
    ///
    /// Only from a logged-in session (an API token cannot create tokens), and with proof
    /// of your password: `current_password` in the body, or a password login less than 10
    /// minutes ago (`--reauth-after`; refreshing the session does not count). Otherwise
    /// 403 `reauthentication_required`; a wrong `current_password` is a 400 field error
    /// and counts as a failed login. The secret is in the response once.
    #[oai(
        path = "/api/tokens",
        method = "post",
        operation_id = "create_api_token"
    )]
    async fn create_api_token(
        &self,
        req: &Request,
        state: Data<&AppState>,
        caller: Caller,
        body: DrfBody<NewTokenRequest>,
    ) -> Result<CreateTokenResponse, MintErrors> {
        caller.require(Scope::Account)?;
        let created = issue_api_token(req, &state, &caller, &body.data).await?;
        Ok(CreateTokenResponse::Created(Json(created)))
    }

    /// List your personal API tokens (without secrets)
    ///
    /// The tokens not revoked, expired ones included, newest first. A secret is shown once,
    /// when its token is created; here only its prefix. Only from a logged-in session.
    #[oai(path = "/api/tokens", method = "get", operation_id = "list_api_tokens")]
    async fn list_api_tokens(
        &self,
        state: Data<&AppState>,
        caller: Caller,
    ) -> Result<ListTokensResponse, ReadErrors> {
        caller.require(Scope::Account)?;
        let rows = api_tokens::list(&state.store, caller.user.id).await?;
        Ok(ListTokensResponse::Ok(Json(
            rows.into_iter().map(api_token).collect(),
        )))
    }

    /// Revoke a personal API token
    ///
    /// The token is refused from its next request on. Only from a logged-in session; another
    /// account's token id is a 404.
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
        api_tokens::revoke(&state.store, caller.user.id, id)
            .await
            .map_err(api_token_error)?;
        Ok(RevokeTokenResponse::Revoked)
    }
}

/// Reads `{name, scopes, expires_in_days, current_password}` as DRF would (a form sends
/// the scopes as one string, JSON as a list) and issues the token through the domain, for
/// the caller's session (with proof of the password, while the session stands).
pub async fn issue_api_token(
    req: &Request,
    state: &AppState,
    caller: &Caller,
    data: &serde_json::Map<String, serde_json::Value>,
) -> Result<CreatedToken, ApiError> {
    let session = caller.session().ok_or(AuthError::SessionRequired)?;
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
    let current_password = field(data, "current_password", false, &mut errors, text);
    let address = client_address(req, state.limits.trust_x_forwarded_for);
    let ctx = login_context(state, &address);
    let freshness = Freshness::of(Some(session), state.limits.reauth_after);
    let issued = api_tokens::issue_for_session(
        &ctx,
        &caller.user,
        session,
        freshness,
        input,
        current_password,
        errors,
    )
    .await?;
    Ok(CreatedToken {
        info: api_token(issued.row),
        token: issued.secret,
    })
}

#[cfg(test)]
mod tests {
    use poem_openapi::registry::Registry;
    use poem_openapi::types::Type;

    use super::TokenScope;
    use crate::auth::TOKEN_SCOPES;

    #[test]
    fn the_documented_scopes_are_the_scopes_a_token_may_carry() {
        let mut registry = Registry::new();
        TokenScope::register(&mut registry);
        let mut documented: Vec<String> = registry.schemas["TokenScope"]
            .enum_items
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        documented.sort();
        assert_eq!(documented, TOKEN_SCOPES);
        for name in TOKEN_SCOPES {
            assert!(TokenScope::from_name(name).is_some(), "{name}");
        }
    }
}
