//! Authentication: argon2id passwords (and the Django app's hashes, verified once and
//! replaced), simplejwt-compatible JWTs, and the Bearer security scheme every protected
//! operation takes as its `Caller` argument.

pub mod django;
pub mod floor;
pub mod jwt;
pub mod password;
pub mod queue;

use poem::Request;
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ExtractParamOptions,
    registry::{MetaOAuthFlow, MetaOAuthFlows, MetaSecurityScheme, Registry},
};

use std::sync::Arc;

use crate::clock::now_secs;
use crate::model::User;
use crate::store::{Store, StoreError};
use jwt::{Jwt, TokenError, TokenType};

/// Why a request is not let in. `error.rs` gives each its DRF / simplejwt body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization: Bearer …` (or another scheme).
    #[error("authentication credentials were not provided")]
    NotProvided,
    /// `Bearer` with zero or several values.
    #[error("malformed Authorization header")]
    BadHeader,
    /// Not a valid access token (signature, expiry, type, or issued before the account's
    /// credentials cut-off).
    #[error("invalid access token: {0}")]
    InvalidAccess(TokenError),
    #[error("user is inactive")]
    UserInactive,
    #[error("user not found")]
    UserNotFound,
    /// A personal API token that is unknown, expired or revoked.
    #[error("invalid API token")]
    InvalidApiToken,
    /// A personal API token in a URL.
    #[error("API token in a URL")]
    TokenInUrl,
    /// An API token used where only a logged-in session may act.
    #[error("session required")]
    SessionRequired,
    /// An API token without the scope.
    #[error("the API token lacks {0}")]
    InsufficientScope(&'static str),
    /// The database is unreachable or refusing work for now: 503, retry shortly.
    #[error("{0}")]
    Unavailable(String),
    /// The store failed: logged, never shown.
    #[error("{0}")]
    Internal(String),
}

impl From<StoreError> for AuthError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(cause) => AuthError::Unavailable(cause),
            e => AuthError::Internal(e.to_string()),
        }
    }
}

/// The name of the security scheme in the OpenAPI document.
pub const SCHEME_NAME: &str = "bearerAuth";

/// The name of the OAuth2 scheme in the OpenAPI document: the same access tokens, got
/// through OAuth2's password flow (Swagger UI's Authorize dialog asks for a username and
/// password). Every protected operation takes either scheme.
pub const OAUTH2_SCHEME_NAME: &str = "oauth2";

/// The authenticated user of a request.
///
/// Implemented by hand rather than derived so the 401 bodies match DRF + simplejwt
/// exactly (which header problem, which token problem), as clients of the original expect.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    /// When the credential expires (unix seconds): streams close then.
    pub expires_at: i64,
    /// When a session's access token was issued (its `iat`); 0 for API tokens. A stream
    /// closes once the account's credentials cut-off passes it.
    pub issued_at: i64,
    pub credential: Credential,
}

/// How the caller authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A JWT access token from logging in: everything the account may do.
    Session,
    /// A personal API token, limited to its scopes.
    ApiToken { id: i64, scopes: Vec<String> },
}

/// What an operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    TasksRead,
    TasksWrite,
    /// Reading the account (`/api/`, `/api/users/…`).
    AccountRead,
    /// Managing the account itself (API tokens): only a logged-in session.
    Account,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::TasksRead => "tasks:read",
            Scope::TasksWrite => "tasks:write",
            Scope::AccountRead => "account:read",
            Scope::Account => "account",
        }
    }
}

/// The scopes an API token may carry. `tasks:write` implies `tasks:read` (every write
/// answers with the task): a token asked for with `tasks:write` lists both.
pub const TOKEN_SCOPES: &[&str] = &["account:read", "tasks:read", "tasks:write"];

/// Personal API tokens start with this, so they are told apart from JWTs at a glance.
pub const API_TOKEN_PREFIX: &str = "tlp_";

impl Caller {
    /// 403 unless the credential allows `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), AuthError> {
        match &self.credential {
            Credential::Session => Ok(()),
            Credential::ApiToken { .. } if scope == Scope::Account => {
                Err(AuthError::SessionRequired)
            }
            Credential::ApiToken { scopes, .. }
                if scopes.iter().any(|s| {
                    s == scope.as_str() || (scope == Scope::TasksRead && s == "tasks:write")
                }) =>
            {
                Ok(())
            }
            Credential::ApiToken { .. } => Err(AuthError::InsufficientScope(scope.as_str())),
        }
    }
}

