//! The OpenAPI operations: one unit struct per tag, state arriving as `Data<&AppState>`,
//! so the document builds without a database (`tasklane openapi`, the freshness test).

pub mod account;
pub mod auth;
pub mod body;
pub mod changes;
pub mod document;
pub mod fields;
pub mod json;
pub mod oauth;
pub mod origin;
pub mod stream;
pub mod stream_auth;
pub mod tasks;
pub mod tickets;
pub mod tokens;
pub mod users;

use std::borrow::Cow;
use std::collections::HashMap;

use poem::{endpoint::BoxEndpoint, http::Method};
use poem_openapi::{
    LicenseObject, OpenApi, OpenApiService, ServerObject, Tags,
    registry::{MetaApi, MetaSchema, MetaSchemaRef, Registry},
    types::{ParseFromParameter, ParseResult, Type},
};

use crate::error::Errors;
use crate::error::status::{
    AUTH, BAD_REQUEST, BODY, NOT_FOUND, PRECONDITION_FAILED, REAUTH, SERVICE_UNAVAILABLE,
    TOO_MANY_REQUESTS, UNAUTHORIZED, UNPROCESSABLE,
};

// What each family of operations can answer besides its successes (and a 500).
/// Registering: a body, throttled per address, a password to hash.
pub type RegisterErrors = Errors<{ BODY | TOO_MANY_REQUESTS | SERVICE_UNAVAILABLE }>;
/// Logging in: as registering, and wrong credentials.
pub type LoginErrors = Errors<{ BODY | UNAUTHORIZED | TOO_MANY_REQUESTS | SERVICE_UNAVAILABLE }>;
/// Refreshing or revoking: a body with a refresh token that may be refused.
pub type RefreshErrors = Errors<{ BODY | UNAUTHORIZED }>;
/// Reading behind the Bearer scheme.
pub type ReadErrors = Errors<AUTH>;
/// Reading a list with query parameters.
pub type QueryErrors = Errors<{ AUTH | BAD_REQUEST }>;
/// Reading or removing one object by id.
pub type OneErrors = Errors<{ AUTH | NOT_FOUND }>;
/// Creating a task: a body, and an idempotency key that may not match.
pub type CreateTaskErrors = Errors<{ AUTH | BODY | UNPROCESSABLE }>;
/// Changing a task: a body, the task, and `If-Match`.
pub type ChangeTaskErrors = Errors<{ AUTH | BODY | NOT_FOUND | PRECONDITION_FAILED }>;
/// Deleting a task: the task, and `If-Match`.
pub type DeleteTaskErrors = Errors<{ AUTH | NOT_FOUND | PRECONDITION_FAILED }>;
/// Creating something from a body behind the Bearer scheme.
pub type CreateErrors = Errors<{ AUTH | BODY }>;
/// Deleting your account: a body, your password checked as a login attempt.
pub type AccountErrors =
    Errors<{ AUTH | BODY | NOT_FOUND | TOO_MANY_REQUESTS | SERVICE_UNAVAILABLE }>;
/// Changing your account: as deleting it, and a new username or email needs proof of the
/// password (403 `reauthentication_required`).
pub type AccountChangeErrors =
    Errors<{ AUTH | BODY | NOT_FOUND | TOO_MANY_REQUESTS | SERVICE_UNAVAILABLE | REAUTH }>;
/// Minting an API token: a body, and proof of the password (`current_password` checked
/// as a login attempt, or a recent password login).
pub type MintErrors = Errors<{ AUTH | BODY | TOO_MANY_REQUESTS | SERVICE_UNAVAILABLE | REAUTH }>;
/// Opening a stream: query parameters, and a cap on open streams.
pub type StreamErrors = Errors<{ AUTH | BAD_REQUEST | TOO_MANY_REQUESTS }>;

