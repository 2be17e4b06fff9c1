//! The document's tags: one per group of operations, in the order the docs pages show
//! them, each with its description.

use poem_openapi::Tags;

#[derive(Tags)]
pub enum ApiTags {
    /// Register, log in, refresh and revoke tokens.
    Auth,
    /// Your own account.
    Users,
    /// Create, read, update and delete your tasks.
    Tasks,
    /// Shared projects: their members, roles and invitations. A project you are not a
    /// member of is a 404; a role too low for an action is a 403 naming the role needed.
    Projects,
    /// Watch your tasks change: live over WebSocket or Server-Sent Events (browsers open
    /// them with a single-use ticket from `POST /api/stream-tickets/`), or in pages with
    /// `GET /api/changes/`, all resumable by event id.
    Stream,
    /// Personal API tokens for scripts: scoped, revocable, shown once.
    Tokens,
}
