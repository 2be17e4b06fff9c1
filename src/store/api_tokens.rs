//! Personal API tokens as the store takes and gives them: stored as SHA-256 hashes.

use async_trait::async_trait;

use super::Result;
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

/// Personal API tokens.
#[async_trait]
pub trait ApiTokenStore: Send + Sync {
    /// Stores a new token for `user_id`. With a `generation` (a token a session asked
    /// for), only if the account is still active at it, checked in the same write: a
    /// password change is wholly before (`None`) or wholly after (and revokes the token).
    async fn create_api_token(
        &self,
        user_id: i64,
        new: NewApiToken,
        generation: Option<i64>,
    ) -> Result<Option<ApiTokenRow>>;

    /// The user's tokens that are not revoked, newest first.
    async fn list_api_tokens(&self, user_id: i64) -> Result<Vec<ApiTokenRow>>;

    /// Revokes the user's token `id`; false when there is no such live token.
    async fn revoke_api_token(&self, user_id: i64, id: i64) -> Result<bool>;

    /// The live token (at `now`) with this hash and its active owner, and whether its
    /// `last_used_at` is more than a minute old (then
    /// [`ApiTokenStore::touch_api_token`] it).
    async fn api_token_owner(
        &self,
        token_hash: String,
        now: i64,
    ) -> Result<Option<(TokenOwner, bool)>>;

    /// Records that token `id` was just used.
    async fn touch_api_token(&self, id: i64) -> Result<()>;

    /// Whether token `id` still works at `now` (not revoked or expired, owner active).
    async fn api_token_live(&self, id: i64, now: i64) -> Result<bool>;
}
