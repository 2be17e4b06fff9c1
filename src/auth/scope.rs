//! Scopes: what an operation needs, and what a personal API token may carry.

/// What an operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    TasksRead,
    TasksWrite,
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
            Scope::AccountRead => "account:read",
            Scope::Account => "account",
        }
    }
}

/// The scopes an API token may carry. `tasks:write` implies `tasks:read` (every write
/// answers with the task): a token asked for with `tasks:write` lists both.
pub const TOKEN_SCOPES: &[&str] = &["account:read", "tasks:read", "tasks:write"];
