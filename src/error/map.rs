//! Every error becomes HTTP here: the domain's, the Bearer scheme's, the store's, and
//! poem's own (unknown route, wrong method, unparsable parameter or body).

use poem::error::{MethodNotAllowedError, NotFoundError};
use poem::http::{Method, StatusCode};
use poem::{IntoResponse, Response};
use poem_openapi::error::{
    ContentTypeError, ParseParamError, ParsePathError, ParseRequestPayloadError,
};
use poem_openapi::payload::Json;

use super::{ApiError, ErrorDetail, TokenMessage, detail};
use crate::auth::AuthError;
use crate::auth::jwt::TokenError;
use crate::domain::{DomainError, RefreshRefusal};
use crate::store::StoreError;

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        DomainError::from(e).into()
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid(fields) => ApiError::fields(fields),
            DomainError::BadCredentials => {
                ApiError::unauthorized(detail("No active account found with the given credentials"))
            }
            DomainError::Throttled { retry_after } => ApiError::too_many_requests(retry_after),
            DomainError::Busy => ApiError::busy(),
            DomainError::Refresh(refusal) => refresh_refused(refusal),
            // As if the access token had been refused at the door: it has ended.
            DomainError::SessionEnded => invalid_access_token(&TokenError::Invalid),
            DomainError::ReauthenticationRequired { window } => ApiError::forbidden(
                format!(
                    "This action needs your password: send current_password, or log in again \
                     (your last password login was more than {} ago).",
                    spoken(window)
                ),
                "reauthentication_required",
            ),
            DomainError::NotFound => ApiError::not_found("Not found."),
            DomainError::Missing(what) => {
                ApiError::not_found(format!("No {what} matches the given query."))
            }
            DomainError::NeedsRole(role) => ApiError::forbidden(
                format!("This needs the {} role or higher.", role.as_str()),
                "role_required",
            ),
            DomainError::Conflict(message) => ApiError::Conflict(Json(detail(message))),
            DomainError::OwnsSharedProjects(projects) => ApiError::Conflict(Json(ErrorDetail {
                projects: Some(projects),
                ..coded(
                    "This account owns projects that have other members: transfer each to \
                     another member (POST /api/projects/{id}/transfer/) or delete it first.",
                    "owns_shared_projects",
                )
            })),
            DomainError::Stale { current } => ApiError::PreconditionFailed(Json(ErrorDetail {
                detail: format!(
                    "The task has changed since you read it: it is now version {current}. \
                     Fetch it again, then retry."
                ),
                code: Some("stale_version".into()),
                messages: None,
                projects: None,
            })),
            DomainError::KeyReused => ApiError::unprocessable(
                "This Idempotency-Key was already used with a different request body. \
                 Use a new key for a new task.",
            ),
            DomainError::TooManyStreams { max } => ApiError::too_many_streams(max),
            DomainError::Unavailable(cause) => ApiError::unavailable(cause),
            DomainError::Internal(cause) => ApiError::internal(cause),
        }
    }
}

