//! Refresh tokens: rotation, grace-window replay and family revocation.

use async_trait::async_trait;

use super::Result;

/// The setting `tasklane import-django` records its time in (unix seconds): tokens the
/// original app issued (`iat`) no later than it are honoured (its refresh tokens adopted,
/// once each) while the account is still at [`super::users::FIRST_GENERATION`]; any it
/// issued after it, with the shared key, are refused.
pub const IMPORTED_AT: &str = "django_imported_at";

/// A refresh token about to be stored.
#[derive(Clone, Debug)]
pub struct NewRefresh {
    pub jti: String,
    pub user_id: i64,
    pub expires_at: i64,
}

/// What presenting a refresh token led to.
#[derive(Debug)]
pub enum Rotation {
    /// It was live: it is now spent, and this is the new pair (as issued by the caller).
    Rotated(String),
    /// It was spent within the grace window: the same pair it was rotated into.
    Replayed(String),
    /// It was spent before the grace window: its whole family is now revoked.
    ReuseDetected,
    /// Expired, revoked or logged out; or issued at a credentials generation the account
    /// has left (its password changed since).
    Invalid,
    /// Never issued here (no row): it may be the original app's, from before an import.
    Unknown,
    /// The account is gone or deactivated.
    InactiveUser,
}

/// What signs a rotated pair: `issue(user_id, generation)` returns the new pair as JSON
/// and the new refresh token's row.
pub type Issue = Box<dyn FnOnce(i64, i64) -> (String, NewRefresh) + Send>;

/// Refresh tokens: storing a login's, rotating, sweeping, revoking.
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Stores `token`, a new login's refresh token (it starts a family), only if its
    /// account is still active at credentials generation `generation` (the one read with
    /// the password hash just verified), in one write: a password change or deactivation
    /// is wholly before it (the check fails) or wholly after it (and revokes the token).
    /// False when the account changed, was deactivated or is gone. A token already stored
    /// (an adopted one, presented twice at once) is left as it is.
    async fn insert_refresh(&self, token: NewRefresh, generation: i64, now: i64) -> Result<bool>;

    /// Spends the refresh token `jti`, issued at credentials generation `generation`, and
    /// stores its successor, all in one transaction; a token whose account has left that
    /// generation is `Invalid`. `issue` signs the new pair. (Callers holding a
    /// [`super::Store`] pass any closure: [`super::Store::rotate_refresh`].)
    async fn rotate_refresh(
        &self,
        jti: String,
        generation: i64,
        now: f64,
        grace: f64,
        issue: Issue,
    ) -> Result<Rotation>;

    /// Forgets the pairs kept for replay once their grace window has passed (spent before
    /// `before`, unix seconds), so no usable JWT stays in the database. A cheap read first:
    /// most sweeps find nothing and write nothing.
    async fn forget_successors(&self, before: f64) -> Result<usize>;

    /// Revokes the family of refresh token `jti` (logout). Returns whether it was known.
    async fn revoke_refresh_family(&self, jti: String, now: f64) -> Result<bool>;
}
