//! Authentication: argon2id passwords (and the Django app's hashes, verified once and
//! replaced), simplejwt-compatible JWTs, and the Bearer security scheme every protected
//! operation takes as its `Caller` argument.

pub mod django;
pub mod floor;
pub mod jwt;
pub mod password;
pub mod queue;
pub mod session;
pub mod tickets;

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
pub use session::{ACCOUNT_CACHE_MAX, ACCOUNT_CACHE_TTL, AccountCache, AccountState, Session};

/// Why a request is not let in. `error.rs` gives each its DRF / simplejwt body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization: Bearer …` (or another scheme).
    #[error("authentication credentials were not provided")]
    NotProvided,
    /// `Bearer` with zero or several values.
    #[error("malformed Authorization header")]
    BadHeader,
    /// Not a valid access token (signature, expiry, type; or issued at a credentials
    /// generation the account has left, or by the original app after the import).
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
    /// An access token in a stream's URL (`?token=`), which the server refuses unless
    /// `--allow-token-in-url`.
    #[error("access token in a URL")]
    AccessTokenInUrl,
    /// A stream ticket that is unknown, expired, already used, or whose minting credential
    /// has ended.
    #[error("invalid stream ticket")]
    InvalidTicket,
    /// More than one credential on one request (two `?ticket=`, a ticket beside a header…).
    #[error("more than one credential")]
    MultipleCredentials,
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
    pub credential: Credential,
}

/// How the caller authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A JWT access token from logging in: everything the account may do (what needs a
    /// recent password login looks at its `auth_time`).
    Session(Session),
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
    /// The session the caller logged in with; `None` for an API token.
    pub fn session(&self) -> Option<&Session> {
        match &self.credential {
            Credential::Session(session) => Some(session),
            Credential::ApiToken { .. } => None,
        }
    }

    /// 403 unless the credential allows `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), AuthError> {
        match &self.credential {
            Credential::Session(_) => Ok(()),
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

/// What checking a token needs; the route table hands it to every request.
#[derive(Clone)]
pub struct Authenticator {
    pub store: Store,
    pub jwt: Arc<Jwt>,
    pub accounts: Arc<AccountCache>,
}

impl Authenticator {
    /// Checks an access token (or a personal API token) and loads its active user. Used
    /// by the Bearer scheme and by the streams (their header, or the deprecated `?token=`).
    pub async fn authenticate(&self, token: &str) -> Result<Caller, AuthError> {
        if token.starts_with(API_TOKEN_PREFIX) {
            return self.authenticate_api_token(token).await;
        }
        let claims = self
            .jwt
            .verify(token, TokenType::Access, now_secs())
            .map_err(AuthError::InvalidAccess)?;
        let (user, current) = match self.account(claims.user_id).await? {
            AccountState::Active { user, generation } => (user, generation),
            AccountState::Inactive => return Err(AuthError::UserInactive),
            AccountState::Missing => return Err(AuthError::UserNotFound),
        };
        let imported_at = match claims.generation {
            Some(_) => None,
            None => self.imported_at().await?,
        };
        // Issued before the account's password changed or it was deactivated (or by the
        // original app after the import): ended.
        let generation = session::token_generation(&claims, imported_at)
            .filter(|&g| g == current)
            .ok_or(AuthError::InvalidAccess(TokenError::Invalid))?;
        Ok(Caller {
            user,
            expires_at: claims.exp,
            credential: Credential::Session(Session {
                generation,
                auth_time: claims.auth_time,
            }),
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
    random_token(API_TOKEN_PREFIX)
}

/// `prefix` and 40 random base-62 characters (≈ 238 bits).
pub(crate) fn random_token(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut token = String::from(prefix);
    while token.len() < prefix.len() + 40 {
        let b = rand::random::<u8>();
        // Rejection sampling keeps every character equally likely.
        if b < 248 {
            token.push(ALPHABET[(b % 62) as usize] as char);
        }
    }
    token
}
