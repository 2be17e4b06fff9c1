//! One error type for the whole API, mapped to DRF-shaped bodies in one place.
//!
//! Handlers return `Result<_, ApiError>` and use `?`; store and auth errors convert here.
//! Internal detail is logged once, at the conversion, and never put in a body.
//! Errors raised by poem itself (unknown route, wrong method, bad query parameter…) and
//! by the Bearer scheme get the same shapes in [`from_poem`], which `web::drf_errors`
//! applies to every response. Domain errors convert with `From`, so handlers use `?`.

mod documented;
mod map;

use poem_openapi::{ApiResponse, Object, payload::Json, types::Example};
use serde_json::{Map, Value};

pub use crate::domain::FieldErrors;
pub use documented::{Errors, ValidationError, status};
pub use map::{
    api_token_error, coded, from_poem, invalid_access_token, invalid_refresh_token, task_error,
};

/// The `WWW-Authenticate` challenge on every 401, as DRF sends it.
pub const BEARER_CHALLENGE: &str = r#"Bearer realm="api""#;

/// Seconds a client refused a stream (too many open) is told to wait.
pub const STREAM_RETRY_AFTER: u64 = 10;

/// `{"detail": "…"}`, plus `code` and `messages` on token errors (simplejwt's shape).
#[derive(Object, Debug, Clone)]
#[oai(example)]
pub struct ErrorDetail {
    /// What went wrong, in words.
    pub detail: String,
    /// A stable machine-readable code, e.g. `token_not_valid`.
    #[oai(skip_serializing_if_is_none)]
    pub code: Option<String>,
    /// For rejected tokens: which token class rejected it and why.
    #[oai(skip_serializing_if_is_none)]
    pub messages: Option<Vec<TokenMessage>>,
    /// For an account that cannot be deleted: the projects it owns that have other
    /// members, to transfer or delete first.
    #[oai(skip_serializing_if_is_none)]
    pub projects: Option<Vec<crate::domain::ProjectRef>>,
}

impl Example for ErrorDetail {
    fn example() -> Self {
        detail("Authentication credentials were not provided.")
    }
}

/// One entry of simplejwt's `messages` array.
#[derive(Object, Debug, Clone)]
pub struct TokenMessage {
    pub token_class: String,
    pub token_type: String,
    pub message: String,
}

