//! Accounts and tokens: register, log in, refresh (with rotation), revoke.

use poem::{Request, web::Data};
use poem_openapi::{ApiResponse, Object, OpenApi, payload::Json, types::Example};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::ApiTags;
use super::body::DrfBody;
use super::fields::{
    Chars, USERNAME_MAX, chars, field, is_valid_email, is_valid_username, normalize_username,
};
use crate::AppState;
use crate::auth::jwt::{Signed, TokenType, now_secs, now_secs_f64};
use crate::auth::password::{HashQueue, hash_password, validate_password, verify_password};
use crate::auth::{coded, invalid_refresh_token};
use crate::error::{ApiError, FieldErrors, detail, unique_message};
use crate::limits::{client_address, login_pair};
use crate::model::User;
use crate::store::tokens::{NewRefresh, Rotation};
use crate::store::users::Account;
use crate::store::{Store, StoreError};

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
pub struct TokenPair {
    /// Trade for a new pair at `POST /api/token/refresh/`; lasts 1 day by default.
    pub refresh: String,
    /// Send as `Authorization: Bearer <access>`; lasts 5 minutes by default.
    pub access: String,
}

/// A refreshed pair. The refresh token presented is now spent: keep the new one.
#[derive(Object, Serialize, Deserialize, Debug)]
pub struct RefreshedPair {
    pub access: String,
    pub refresh: String,
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
    ) -> Result<RegisterResponse, ApiError> {
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
    ) -> Result<Json<TokenPair>, ApiError> {
        let mut errors = FieldErrors::default();
        let login = Chars {
            allow_blank: false,
            trim: true,
            max_length: None,
        };
        let username = field(&body.data, "username", true, &mut errors, |v| {
            chars(v, login)
        });
        let password = field(&body.data, "password", true, &mut errors, |v| {
            chars(v, PASSWORD)
        });
        errors.into_result()?;
        let (Some(raw_username), Some(password)) = (username, password) else {
            return Err(ApiError::internal("validated fields missing"));
        };
        // A name no account can have is refused before anything is stored or hashed.
        let Some(username) = login_username(&raw_username) else {
            return Err(bad_credentials());
        };
        // Counted before the password is hashed, checked and recorded in one lock, so
        // however many guesses arrive at once, at most the limit reach argon2.
        let address = client_address(req, state.limits.trust_x_forwarded_for);
        let pair = login_pair(&address, &username);
        let throttles = &state.throttles;
        let pair_attempt = throttles
            .login
            .acquire(&pair)
            .map_err(ApiError::too_many_requests)?;
        let address_attempt = match throttles.login_address.acquire(&address) {
            Ok(a) => a,
            Err(wait) => {
                throttles.login.refund(&pair, pair_attempt);
                return Err(ApiError::too_many_requests(wait));
            }
        };
        // A bounded queue, a few places per account: a busy server says so at once.
        let Ok(place) = state.hash_queue.enter(&username) else {
            throttles.login.refund(&pair, pair_attempt);
            throttles.login_address.refund(&address, address_attempt);
            return Err(ApiError::busy());
        };
        let account = find_account(&state.store, &raw_username).await?;
        let hash = account.as_ref().map(|a| a.password_hash.clone());
        let verified = verify_password(password, hash).await;
        drop(place);
        let (user_id, not_before) = match account {
            Some(a) if verified && a.is_active => (a.user.id, a.credentials_after),
            _ => return Err(bad_credentials()),
        };
        // The pair's failures are forgotten; the success itself doesn't count against
        // the address (its failures do).
        throttles.login.clear(&pair);
        throttles.login_address.refund(&address, address_attempt);
        // Never issued before the account's credentials cut-off (a password change in
        // this same second), or the new tokens would be refused.
        let now = now_secs().max(not_before);
        let refresh = state.jwt.issue(TokenType::Refresh, user_id, now);
        let access = state.jwt.issue(TokenType::Access, user_id, now);
        state
            .store
            .insert_refresh(new_refresh(&refresh), now)
            .await?;
        Ok(Json(TokenPair {
            refresh: refresh.token,
            access: access.token,
        }))
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
    ) -> Result<Json<RefreshedPair>, ApiError> {
        let token = refresh_field(&body.data)?;
        let claims = state
            .jwt
            .verify(&token, TokenType::Refresh, now_secs())
            .map_err(|e| invalid_refresh_token(&e))?;
        let jwt = state.jwt.clone();
        let grace = state.limits.refresh_grace.as_secs_f64();
        let rotation = state
            .store
            .rotate_refresh(
                claims.jti,
                now_secs_f64(),
                grace,
                move |user_id, not_before| {
                    let now = now_secs().max(not_before);
                    let refresh = jwt.issue(TokenType::Refresh, user_id, now);
                    let access = jwt.issue(TokenType::Access, user_id, now);
                    let next = new_refresh(&refresh);
                    let pair = RefreshedPair {
                        access: access.token,
                        refresh: refresh.token,
                    };
                    (serde_json::to_string(&pair).unwrap_or_default(), next)
                },
            )
            .await?;
        match rotation {
            Rotation::Rotated(pair) | Rotation::Replayed(pair) => serde_json::from_str(&pair)
                .map(Json)
                .map_err(ApiError::internal),
            Rotation::ReuseDetected => {
                tracing::warn!(
                    user_id = claims.user_id,
                    "spent refresh token presented again: its login's tokens are revoked"
                );
                Err(ApiError::unauthorized(coded(
                    "Token is blacklisted",
                    "token_not_valid",
                )))
            }
            Rotation::Invalid => Err(ApiError::unauthorized(coded(
                "Token is invalid or expired",
                "token_not_valid",
            ))),
            Rotation::InactiveUser => Err(ApiError::unauthorized(coded(
                "No active account found for the given token.",
                "no_active_account",
            ))),
        }
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
    ) -> Result<RevokeResponse, ApiError> {
        let token = refresh_field(&body.data)?;
        let claims = state
            .jwt
            .verify(&token, TokenType::Refresh, now_secs())
            .map_err(|e| invalid_refresh_token(&e))?;
        if state
            .store
            .revoke_refresh_family(claims.jti, now_secs_f64())
            .await?
        {
            Ok(RevokeResponse::Revoked)
        } else {
            Err(ApiError::unauthorized(coded(
                "Token is invalid or expired",
                "token_not_valid",
            )))
        }
    }
}

