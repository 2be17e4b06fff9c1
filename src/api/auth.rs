//! Accounts and tokens: register, log in, refresh (with rotation), revoke.

use poem::{Request, web::Data};
use poem_openapi::{ApiResponse, Object, OpenApi, payload::Json, types::Example};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::ApiTags;
use super::client_address::client_address;
use super::{LoginErrors, RefreshErrors, RegisterErrors};

use super::body::DrfBody;
use super::fields::{Chars, chars, field, text};
use crate::AppState;
use crate::domain::DomainError;
use crate::domain::accounts::{self, Login, PASSWORD, Registration, Tokens};
use crate::domain::sessions;
use crate::error::{ApiError, FieldErrors};
use crate::model::User;

#[derive(Default)]
pub struct AuthApi;

/// A new account.
#[derive(Object, Debug)]
#[oai(example)]
pub struct RegisterRequest {
    /// Letters, digits and `@.+-_`; at most 150 characters.
    #[oai(validator(min_length = 1, max_length = 150))]
    pub username: String,
    /// A valid email address, not used by another account (ignoring case).
    #[oai(validator(min_length = 3, max_length = 254))]
    pub email: String,
    /// At least 8 characters, not entirely numeric, not a common password, not too
    /// similar to the username or email.
    #[oai(validator(min_length = 8, max_length = 4096))]
    pub password: String,
}

impl Example for RegisterRequest {
    fn example() -> Self {
        RegisterRequest {
            username: "alice".into(),
            email: "alice@example.com".into(),
            password: "correct-horse-battery".into(),
        }
    }
}

/// Credentials.
#[derive(Object, Debug)]
#[oai(example)]
pub struct TokenRequest {
    #[oai(validator(min_length = 1))]
    pub username: String,
    #[oai(validator(min_length = 1))]
    pub password: String,
}

impl Example for TokenRequest {
    fn example() -> Self {
        TokenRequest {
            username: "alice".into(),
            password: "correct-horse-battery".into(),
        }
    }
}

/// A refresh token, as returned by `POST /api/token/`.
#[derive(Object, Debug)]
pub struct RefreshRequest {
    #[oai(validator(min_length = 1))]
    pub refresh: String,
}

/// A login's tokens (key order as simplejwt: refresh first).
#[derive(Object, Debug)]
#[oai(example)]
pub struct TokenPair {
    /// Trade for a new pair at `POST /api/token/refresh/`; lasts 1 day by default.
    pub refresh: String,
    /// Send as `Authorization: Bearer <access>`; lasts 5 minutes by default.
    pub access: String,
}

/// A refreshed pair. The refresh token presented is now spent: keep the new one.
#[derive(Object, Serialize, Deserialize, Debug)]
#[oai(example)]
pub struct RefreshedPair {
    pub access: String,
    pub refresh: String,
}

// Shortened JWTs of the right shape (header.payload.signature), for the examples.
const EXAMPLE_ACCESS: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoiYWNjZXNzIiwidXNlcl9pZCI6MX0.c2lnbmF0dXJl";
const EXAMPLE_REFRESH: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCIsInVzZXJfaWQiOjF9.c2lnbmF0dXJl";

impl Example for TokenPair {
    fn example() -> Self {
        TokenPair {
            refresh: EXAMPLE_REFRESH.into(),
            access: EXAMPLE_ACCESS.into(),
        }
    }
}

impl Example for RefreshedPair {
    fn example() -> Self {
        RefreshedPair {
            access: EXAMPLE_ACCESS.into(),
            refresh: EXAMPLE_REFRESH.into(),
        }
    }
}

#[derive(ApiResponse)]
pub enum LoginResponse {
    /// Logged in: an access token for the API and a refresh token to renew it.
    #[oai(status = 200)]
    Ok(Json<TokenPair>),
}

#[derive(ApiResponse)]
pub enum RefreshResponse {
    /// A new pair; the refresh token sent is spent.
    #[oai(status = 200)]
    Ok(Json<RefreshedPair>),
}

#[derive(ApiResponse)]
pub enum RegisterResponse {
    /// The account was created.
    #[oai(status = 201)]
    Created(Json<User>),
}

#[derive(ApiResponse)]
pub enum RevokeResponse {
    /// The token and every token rotated from the same login are revoked.
    #[oai(status = 204)]
    Revoked,
}

#[OpenApi(tag = "ApiTags::Auth")]
impl AuthApi {
    /// Register a new account
    ///
    /// Same as `POST /api/users/`, the original app's registration route. Every attempt,
    /// accepted or not, counts against the client address: past the limit, 429 with
    /// `Retry-After`. The username is stored NFKC-normalised (`ａｌｉｃｅ` is `alice`).
    #[oai(path = "/api/register", method = "post", operation_id = "register")]
    async fn register(
        &self,
        req: &Request,
        state: Data<&AppState>,
        body: DrfBody<RegisterRequest>,
    ) -> Result<RegisterResponse, RegisterErrors> {
        let user = register_user(req, &state, &body.data).await?;
        Ok(RegisterResponse::Created(Json(user)))
    }

