//! How errors appear in the OpenAPI document: the typed 400 body, and each operation's
//! own list of statuses.

use std::borrow::Cow;

use poem::{IntoResponse, Response};
use poem_openapi::ApiResponse;
use poem_openapi::registry::{MetaResponses, MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{ToJSON, Type};
use serde_json::{Map, Value};

use super::{ApiError, ErrorDetail};
use crate::auth::AuthError;
use crate::domain::DomainError;
use crate::store::StoreError;

/// A 400 body, typed for generated clients: each invalid field's name maps to its
/// messages; `non_field_errors` holds the messages about the input as a whole; a body that
/// could not be read at all gets `detail` instead.
///
/// Documented as one of two shapes: an [`ErrorDetail`] (`{"detail": "…"}`), or the
/// `ValidationError` schema, a map of field to messages. (One object with a string
/// `detail` beside string-list fields cannot be typed in TypeScript, for one: the two
/// shapes can.)
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationError(pub Map<String, Value>);

/// The name of the field map's schema.
const FIELD_MAP: &str = "ValidationError";

impl Type for ValidationError {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "ValidationError_or_ErrorDetail".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        // `ErrorDetail` first: a client that tries the shapes in order (as
        // openapi-python-client's does) would take `{"detail": "…"}` for a field map
        // otherwise, since its messages are not checked to be lists.
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            one_of: vec![
                ErrorDetail::schema_ref(),
                MetaSchemaRef::Reference(FIELD_MAP.into()),
            ],
            ..MetaSchema::ANY
        }))
    }

    fn register(registry: &mut Registry) {
        ErrorDetail::register(registry);
        registry.create_schema::<Self, _>(FIELD_MAP.into(), |_| MetaSchema {
            description: Some(
                "Messages per field, in the serializer's field order: `{\"title\": [\"This field is required.\"]}`. `non_field_errors` holds messages about the input as a whole. (A body that could not be read gets an `ErrorDetail` instead.)",
            ),
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
    /// Not a status: the operation is a sensitive action, whose 403 also means "prove your
    /// password" (`reauthentication_required`), and is documented so.
    pub const REAUTH: u16 = 1 << 10;
    /// 409: a conflict with the current state or a limit.
    pub const CONFLICT: u16 = 1 << 11;
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
            409 => CONFLICT,
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

/// The 403 of a sensitive action ([`status::REAUTH`]).
const REAUTH_403: &str = "Not allowed: an API token (`session_required`: only a logged-in session may do this), or no proof of your password (`reauthentication_required`): send `current_password` in the body, or log in again. A password login less than 10 minutes ago (`--reauth-after`) is proof enough; refreshing the session does not renew it.";

impl<const S: u16> ApiResponse for Errors<S> {
    fn meta() -> MetaResponses {
        let mut meta = ApiError::meta();
        meta.responses
            .retain(|r| r.status.is_none_or(|code| status::bit(code) & S != 0));
        if S & status::REAUTH != 0 {
            for r in &mut meta.responses {
                if r.status == Some(403) {
                    r.description = REAUTH_403;
                }
            }
        }
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
