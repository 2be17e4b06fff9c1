//! Accounts as the store takes and gives them.

use crate::model::User;

/// A user with what login needs and the API never shows.
#[derive(Clone, Debug)]
pub struct Account {
    pub user: User,
    pub password_hash: String,
    pub is_active: bool,
    /// Access tokens issued (`iat`, unix seconds) before this are refused; tokens issued
    /// from now on must carry an `iat` of at least this.
    pub credentials_after: i64,
}

/// What an owner changes of their account; `None` keeps the value.
#[derive(Debug, Default)]
pub struct AccountUpdate {
    pub username: Option<String>,
    pub email: Option<String>,
    /// A new password's hash: every older credential ends with it.
    pub password_hash: Option<String>,
}

/// The columns an [`Account`] is read from, in this order (both backends).
pub(crate) const ACCOUNT_COLUMNS: &str =
    "id, username, email, password_hash, is_active, credentials_after";
