//! What the operator commands (`tasklane user …`, `migrate`) ask of the database. The
//! file-level ones (backup, integrity check) are SQLite's, on a file not opened as a
//! store ([`super::Database::file`]); the schema version of a database not opened yet is
//! [`super::Database::schema_version`].

use async_trait::async_trait;

use super::Result;
pub use super::sqlite::admin::{BackupPacing, BackupProgress, backup_database, integrity_check};

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

/// The operator's view of the database: accounts as a whole, and the schema.
#[async_trait]
pub trait AdminStore: Send + Sync {
    /// Every account (not deleted), by id.
    async fn list_accounts(&self) -> Result<Vec<AccountSummary>>;

    /// Whether any account (not deleted) exists (the first start's hint).
    async fn any_account(&self) -> Result<bool>;

    /// How many of the backend's numbered schema steps the database has applied.
    async fn schema_version(&self) -> Result<i64>;

    /// The schema version this binary migrates this backend's databases to (each backend
    /// numbers its own steps).
    fn latest_schema_version(&self) -> i64;

    /// Replaces the password of `username` and ends every older credential of the account
    /// (revokes its live refresh and API tokens, moves its credentials generation on), in
    /// one transaction. `NotFound` for no such user.
    async fn set_password_hash(
        &self,
        username: String,
        password_hash: String,
        now: f64,
    ) -> Result<AccountChange>;

    /// Activates or deactivates `username`; deactivating also ends every credential, so
    /// reactivating does not bring old tokens back. `NotFound` for no such user.
    async fn set_account_active(
        &self,
        username: String,
        active: bool,
        now: f64,
    ) -> Result<AccountChange>;
}
