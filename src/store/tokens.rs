//! Refresh tokens: rotation, grace-window replay and family revocation.

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
    /// Unknown, expired, revoked or logged out.
    Invalid,
    /// The account is gone or deactivated.
    InactiveUser,
}