impl<'a> ApiExtractor<'a> for Caller {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        registry.create_security_scheme(
            SCHEME_NAME,
            MetaSecurityScheme {
                ty: "http",
                description: Some(
                    "An access token from `POST /api/token/`, or a personal API token (`tlp_…`, from `POST /api/tokens/`), sent as `Authorization: Bearer <token>`.",
                ),
                name: None,
                key_in: None,
                scheme: Some("bearer"),
                bearer_format: Some("JWT"),
                flows: None,
                openid_connect_url: None,
            },
        );
        registry.create_security_scheme(
            OAUTH2_SCHEME_NAME,
            MetaSecurityScheme {
                ty: "oauth2",
                description: Some(
                    "Log in with your username and password (OAuth 2.0's password flow, `POST /api/oauth/token/`; no client id or secret). The access token is then sent as `Authorization: Bearer <token>`, as with bearerAuth.",
                ),
                name: None,
                key_in: None,
                scheme: None,
                bearer_format: None,
                flows: Some(MetaOAuthFlows {
                    implicit: None,
                    password: Some(MetaOAuthFlow {
                        authorization_url: None,
                        token_url: Some(crate::api::oauth::TOKEN_URL),
                        refresh_url: Some(crate::api::oauth::TOKEN_URL),
                        scopes: Vec::new(),
                    }),
                    client_credentials: None,
                    authorization_code: None,
                }),
                openid_connect_url: None,
            },
        );
    }

    /// Either scheme (each is an alternative requirement in the document).
    fn security_schemes() -> Vec<&'static str> {
        vec![SCHEME_NAME, OAUTH2_SCHEME_NAME]
    }

    async fn from_request(
        req: &'a Request,
        _body: &mut poem::RequestBody,
        _opts: ExtractParamOptions<()>,
    ) -> poem::Result<Self> {
        let auth = req
            .data::<Authenticator>()
            .ok_or_else(|| AuthError::Internal("Authenticator missing from request".into()))?;
        let header = req
            .headers()
            .get(poem::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let token = bearer_token(header)?;
        Ok(auth.authenticate(token).await?)
    }
}

/// The `Authorization` header as sent, unchecked, for an operation that also takes its
/// credential another way (a stream's `?token=`): documented as the Bearer scheme, checked
/// by the operation.
#[derive(Debug, Clone)]
pub struct BearerHeader(pub Option<String>);

impl<'a> ApiExtractor<'a> for BearerHeader {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        <Caller as ApiExtractor>::register(registry);
    }

    /// Either scheme, as for [`Caller`]: an access token got through OAuth2's password
    /// flow is sent in the same header.
    fn security_schemes() -> Vec<&'static str> {
        vec![SCHEME_NAME, OAUTH2_SCHEME_NAME]
    }

    async fn from_request(
        req: &'a Request,
        _body: &mut poem::RequestBody,
        _opts: ExtractParamOptions<()>,
    ) -> poem::Result<Self> {
        Ok(BearerHeader(
            req.headers()
                .get(poem::http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        ))
    }
}

/// The token in an `Authorization` header, with simplejwt's answers for bad headers: no
/// header or another scheme (case-sensitive `Bearer`) is "not provided"; `Bearer` with
/// zero or several values is `bad_authorization_header`.
pub fn bearer_token(header: Option<&str>) -> Result<&str, AuthError> {
    let mut parts = header.unwrap_or_default().split_ascii_whitespace();
    if parts.next() != Some("Bearer") {
        return Err(AuthError::NotProvided);
    }
    match (parts.next(), parts.next()) {
        (Some(token), None) => Ok(token),
        _ => Err(AuthError::BadHeader),
    }
}

/// An account, as a credential check sees it.
#[derive(Debug, Clone)]
pub enum AccountState {
    /// Active; access tokens issued (`iat`) before `credentials_after` are ended.
    Active {
        user: User,
        credentials_after: i64,
    },
    Inactive,
    Missing,
}

/// What checking a token needs; the route table hands it to every request.
#[derive(Clone)]
pub struct Authenticator {
    pub store: Store,
    pub jwt: Arc<Jwt>,
    pub accounts: Arc<AccountCache>,
}