/// A duration as a person says it: "10 minutes", "1 hour", "90 seconds".
fn spoken(d: std::time::Duration) -> String {
    let secs = d.as_secs();
    let (n, unit) = match secs {
        s if s >= 3600 && s % 3600 == 0 => (s / 3600, "hour"),
        s if s >= 60 && s % 60 == 0 => (s / 60, "minute"),
        s => (s, "second"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// A task operation's error: a missing task is DRF's task 404.
pub fn task_error(e: impl Into<DomainError>) -> ApiError {
    match e.into() {
        DomainError::NotFound => ApiError::task_not_found(),
        e => e.into(),
    }
}

/// An API token operation's error: a missing token is DRF's 404 for it.
pub fn api_token_error(e: impl Into<DomainError>) -> ApiError {
    match e.into() {
        DomainError::NotFound => ApiError::not_found("No API token matches the given query."),
        e => e.into(),
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::NotProvided => ApiError::not_authenticated(),
            AuthError::BadHeader => ApiError::unauthorized(coded(
                "Authorization header must contain two space-delimited values",
                "bad_authorization_header",
            )),
            AuthError::InvalidAccess(e) => invalid_access_token(&e),
            AuthError::UserInactive => {
                ApiError::unauthorized(coded("User is inactive", "user_inactive"))
            }
            AuthError::UserNotFound => {
                ApiError::unauthorized(coded("User not found", "user_not_found"))
            }
            AuthError::InvalidApiToken => ApiError::unauthorized(coded(
                "API token is invalid, expired or revoked",
                "token_not_valid",
            )),
            AuthError::TokenInUrl => ApiError::unauthorized(coded(
                "API tokens must not be sent in URLs; send them in the Authorization header.",
                "token_in_url",
            )),
            AuthError::AccessTokenInUrl => ApiError::unauthorized(coded(
                "Access tokens are not accepted in URLs: get a single-use ticket from \
                 POST /api/stream-tickets/ and pass it as ?ticket=, or send the token in \
                 the Authorization header.",
                "token_in_url",
            )),
            AuthError::InvalidTicket => ApiError::unauthorized(coded(
                "Stream ticket is invalid, expired or already used; get a new one from \
                 POST /api/stream-tickets/.",
                "ticket_not_valid",
            )),
            AuthError::MultipleCredentials => ApiError::unauthorized(coded(
                "Send one credential: the Authorization header, or one ticket in ?ticket=.",
                "multiple_credentials",
            )),
            AuthError::SessionRequired => ApiError::forbidden(
                "API tokens cannot manage the account or its tokens; log in instead.",
                "session_required",
            ),
            AuthError::InsufficientScope(scope) => ApiError::forbidden(
                format!("This API token lacks the {scope} scope."),
                "insufficient_scope",
            ),
            AuthError::Unavailable(cause) => ApiError::unavailable(cause),
            AuthError::Internal(cause) => ApiError::internal(cause),
        }
    }
}

/// The Bearer scheme's extractor fails with an [`AuthError`]; this is its answer.
impl poem::error::ResponseError for AuthError {
    fn status(&self) -> poem::http::StatusCode {
        match self {
            AuthError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            AuthError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AuthError::SessionRequired | AuthError::InsufficientScope(_) => StatusCode::FORBIDDEN,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    fn as_response(&self) -> poem::Response {
        ApiError::from(self.clone()).into_response()
    }
}

/// simplejwt's answers on the token endpoints.
fn refresh_refused(refusal: RefreshRefusal) -> ApiError {
    match refusal {
        RefreshRefusal::Token(e) => invalid_refresh_token(&e),
        RefreshRefusal::Reused => {
            ApiError::unauthorized(coded("Token is blacklisted", "token_not_valid"))
        }
        RefreshRefusal::Unknown => {
            ApiError::unauthorized(coded("Token is invalid or expired", "token_not_valid"))
        }
        RefreshRefusal::NoActiveAccount => ApiError::unauthorized(coded(
            "No active account found for the given token.",
            "no_active_account",
        )),
    }
}

/// simplejwt's answer to a bad access token on a protected route.
pub fn invalid_access_token(e: &TokenError) -> ApiError {
    ApiError::unauthorized(ErrorDetail {
        detail: "Given token not valid for any token type".into(),
        code: Some("token_not_valid".into()),
        messages: Some(vec![TokenMessage {
            token_class: "AccessToken".into(),
            token_type: "access".into(),
            message: e.to_string(),
        }]),
        projects: None,
    })
}

/// simplejwt's answer to a bad refresh token on the token endpoints.
pub fn invalid_refresh_token(e: &TokenError) -> ApiError {
    ApiError::unauthorized(coded(&e.to_string(), "token_not_valid"))
}

/// `{"detail": text, "code": code}`.
pub fn coded(text: &str, code: &str) -> ErrorDetail {
    ErrorDetail {
        code: Some(code.into()),
        ..detail(text)
    }
}

/// poem's own errors (unknown route, wrong method, unparsable parameter or body) and the
/// Bearer scheme's, as DRF-shaped answers: the one place they become HTTP.
pub fn from_poem(e: poem::Error, method: &Method) -> Response {
    if e.is_from_response() {
        return e.into_response();
    }
    if let Some(auth) = e.downcast_ref::<AuthError>() {
        return ApiError::from(auth.clone()).into_response();
    }
    let api_error = if let Some(p) = e.downcast_ref::<ParseParamError>() {
        ApiError::field(p.name, param_message(&p.reason))
    } else if e.is::<ParsePathError>() || e.is::<NotFoundError>() {
        ApiError::not_found("Not found.")
    } else if e.is::<MethodNotAllowedError>() {
        let mut resp = poem::web::Json(serde_json::json!({
            "detail": format!("Method \"{method}\" not allowed.")
        }))
        .into_response();
        resp.set_status(StatusCode::METHOD_NOT_ALLOWED);
        return resp;
    } else if let Some(c) = e.downcast_ref::<ContentTypeError>() {
        match c {
            ContentTypeError::NotSupported { content_type } => {
                ApiError::unsupported_media_type(content_type)
            }
            ContentTypeError::ExpectContentType => ApiError::unsupported_media_type(""),
        }
    } else if let Some(p) = e.downcast_ref::<ParseRequestPayloadError>() {
        ApiError::bad_request(p.reason.clone())
    } else if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge(Json(detail("Request body is too large.")))
    } else if e.status().is_server_error() {
        ApiError::internal(&e)
    } else {
        let status = e.status();
        let mut resp = poem::web::Json(serde_json::json!({
            "detail": status.canonical_reason().unwrap_or("Error")
        }))
        .into_response();
        resp.set_status(status);
        return resp;
    };
    api_error.into_response()
}

/// poem-openapi's reasons for a bad query parameter, in DRF's words.
fn param_message(reason: &str) -> String {
    let bound = |name: &str| {
        reason
            .split_once(name)
            .and_then(|(_, rest)| rest.split([',', ')']).next())
            .map(str::to_owned)
    };
    if reason.contains("minimum(") {
        let n = bound("minimum(").unwrap_or_default();
        format!("Ensure this value is greater than or equal to {n}.")
    } else if reason.contains("maximum(") {
        let n = bound("maximum(").unwrap_or_default();
        format!("Ensure this value is less than or equal to {n}.")
    } else if reason.contains("maxLength(") {
        let n = bound("maxLength(").unwrap_or_default();
        format!("Ensure this field has no more than {n} characters.")
    } else if reason.contains("\"boolean\"") {
        "Must be a valid boolean.".into()
    } else if reason.contains("enumeration") {
        "Select a valid choice.".into()
    } else {
        "A valid integer is required.".into()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn durations_are_spoken_in_their_largest_whole_unit() {
        let said = |s| super::spoken(Duration::from_secs(s));
        assert_eq!(said(600), "10 minutes");
        assert_eq!(said(60), "1 minute");
        assert_eq!(said(3600), "1 hour");
        assert_eq!(said(5400), "90 minutes");
        assert_eq!(said(90), "90 seconds");
        assert_eq!(said(1), "1 second");
    }
}
