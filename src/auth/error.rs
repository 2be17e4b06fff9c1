//! Why a credential is refused: one enum, whatever was presented (a header, a token, a
//! ticket). `error/map.rs` gives each its DRF / simplejwt body.

use super::jwt::TokenError;
use crate::store::StoreError;

/// Why a request is not let in. `error/map.rs` gives each its DRF / simplejwt body.
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
