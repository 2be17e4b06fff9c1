//! The OpenAPI operations: one unit struct per tag, state arriving as `Data<&AppState>`,
//! so the document builds without a database (`tasklane openapi`, the freshness test).

pub mod auth;
pub mod body;
pub mod fields;
pub mod stream;
pub mod tasks;
pub mod users;

use std::borrow::Cow;

use poem_openapi::{
    OpenApiService, Tags,
    registry::{MetaSchema, MetaSchemaRef},
    types::{ParseFromParameter, ParseResult, Type},
};

#[derive(Tags)]
pub enum ApiTags {
    /// Register, log in, refresh and revoke tokens.
    Auth,
    /// Your own account.
    Users,
    /// Create, read, update and delete your tasks.
    Tasks,
    /// Watch your tasks change live: WebSocket or Server-Sent Events, resumable by event id.
    Stream,
}

pub type Api = (
    auth::AuthApi,
    users::UsersApi,
    tasks::TasksApi,
    stream::StreamApi,
);

const DESCRIPTION: &str = "\
Task-management API. Every task belongs to the user who created it; nobody else can see \
or change it (another user's task is a 404).

**Try it here:** `POST /api/register/` an account, `POST /api/token/` to get an access \
token, press **Authorize** and paste the `access` value, then call the task routes. \
Access tokens last 5 minutes by default; `POST /api/token/refresh/` trades the refresh \
token for a new pair (the old refresh token is spent).

Errors have Django REST framework's shapes: `{\"field\": [\"message\"]}` for invalid \
input, `{\"detail\": \"…\"}` otherwise. Bodies may be JSON or form-encoded. Every path \
also works without its trailing slash.";

/// The OpenAPI service: the operations, plus the document's metadata.
pub fn service() -> OpenApiService<Api, ()> {
    OpenApiService::new(
        (
            auth::AuthApi,
            users::UsersApi,
            tasks::TasksApi,
            stream::StreamApi,
        ),
        "tasklane",
        env!("CARGO_PKG_VERSION"),
    )
    .description(DESCRIPTION)
}

/// The OpenAPI document as pretty JSON, exactly as committed in `openapi/openapi.json`.
pub fn spec_json() -> String {
    let mut s = service().spec();
    s.push('\n');
    s
}

/// An object id in a path. Any text is accepted so that `/api/tasks/abc/` is the 404 it
/// was in the original, not a 400; the document still says "integer".
#[derive(Debug, Clone, Copy)]
pub struct PathId(pub Option<i64>);

impl Type for PathId {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "integer_int64".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("integer", "int64")))
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromParameter for PathId {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Ok(PathId(value.parse().ok()))
    }
}
