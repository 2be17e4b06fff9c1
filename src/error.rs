//! One error type for the whole API, mapped to DRF-shaped bodies in one place.
//!
//! Handlers return `Result<_, ApiError>` and use `?`; store and auth errors convert here.
//! Internal detail is logged once, at the conversion, and never put in a body.
//! Errors raised by poem itself (unknown route, wrong method, bad query parameter…) and
//! by the Bearer scheme get the same shapes in [`from_poem`], which `web::drf_errors`
//! applies to every response. Domain errors convert with `From`, so handlers use `?`.

use poem::error::{MethodNotAllowedError, NotFoundError};
use poem::http::{Method, StatusCode};
use poem::{IntoResponse, Response};
use poem_openapi::error::{
    ContentTypeError, ParseParamError, ParsePathError, ParseRequestPayloadError,
};
use std::borrow::Cow;

use poem_openapi::registry::{MetaResponses, MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{ToJSON, Type};
use poem_openapi::{ApiResponse, Object, payload::Json};
use serde_json::{Map, Value};

use crate::auth::AuthError;
use crate::auth::jwt::TokenError;
pub use crate::domain::FieldErrors;
use crate::domain::{DomainError, RefreshRefusal};
use crate::store::StoreError;

/// The `WWW-Authenticate` challenge on every 401, as DRF sends it.
pub const BEARER_CHALLENGE: &str = r#"Bearer realm="api""#;

/// Seconds a client refused a stream (too many open) is told to wait.
pub const STREAM_RETRY_AFTER: u64 = 10;

/// `{"detail": "…"}`, plus `code` and `messages` on token errors (simplejwt's shape).
#[derive(Object, Debug, Clone)]
pub struct ErrorDetail {
    /// What went wrong, in words.
    pub detail: String,
    /// A stable machine-readable code, e.g. `token_not_valid`.
    #[oai(skip_serializing_if_is_none)]
    pub code: Option<String>,
    /// For rejected tokens: which token class rejected it and why.
    #[oai(skip_serializing_if_is_none)]
    pub messages: Option<Vec<TokenMessage>>,
}

/// A 400 body, typed for generated clients: each invalid field's name maps to its
/// messages; `non_field_errors` holds the messages about the input as a whole; a body that
/// could not be read at all gets `detail` instead.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationError(pub Map<String, Value>);

impl Type for ValidationError {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "ValidationError".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Reference(Self::name().into_owned())
    }

    fn register(registry: &mut Registry) {
        registry.create_schema::<Self, _>(Self::name().into_owned(), |_| MetaSchema {
            description: Some(
                "Messages per field, in the serializer's field order: `{\"title\": [\"This field is required.\"]}`. `non_field_errors` holds messages about the input as a whole; a body that could not be read has `detail` (a string) instead.",
            ),
            properties: vec![("detail", String::schema_ref())],
            additional_properties: Some(Box::new(Vec::<String>::schema_ref())),
            example: Some(serde_json::json!({
                "title": ["Title must be at least 5 characters long."]
            })),
            ..MetaSchema::new("object")
        });
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ToJSON for ValidationError {
    fn to_json(&self) -> Option<Value> {
        Some(Value::Object(self.0.clone()))
    }
}

/// The statuses an operation can answer besides its successes, as a bit set: the `S` of
/// [`Errors`]. A 500 is always possible and always documented.
pub mod status {
    pub const BAD_REQUEST: u16 = 1;
    pub const UNAUTHORIZED: u16 = 1 << 1;
    pub const FORBIDDEN: u16 = 1 << 2;
    pub const NOT_FOUND: u16 = 1 << 3;
    pub const PRECONDITION_FAILED: u16 = 1 << 4;
    pub const PAYLOAD_TOO_LARGE: u16 = 1 << 5;
    pub const UNSUPPORTED_MEDIA_TYPE: u16 = 1 << 6;
    pub const UNPROCESSABLE: u16 = 1 << 7;
    pub const TOO_MANY_REQUESTS: u16 = 1 << 8;
    pub const SERVICE_UNAVAILABLE: u16 = 1 << 9;
    /// An operation with a request body: it may be malformed, too large or of another type.
    pub const BODY: u16 = BAD_REQUEST | PAYLOAD_TOO_LARGE | UNSUPPORTED_MEDIA_TYPE;
    /// An operation behind the Bearer scheme: no or a bad credential, or a missing scope.
    pub const AUTH: u16 = UNAUTHORIZED | FORBIDDEN;

    /// The bit of an HTTP status (500 and unknown statuses: every bit, always shown).
    pub(super) fn bit(status: u16) -> u16 {
        match status {
            400 => BAD_REQUEST,
            401 => UNAUTHORIZED,
            403 => FORBIDDEN,
            404 => NOT_FOUND,
            412 => PRECONDITION_FAILED,
            413 => PAYLOAD_TOO_LARGE,
            415 => UNSUPPORTED_MEDIA_TYPE,
            422 => UNPROCESSABLE,
            429 => TOO_MANY_REQUESTS,
            503 => SERVICE_UNAVAILABLE,
            _ => u16::MAX,
        }
    }
}

/// An operation's error: an [`ApiError`], documented with only the statuses in `S`
/// (see [`status`]), so generated clients see what the operation can really answer.
#[derive(Debug)]
pub struct Errors<const S: u16>(pub ApiError);

impl<const S: u16> ApiResponse for Errors<S> {
    fn meta() -> MetaResponses {
        let mut meta = ApiError::meta();
        meta.responses
            .retain(|r| r.status.is_none_or(|code| status::bit(code) & S != 0));
        meta
    }

    fn register(registry: &mut Registry) {
        ApiError::register(registry);
    }
}

impl<const S: u16> IntoResponse for Errors<S> {
    fn into_response(self) -> Response {
        self.0.into_response()
    }
}

impl<const S: u16> From<Errors<S>> for poem::Error {
    fn from(e: Errors<S>) -> Self {
        e.0.into()
    }
}

macro_rules! into_errors {
    ($($from:ty),*) => {$(
        impl<const S: u16> From<$from> for Errors<S> {
            fn from(e: $from) -> Self {
                Errors(e.into())
            }
        }
    )*};
}
into_errors!(ApiError, DomainError, AuthError, StoreError);

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
    /// several checks under way); retry after `Retry-After` seconds.
    #[oai(status = 503)]
    ServiceUnavailable(Json<ErrorDetail>, #[oai(header = "Retry-After")] u64),
}

pub fn detail(text: impl Into<String>) -> ErrorDetail {
    ErrorDetail {
        detail: text.into(),
        code: None,
        messages: None,
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
            }),
            STREAM_RETRY_AFTER,
        )
    }

    /// Logs `cause` and returns the opaque 500.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %cause, "internal error");
        ApiError::Internal(Json(detail("A server error occurred.")))
    }
}

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
            DomainError::NotFound => ApiError::not_found("Not found."),
            DomainError::Stale { current } => ApiError::PreconditionFailed(Json(ErrorDetail {
                detail: format!(
                    "The task has changed since you read it: it is now version {current}. \
                     Fetch it again, then retry."
                ),
                code: Some("stale_version".into()),
                messages: None,
            })),
            DomainError::KeyReused => ApiError::unprocessable(
                "This Idempotency-Key was already used with a different request body. \
                 Use a new key for a new task.",
            ),
            DomainError::Internal(cause) => ApiError::internal(cause),
        }
    }
}

/// A task operation's error: a missing task is DRF's task 404.
pub fn task_error(e: impl Into<DomainError>) -> ApiError {
    match e.into() {
        DomainError::NotFound => ApiError::task_not_found(),
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
            AuthError::SessionRequired => ApiError::forbidden(
                "API tokens cannot manage the account or its tokens; log in instead.",
                "session_required",
            ),
            AuthError::InsufficientScope(scope) => ApiError::forbidden(
                format!("This API token lacks the {scope} scope."),
                "insufficient_scope",
            ),
            AuthError::Internal(cause) => ApiError::internal(cause),
        }
    }
}

/// The Bearer scheme's extractor fails with an [`AuthError`]; this is its answer.
impl poem::error::ResponseError for AuthError {
    fn status(&self) -> poem::http::StatusCode {
        match self {
            AuthError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
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
