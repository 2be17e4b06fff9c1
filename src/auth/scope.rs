//! Scopes: what an operation needs, and what a personal API token may carry.

/// What an operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    TasksRead,
    TasksWrite,
    /// Reading shared projects, their members and invitations.
    ProjectsRead,
    /// Creating and changing projects, members and invitations.
    ProjectsWrite,
    /// Reading the account (`/api/`, `/api/users/…`).
    AccountRead,
    /// Managing the account itself (API tokens): only a logged-in session.
    Account,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::TasksRead => "tasks:read",
            Scope::TasksWrite => "tasks:write",
            Scope::ProjectsRead => "projects:read",
            Scope::ProjectsWrite => "projects:write",
            Scope::AccountRead => "account:read",
            Scope::Account => "account",
        }
    }
}

impl Scope {
    /// The scope that implies this one besides itself: writing implies reading.
    pub fn implied_by(self) -> Option<Scope> {
        match self {
            Scope::TasksRead => Some(Scope::TasksWrite),
            Scope::ProjectsRead => Some(Scope::ProjectsWrite),
            _ => None,
        }
    }
}

/// The scopes an API token may carry, sorted. `tasks:write` implies `tasks:read` and
/// `projects:write` `projects:read` (every write answers with what it wrote): a token
/// asked for with a write scope lists its read scope too.
pub const TOKEN_SCOPES: &[&str] = &[
    "account:read",
    "projects:read",
    "projects:write",
    "tasks:read",
    "tasks:write",
];
