//! Why a token request was refused, in OAuth 2.0's words (RFC 6749 §5.2), and how each
//! refusal becomes its response.

use poem_openapi::payload::Json;

use super::{NO_CACHE, NO_STORE, OAuthError, OAuthErrorCode, OAuthTokenResponse};
use crate::domain::{DomainError, FieldErrors, RefreshRefusal};

/// Why a token request was refused, before it becomes its response.
#[derive(Debug)]
pub enum OAuthRefusal {
    /// A 400 of RFC 6749 §5.2.
    Bad(OAuthErrorCode, String),
    /// 429: too many attempts; retry after that many seconds.
    Throttled(String, u64),
    /// 503: busy, or the database is away; retry after that many seconds.
    Unavailable(String, u64),
    /// 500.
    Internal,
}

impl From<OAuthRefusal> for OAuthTokenResponse {
    fn from(r: OAuthRefusal) -> Self {
        let error = |code, description: String| {
            Json(OAuthError {
                error: code,
                error_description: description,
            })
        };
        let (no_store, no_cache) = (NO_STORE.to_owned(), NO_CACHE.to_owned());
        match r {
            OAuthRefusal::Bad(code, description) => {
                OAuthTokenResponse::BadRequest(error(code, description), no_store, no_cache)
            }
            OAuthRefusal::Throttled(description, retry_after) => {
                OAuthTokenResponse::TooManyRequests(
                    error(OAuthErrorCode::TemporarilyUnavailable, description),
                    retry_after,
                    no_store,
                    no_cache,
                )
            }
            OAuthRefusal::Unavailable(description, retry_after) => {
                OAuthTokenResponse::ServiceUnavailable(
                    error(OAuthErrorCode::TemporarilyUnavailable, description),
                    retry_after,
                    no_store,
                    no_cache,
                )
            }
            OAuthRefusal::Internal => OAuthTokenResponse::Internal(
                error(
                    OAuthErrorCode::ServerError,
                    "A server error occurred.".into(),
                ),
                no_store,
                no_cache,
            ),
        }
    }
}

pub(super) fn bad(code: OAuthErrorCode, description: impl Into<String>) -> OAuthRefusal {
    OAuthRefusal::Bad(code, description.into())
}

pub(super) fn invalid_request(description: impl Into<String>) -> OAuthRefusal {
    bad(OAuthErrorCode::InvalidRequest, description)
}

/// `field: message message; field: message`.
pub(super) fn describe(errors: &FieldErrors) -> String {
    errors
        .iter()
        .map(|(f, m)| format!("{f}: {}", m.join(" ")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The domain's refusal in OAuth2's words.
pub(super) fn refused(e: DomainError) -> OAuthRefusal {
    use OAuthErrorCode::*;
    match e {
        DomainError::BadCredentials => bad(
            InvalidGrant,
            "No active account found with the given credentials",
        ),
        DomainError::Refresh(refusal) => bad(
            InvalidGrant,
            match refusal {
                RefreshRefusal::Token(e) => e.to_string(),
                RefreshRefusal::Reused => "Token is blacklisted".into(),
                RefreshRefusal::Unknown => "Token is invalid or expired".into(),
                RefreshRefusal::NoActiveAccount => {
                    "No active account found for the given token.".into()
                }
            },
        ),
        DomainError::Invalid(fields) => invalid_request(describe(&fields)),
        DomainError::Throttled { retry_after } => OAuthRefusal::Throttled(
            format!("Too many login attempts. Try again in {retry_after} seconds."),
            retry_after,
        ),
        DomainError::Busy => OAuthRefusal::Unavailable(
            "The server is busy checking other passwords. Try again in 1 second.".into(),
            1,
        ),
        DomainError::Unavailable(cause) => {
            tracing::warn!(error = %cause, "database unavailable");
            OAuthRefusal::Unavailable(
                "The database is unavailable. Try again in 1 second.".into(),
                1,
            )
        }
        e => {
            tracing::error!(error = %e, "internal error");
            OAuthRefusal::Internal
        }
    }
}