    /// Log in: get an access and a refresh token
    ///
    /// A wrong password and an unknown username get the same 401. Attempts are counted
    /// per client address and username before the password is checked: past the limit,
    /// 429 with `Retry-After`. When too many passwords are being checked at once, 503
    /// with `Retry-After`.
    #[oai(path = "/api/token", method = "post", operation_id = "obtain_token")]
    async fn obtain_token(
        &self,
        req: &Request,
        state: Data<&AppState>,
        body: DrfBody<TokenRequest>,
    ) -> Result<LoginResponse, LoginErrors> {
        let (username, password) = login_fields(&body.data)?;
        let Tokens { access, refresh } =
            login_from_request(req, &state, &username, password).await?;
        Ok(LoginResponse::Ok(Json(TokenPair { refresh, access })))
    }

    /// Trade a refresh token for a new pair
    ///
    /// Rotation: the refresh token presented is spent. Presenting it again within the
    /// grace window (10 s by default) returns the same new pair, so two tabs or a retried
    /// request don't log the user out; after that, it counts as stolen and every token of
    /// that login is revoked.
    #[oai(
        path = "/api/token/refresh",
        method = "post",
        operation_id = "refresh_token"
    )]
    async fn refresh_token(
        &self,
        state: Data<&AppState>,
        body: DrfBody<RefreshRequest>,
    ) -> Result<RefreshResponse, RefreshErrors> {
        let token = refresh_field(&body.data)?;
        let grace = state.limits.refresh_grace.as_secs_f64();
        let Tokens { access, refresh } =
            sessions::refresh(&state.store, &state.jwt, grace, &token).await?;
        Ok(RefreshResponse::Ok(Json(RefreshedPair { access, refresh })))
    }

    /// Log out: revoke a refresh token
    ///
    /// Revokes the token and every token rotated from the same login. Access tokens
    /// already issued stay valid until they expire (5 minutes by default).
    #[oai(
        path = "/api/token/revoke",
        method = "post",
        operation_id = "revoke_token"
    )]
    async fn revoke_token(
        &self,
        state: Data<&AppState>,
        body: DrfBody<RefreshRequest>,
    ) -> Result<RevokeResponse, RefreshErrors> {
        let token = refresh_field(&body.data)?;
        sessions::revoke(&state.store, &state.jwt, &token).await?;
        Ok(RevokeResponse::Revoked)
    }
}

/// The `username` and `password` of a login, checked as `/api/token/` checks them: the
/// username trimmed, neither blank, the password at most 4,096 characters.
pub fn login_fields(data: &Map<String, Value>) -> Result<(String, String), DomainError> {
    let mut errors = FieldErrors::default();
    let login = Chars {
        allow_blank: false,
        trim: true,
        max_length: None,
    };
    let username = field(data, "username", true, &mut errors, |v| chars(v, login));
    let password = field(data, "password", true, &mut errors, |v| chars(v, PASSWORD));
    errors.into_result()?;
    match (username, password) {
        (Some(username), Some(password)) => Ok((username, password)),
        _ => Err(DomainError::Internal("validated fields missing".into())),
    }
}

/// Logs in from the API: the one path `POST /api/token/` and `POST /api/oauth/token/`
/// share (the client address as the throttles count it, the hashing queue, the domain's
/// login with its throttles, timing and inactive accounts).
pub async fn login_from_request(
    req: &Request,
    state: &AppState,
    username: &str,
    password: String,
) -> Result<Tokens, DomainError> {
    let address = client_address(req, state.limits.trust_x_forwarded_for);
    accounts::login(
        login_context(state, &address),
        &state.jwt,
        username,
        password,
    )
    .await
}

/// What a client's attempt (a login, a registration, a password check) needs from the
/// server, counted against the client's `address` by the throttles.
pub(crate) fn login_context<'a>(state: &'a AppState, address: &'a str) -> Login<'a> {
    Login {
        store: &state.store,
        throttles: &state.throttles,
        hash_queue: &state.hash_queue,
        address,
    }
}

fn refresh_field(data: &Map<String, Value>) -> Result<String, ApiError> {
    let mut errors = FieldErrors::default();
    let token = field(data, "refresh", true, &mut errors, |v| {
        chars(v, Chars::trimmed(4096))
    });
    errors.into_result()?;
    token.ok_or_else(|| ApiError::internal("validated refresh missing"))
}

/// Registers an account from the API: the domain's registration for this client (its
/// address counted by the registration throttle, the server's hashing queue).
pub async fn register_user(
    req: &Request,
    state: &AppState,
    data: &Map<String, Value>,
) -> Result<User, ApiError> {
    let mut errors = FieldErrors::default();
    let input = Registration {
        username: field(data, "username", true, &mut errors, text),
        email: field(data, "email", true, &mut errors, text),
        password: field(data, "password", true, &mut errors, text),
    };
    let address = client_address(req, state.limits.trust_x_forwarded_for);
    let ctx = login_context(state, &address);
    Ok(accounts::register_client(&ctx, input, errors).await?)
}