#[derive(Tags)]
pub enum ApiTags {
    /// Register, log in, refresh and revoke tokens.
    Auth,
    /// Your own account.
    Users,
    /// Create, read, update and delete your tasks.
    Tasks,
    /// Watch your tasks change: live over WebSocket or Server-Sent Events (browsers open
    /// them with a single-use ticket from `POST /api/stream-tickets/`), or in pages with
    /// `GET /api/changes/`, all resumable by event id.
    Stream,
    /// Personal API tokens for scripts: scoped, revocable, shown once.
    Tokens,
}

pub type Api = HeaderCase<(
    auth::AuthApi,
    oauth::OAuthApi,
    users::UsersApi,
    tasks::TasksApi,
    stream::StreamApi,
    tickets::TicketsApi,
    changes::ChangesApi,
    tokens::TokensApi,
)>;

/// The response headers the API documents, spelled as they usually are. poem-openapi
/// upper-cases a response header's name in the document (`ETAG`); [`HeaderCase`] puts
/// these spellings back.
pub const RESPONSE_HEADERS: &[&str] = &[
    "Cache-Control",
    "ETag",
    "Idempotent-Replayed",
    "Link",
    "Pragma",
    "Retry-After",
    "WWW-Authenticate",
    "X-Last-Event-Id",
    "X-Total-Count",
];

