//! Personal API tokens as the store takes and gives them: stored as SHA-256 hashes.

use crate::model::User;

/// A token as listed (never with its secret).
#[derive(Clone, Debug)]
pub struct ApiTokenRow {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub scopes: Vec<String>,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
}

/// A token about to be stored.
#[derive(Clone, Debug)]
pub struct NewApiToken {
    pub name: String,
    pub token_hash: String,
    pub prefix: String,
    pub scopes: Vec<String>,
    /// API timestamp and unix seconds of the expiry, when it has one.
    pub expires: Option<(String, i64)>,
}

/// Who a presented token speaks for.
#[derive(Clone, Debug)]
pub struct TokenOwner {
    pub token_id: i64,
    pub user: User,
    pub scopes: Vec<String>,
    pub expires_unix: Option<i64>,
}

/// The columns an [`ApiTokenRow`] is read from, in this order (both backends).
pub(crate) const API_TOKEN_COLUMNS: &str =
    "id, name, prefix, scopes, created_at, expires_at, last_used_at";