impl Authenticator {
    /// Checks an access token (or a personal API token) and loads its active user. Used
    /// by the Bearer scheme and by the streams' `?token=`.
    pub async fn authenticate(&self, token: &str) -> Result<Caller, AuthError> {
        if token.starts_with(API_TOKEN_PREFIX) {
            return self.authenticate_api_token(token).await;
        }
        let claims = self
            .jwt
            .verify(token, TokenType::Access, now_secs())
            .map_err(AuthError::InvalidAccess)?;
        let session = |user: User| Caller {
            user,
            expires_at: claims.exp,
            issued_at: claims.iat,
            credential: Credential::Session,
        };
        match self.account(claims.user_id).await? {
            // Issued before the account's password changed or it was deactivated: ended.
            AccountState::Active {
                credentials_after, ..
            } if claims.iat < credentials_after => {
                Err(AuthError::InvalidAccess(TokenError::Invalid))
            }
            AccountState::Active { user, .. } => Ok(session(user)),
            AccountState::Inactive => Err(AuthError::UserInactive),
            AccountState::Missing => Err(AuthError::UserNotFound),
        }
    }

    /// Account `user_id` as a credential check needs it: from the one-second cache, or
    /// read (and cached when active). One read per user per second, however many requests
    /// and streams it has.
    pub async fn account(&self, user_id: i64) -> Result<AccountState, StoreError> {
        if let Some((user, credentials_after)) = self.accounts.get(user_id) {
            return Ok(AccountState::Active {
                user,
                credentials_after,
            });
        }
        Ok(match self.store.account_by_id(user_id).await? {
            Some(a) if a.is_active => {
                self.accounts.put(a.user.clone(), a.credentials_after);
                AccountState::Active {
                    user: a.user,
                    credentials_after: a.credentials_after,
                }
            }
            Some(_) => AccountState::Inactive,
            None => AccountState::Missing,
        })
    }

    async fn authenticate_api_token(&self, token: &str) -> Result<Caller, AuthError> {
        let (owner, stale_use) = self
            .store
            .api_token_owner(hash_api_token(token), now_secs())
            .await?
            .ok_or(AuthError::InvalidApiToken)?;
        if stale_use {
            // Writes go through the writer; the request doesn't wait for this one.
            let (store, id) = (self.store.clone(), owner.token_id);
            tokio::spawn(async move {
                if let Err(e) = store.touch_api_token(id).await {
                    tracing::warn!(error = %e, "could not record an API token's use");
                }
            });
        }
        Ok(Caller {
            user: owner.user,
            // A stream on a token without expiry is still re-authenticated daily.
            expires_at: owner.expires_unix.unwrap_or_else(|| now_secs() + 24 * 3600),
            issued_at: 0,
            credential: Credential::ApiToken {
                id: owner.token_id,
                scopes: owner.scopes,
            },
        })
    }
}

/// How API tokens are stored: SHA-256, hex. (They are 40 random characters, so a fast
/// hash is enough: there is nothing to brute-force.)
pub fn hash_api_token(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// A new API token: the prefix and 40 random base-62 characters (≈ 238 bits).
pub fn new_api_token() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut token = String::from(API_TOKEN_PREFIX);
    while token.len() < API_TOKEN_PREFIX.len() + 40 {
        let b = rand::random::<u8>();
        // Rejection sampling keeps every character equally likely.
        if b < 248 {
            token.push(ALPHABET[(b % 62) as usize] as char);
        }
    }
    token
}

/// Active accounts seen in the last second, so a burst of requests with one token costs
/// one database read, not one each. Only active accounts are kept: a deactivated or
/// deleted account is refused within [`ACCOUNT_CACHE_TTL`], even when the change came
/// from another process (the admin CLI). At most [`ACCOUNT_CACHE_MAX`] accounts are kept.
pub struct AccountCache {
    /// The user and its credentials cut-off, by user id.
    entries: moka::sync::Cache<i64, (User, i64)>,
}

/// How long a cached account is trusted.
pub const ACCOUNT_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(1);
/// Accounts kept at most.
pub const ACCOUNT_CACHE_MAX: u64 = 50_000;

impl Default for AccountCache {
    fn default() -> Self {
        AccountCache {
            entries: moka::sync::Cache::builder()
                .max_capacity(ACCOUNT_CACHE_MAX)
                .time_to_live(ACCOUNT_CACHE_TTL)
                .build(),
        }
    }
}

impl AccountCache {
    /// The active account and its credentials cut-off, when read within the TTL.
    pub fn get(&self, user_id: i64) -> Option<(User, i64)> {
        self.entries.get(&user_id)
    }

    /// Remembers an active account.
    pub fn put(&self, user: User, credentials_after: i64) {
        self.entries.insert(user.id, (user, credentials_after));
    }

    /// Forgets an account this process just changed, so its next request reads it again.
    pub fn forget(&self, user_id: i64) {
        self.entries.invalidate(&user_id);
    }
}