#[derive(ApiResponse, Debug)]
pub enum ApiError {
    /// Invalid input: `{"field": ["message", …], …}` in field order, `{"non_field_errors": […]}`,
    /// or `{"detail": "…"}` for a body that could not be parsed.
    #[oai(status = 400)]
    BadRequest(Json<ValidationError>),
    /// Missing, malformed, expired or revoked credentials, or a wrong username/password.
    #[oai(status = 401)]
    Unauthorized(
        Json<ErrorDetail>,
        #[oai(header = "WWW-Authenticate")] String,
    ),
    /// Authenticated, but not allowed to do this.
    #[oai(status = 403)]
    Forbidden(Json<ErrorDetail>),
    /// No such object, or it belongs to someone else.
    #[oai(status = 404)]
    NotFound(Json<ErrorDetail>),
    /// The change conflicts with the current state or a limit (a project's owner leaving
    /// without transferring it, a full project): the message says how.
    #[oai(status = 409)]
    Conflict(Json<ErrorDetail>),
    /// `If-Match` named a version the task no longer has: fetch it again and retry.
    #[oai(status = 412)]
    PreconditionFailed(Json<ErrorDetail>),
    /// The request body is larger than the server accepts.
    #[oai(status = 413)]
    PayloadTooLarge(Json<ErrorDetail>),
    /// The body's `Content-Type` is neither JSON nor form-encoded.
    #[oai(status = 415)]
    UnsupportedMediaType(Json<ErrorDetail>),
    /// The `Idempotency-Key` was already used with a different request.
    #[oai(status = 422)]
    UnprocessableEntity(Json<ErrorDetail>),
    /// Too many attempts; retry after `Retry-After` seconds.
    #[oai(status = 429)]
    TooManyRequests(Json<ErrorDetail>, #[oai(header = "Retry-After")] u64),
    /// Something failed on the server; details are in its log, never here.
    #[oai(status = 500)]
    Internal(Json<ErrorDetail>),
    /// Too many passwords are being checked at once (or this account already has
    /// several checks under way), or the database is unreachable for now (restarting,
    /// failing over, out of connections); retry after `Retry-After` seconds. A write
    /// answered 503 by the database may have been applied: retry creates with the same
    /// `Idempotency-Key`.
    #[oai(status = 503)]
    ServiceUnavailable(Json<ErrorDetail>, #[oai(header = "Retry-After")] u64),
}

pub fn detail(text: impl Into<String>) -> ErrorDetail {
    ErrorDetail {
        detail: text.into(),
        code: None,
        messages: None,
        projects: None,
    }
}

impl ApiError {
    pub fn fields(errors: FieldErrors) -> ApiError {
        let map: Map<String, Value> = errors
            .iter()
            .map(|(f, m)| (f.to_owned(), Value::from(m.to_vec())))
            .collect();
        ApiError::BadRequest(Json(ValidationError(map)))
    }

    pub fn field(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::fields(FieldErrors::one(field, message))
    }

    pub fn bad_request(text: impl Into<String>) -> ApiError {
        let mut map = Map::new();
        map.insert("detail".into(), Value::String(text.into()));
        ApiError::BadRequest(Json(ValidationError(map)))
    }

    pub fn unauthorized(body: ErrorDetail) -> ApiError {
        ApiError::Unauthorized(Json(body), BEARER_CHALLENGE.to_owned())
    }

    /// No usable `Authorization` header.
    pub fn not_authenticated() -> ApiError {
        ApiError::unauthorized(detail("Authentication credentials were not provided."))
    }

    pub fn not_found(text: impl Into<String>) -> ApiError {
        ApiError::NotFound(Json(detail(text)))
    }

    pub fn forbidden(text: impl Into<String>, code: &str) -> ApiError {
        ApiError::Forbidden(Json(ErrorDetail {
            detail: text.into(),
            code: Some(code.into()),
            messages: None,
            projects: None,
        }))
    }

    pub fn unprocessable(text: impl Into<String>) -> ApiError {
        ApiError::UnprocessableEntity(Json(detail(text)))
    }

    pub fn task_not_found() -> ApiError {
        ApiError::not_found("No Task matches the given query.")
    }

    pub fn payload_too_large(limit: usize) -> ApiError {
        ApiError::PayloadTooLarge(Json(detail(format!(
            "Request body is too large: the limit is {limit} bytes."
        ))))
    }

    pub fn unsupported_media_type(content_type: &str) -> ApiError {
        ApiError::UnsupportedMediaType(Json(detail(format!(
            "Unsupported media type \"{content_type}\" in request."
        ))))
    }

    pub fn too_many_requests(retry_after: u64) -> ApiError {
        ApiError::TooManyRequests(
            Json(detail(format!(
                "Request was throttled. Expected available in {retry_after} seconds."
            ))),
            retry_after,
        )
    }

    /// The password-hashing queue turned the request away: 503, retry in a second.
    pub fn busy() -> ApiError {
        ApiError::ServiceUnavailable(
            Json(detail(
                "The server is busy checking other passwords. Try again in 1 second.",
            )),
            1,
        )
    }

    /// The caller already holds `max` open streams.
    pub fn too_many_streams(max: u32) -> ApiError {
        ApiError::TooManyRequests(
            Json(ErrorDetail {
                detail: format!(
                    "Too many open streams: at most {max} per user. Close one, then retry."
                ),
                code: Some("too_many_streams".into()),
                messages: None,
                projects: None,
            }),
            STREAM_RETRY_AFTER,
        )
    }

    /// The database is unreachable or refusing work: logs `cause`, 503 with `Retry-After`.
    pub fn unavailable(cause: impl std::fmt::Display) -> ApiError {
        tracing::warn!(error = %cause, "database unavailable");
        ApiError::ServiceUnavailable(
            Json(ErrorDetail {
                detail: "The database is unavailable. Try again in 1 second.".into(),
                code: Some("database_unavailable".into()),
                messages: None,
                projects: None,
            }),
            1,
        )
    }

    /// Logs `cause` and returns the opaque 500.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %cause, "internal error");
        ApiError::Internal(Json(detail("A server error occurred.")))
    }
}