/// `name` as spelled in [`RESPONSE_HEADERS`] (compared ignoring case); another name is
/// capitalised word by word (`X-FOO-BAR` → `X-Foo-Bar`).
pub fn header_case(name: &str) -> String {
    if let Some(known) = RESPONSE_HEADERS
        .iter()
        .find(|h| h.eq_ignore_ascii_case(name))
    {
        return (*known).to_owned();
    }
    name.split('-')
        .map(|word| {
            let lower = word.to_ascii_lowercase();
            let mut chars = lower.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// The operations `A`, with their response headers' names in the document passed through
/// [`header_case`]. Routing and the responses themselves are `A`'s, untouched (header
/// names are case-insensitive on the wire; HTTP/2 sends them in lower case anyway).
#[derive(Default)]
pub struct HeaderCase<A>(A);

impl<A: OpenApi> OpenApi for HeaderCase<A> {
    fn meta() -> Vec<MetaApi> {
        let mut apis = A::meta();
        let headers = apis
            .iter_mut()
            .flat_map(|api| &mut api.paths)
            .flat_map(|path| &mut path.operations)
            .flat_map(|op| &mut op.responses.responses)
            .flat_map(|response| &mut response.headers);
        for header in headers {
            header.name = header_case(&header.name);
        }
        apis
    }

    fn register(registry: &mut Registry) {
        A::register(registry);
    }

    fn add_routes(self, route_table: &mut HashMap<String, HashMap<Method, BoxEndpoint<'static>>>) {
        self.0.add_routes(route_table);
    }
}

const DESCRIPTION: &str = "\
Task-management API. Every task belongs to the user who created it; nobody else can see \
or change it (another user's task is a 404).

**Try it here:** `POST /api/register/` an account, press **Authorize** and log in with \
its username and password under `oauth2` (OAuth 2.0's password flow, at \
`POST /api/oauth/token/`), then call the task routes. Or `POST /api/token/` and paste \
its `access` value under `bearerAuth`. Access tokens last 5 minutes by default; \
`POST /api/token/refresh/` trades the refresh token for a new pair (the old refresh \
token is spent).

Errors have Django REST framework's shapes: `{\"field\": [\"message\"]}` for invalid \
input, `{\"detail\": \"…\"}` otherwise. Bodies may be JSON or form-encoded. Every path \
also works without its trailing slash.";

/// The OpenAPI service: the operations, plus the document's metadata. The one server is
/// `/`: wherever the document was fetched from (OpenAPI's own default, spelled out because
/// the linters want `servers` non-empty). Each deployment has its own origin, so the
/// document names none.
pub fn service() -> OpenApiService<Api, ()> {
    OpenApiService::new(Api::default(), "tasklane", env!("CARGO_PKG_VERSION"))
        .description(DESCRIPTION)
        .license(LicenseObject::new("MIT").url("https://opensource.org/license/mit"))
        .server(ServerObject::new("/").description("This server: the origin serving this document"))
}

/// The OpenAPI document as pretty JSON, exactly as committed in `openapi/openapi.json`.
pub fn spec_json() -> String {
    let mut s = spec();
    s.push('\n');
    s
}

/// The OpenAPI document as served: poem-openapi's, finished by [`document::finish`].
pub fn spec() -> String {
    document::finish(service().spec())
}

#[cfg(test)]
mod header_names {
    use super::header_case;

    #[test]
    fn known_headers_get_their_usual_spelling_and_others_are_capitalised() {
        assert_eq!(header_case("ETAG"), "ETag");
        assert_eq!(header_case("WWW-AUTHENTICATE"), "WWW-Authenticate");
        assert_eq!(header_case("x-last-event-id"), "X-Last-Event-Id");
        assert_eq!(header_case("X-REQUEST-ID"), "X-Request-Id");
        assert_eq!(header_case("CONTENT-LOCATION"), "Content-Location");
    }
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

/// Property tests: the request parsers and validators take any input without panicking,
/// and accept or refuse it consistently.
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;
    use serde_json::{Map, Value};

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            ".{0,300}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 32, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::hash_map(".{0,8}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn task_body() -> impl Strategy<Value = Map<String, Value>> {
        prop::collection::vec(
            (
                prop_oneof![
                    Just("title".to_owned()),
                    Just("description".to_owned()),
                    Just("completed".to_owned()),
                    ".{0,8}"
                ],
                json_value(),
            ),
            0..5,
        )
        .prop_map(|kv| kv.into_iter().collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn task_validation_never_panics_and_accepted_titles_follow_the_rules(
            body in task_body(),
            partial in any::<bool>(),
        ) {
            if let Ok(changes) = super::tasks::parse_task(&body, partial) {
                if let Some(title) = changes.title {
                    let n = title.chars().count();
                    prop_assert!((5..=255).contains(&n));
                    prop_assert_eq!(title.trim(), title.as_str());
                    prop_assert!(!title.contains('\0'));
                }
                if let Some(Some(d)) = changes.description {
                    prop_assert!(d.is_empty() || d.chars().count() >= 10);
                }
            }
        }

        #[test]
        fn any_bytes_under_any_content_type_parse_or_fail_cleanly(
            bytes in prop::collection::vec(any::<u8>(), 0..512),
            ct in prop_oneof![
                Just(Some("application/json".to_owned())),
                Just(Some("application/x-www-form-urlencoded".to_owned())),
                Just(None),
                ".{0,40}".prop_map(Some),
            ],
        ) {
            let _ = super::body::parse(ct.as_deref(), &bytes);
        }

        #[test]
        fn any_authorization_header_is_handled(header in ".{0,200}") {
            if let Ok(token) = crate::auth::bearer_token(Some(&header)) {
                prop_assert!(header.starts_with("Bearer"));
                prop_assert!(!token.is_empty());
            }
        }

        #[test]
        fn any_token_string_is_rejected_without_panicking(token in "[A-Za-z0-9_.=-]{0,400}") {
            let jwt = crate::auth::jwt::Jwt::new(
                b"fuzz-secret",
                std::time::Duration::from_secs(300),
                std::time::Duration::from_secs(300),
            );
            let now = crate::clock::now_secs();
            prop_assert!(jwt.verify(&token, crate::auth::jwt::TokenType::Access, now).is_err());
        }

        #[test]
        fn registration_fields_never_panic(username in ".{0,200}", email in ".{0,300}") {
            let _ = crate::domain::validators::is_valid_username(&username);
            let _ = crate::domain::validators::is_valid_email(&email);
        }
    }
}