/// Passwords are never trimmed (the original trimmed them at registration but not at
/// login, which locked out anyone whose password began or ended with a space).
const PASSWORD: Chars = Chars {
    allow_blank: false,
    trim: false,
    max_length: Some(4096),
};

const USERNAME_INVALID: &str = "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.";

fn new_refresh(refresh: &Signed) -> NewRefresh {
    NewRefresh {
        jti: refresh.claims.jti.clone(),
        user_id: refresh.claims.user_id,
        expires_at: refresh.claims.exp,
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

/// Registers an account from the API: every attempt counts against the client address
/// before anything else is done (a taken username or an invalid field too, so names and
/// emails can't be probed without limit), then [`create_account`].
pub async fn register_user(
    req: &Request,
    state: &AppState,
    data: &Map<String, Value>,
) -> Result<User, ApiError> {
    let address = client_address(req, state.limits.trust_x_forwarded_for);
    state
        .throttles
        .register
        .acquire(&address)
        .map_err(ApiError::too_many_requests)?;
    create_account(&state.store, data, Some(&state.hash_queue)).await
}

/// The 401 for wrong credentials, an unknown or inactive user, or an impossible name.
fn bad_credentials() -> ApiError {
    ApiError::unauthorized(detail("No active account found with the given credentials"))
}

/// The username a login names, NFKC-normalised; `None` when it is longer than any
/// account's can be. Text over four times the limit is refused without normalising it
/// (composition never joins more than four characters into one).
fn login_username(raw: &str) -> Option<String> {
    if raw.chars().count() > 4 * USERNAME_MAX {
        return None;
    }
    let username = normalize_username(raw);
    (username.chars().count() <= USERNAME_MAX).then_some(username)
}

/// The account `username` names: NFKC-normalised as registration stores names, or else
/// exactly as given (an account registered before names were normalised).
pub async fn find_account(store: &Store, username: &str) -> Result<Option<Account>, StoreError> {
    let normal = normalize_username(username);
    if let Some(account) = store.account_by_username(normal.clone()).await? {
        return Ok(Some(account));
    }
    if normal != username {
        return store.account_by_username(username.to_owned()).await;
    }
    Ok(None)
}

/// Validates a registration like the original's serializer (field order username, email,
/// password; uniqueness before password rules), hashes the password and creates the
/// account. The username is NFKC-normalised first, as Django's `create_user` does, and
/// checked as normalised. Shared by the API (hashing through its `queue`) and
/// `tasklane user create`.
pub async fn create_account(
    store: &Store,
    data: &Map<String, Value>,
    queue: Option<&HashQueue>,
) -> Result<User, ApiError> {
    let mut errors = FieldErrors::default();
    let username = field(data, "username", true, &mut errors, |v| {
        let v = match v {
            Value::String(s) => Value::String(normalize_username(s)),
            other => other.clone(),
        };
        let s = chars(&v, Chars::trimmed(USERNAME_MAX))?;
        if is_valid_username(&s) {
            Ok(s)
        } else {
            Err(USERNAME_INVALID.into())
        }
    });
    let email = field(data, "email", true, &mut errors, |v| {
        let s = chars(v, Chars::trimmed(254))?;
        if is_valid_email(&s) {
            Ok(s)
        } else {
            Err("Enter a valid email address.".into())
        }
    });
    let taken = store
        .taken_account_fields(username.clone(), email.clone())
        .await?;
    for f in taken {
        errors.add(f, unique_message(f));
    }
    let password = password_field(
        data,
        username.as_deref().unwrap_or_default(),
        email.as_deref().unwrap_or_default(),
        &mut errors,
    );
    errors.into_result()?;
    let (Some(username), Some(email), Some(password)) = (username, email, password) else {
        return Err(ApiError::internal("validated fields missing"));
    };
    let place = match queue {
        Some(q) => Some(q.enter(&username).map_err(|_| ApiError::busy())?),
        None => None,
    };
    let hash = hash_password(password).await.map_err(ApiError::internal)?;
    drop(place);
    Ok(store.create_user(username, email, hash).await?)
}

/// The `password` field of `data`, checked with Django's validators against the
/// account's username and email; failures go to `errors`.
pub fn password_field(
    data: &Map<String, Value>,
    username: &str,
    email: &str,
    errors: &mut FieldErrors,
) -> Option<String> {
    let password = field(data, "password", true, errors, |v| chars(v, PASSWORD))?;
    let failures = validate_password(&password, username, email);
    let ok = failures.is_empty();
    for message in failures {
        errors.add("password", message);
    }
    ok.then_some(password)
}
