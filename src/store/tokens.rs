//! Refresh tokens: rotation, grace-window replay and family revocation.

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
