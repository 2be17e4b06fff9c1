//! The OpenAPI operations: one unit struct per tag (or per group of a tag's paths),
//! state arriving as `Data<&AppState>`, so the document builds without a database
//! (`tasklane openapi`, the freshness test). Also the HTTP side of what lies below: the
//! security schemes (`security`), the client's address (`client_address`) and origin
//! (`origin`).

pub mod auth;
pub mod body;
pub mod changes;
pub mod client_address;
pub mod document;
mod errors;
pub mod fields;
mod header_case;
pub mod json;
pub mod oauth;
pub mod origin;
mod path_id;
pub mod projects;
pub mod root;
pub mod security;
pub mod stream;
pub mod stream_auth;
mod tags;
pub mod tasks;
pub mod tickets;
pub mod tokens;
pub mod users;

pub use document::{service, spec, spec_json};
pub use errors::*;
pub use header_case::{HeaderCase, RESPONSE_HEADERS, header_case};
pub use path_id::PathId;
pub use tags::ApiTags;

/// Every operation of the document, one struct per tag (or per group of paths).
pub type Api = HeaderCase<(
    auth::AuthApi,
    oauth::OAuthApi,
    users::UsersApi,
    root::RootApi,
    tasks::TasksApi,
    projects::ProjectsApi,
    projects::invitations::InvitationsApi,
    stream::StreamApi,
    tickets::TicketsApi,
    changes::ChangesApi,
    tokens::TokensApi,
)>;
