//! What the operator commands (`tasklane user …`, `backup`, `migrate`) ask of the
//! database. The file-level ones (backup, integrity check, the version of a file) are
//! SQLite's.

pub use super::sqlite::admin::{
    BackupPacing, BackupProgress, backup_database, integrity_check, latest_schema_version,
    schema_version_of,
};

/// An account as the operator sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountSummary {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub is_active: bool,
}

/// What changing an account did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccountChange {
    pub user_id: i64,
    /// Whether the row actually changed (activating an active account does not).
    pub changed: bool,
    /// How many live refresh tokens were revoked.
    pub revoked_tokens: usize,
    /// How many live personal API tokens were revoked.
    pub revoked_api_tokens: usize,
}

/// What [`end_credentials`] revoked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ended {
    pub refresh: usize,
    pub api: usize,
}
