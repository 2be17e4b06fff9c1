//! Accounts as the store takes and gives them.

use crate::model::User;

/// A user with what login needs and the API never shows.
#[derive(Clone, Debug)]
pub struct Account {
    pub user: User,
    pub password_hash: String,
    pub is_active: bool,
    /// How many times the account's older credentials were ended (password changed, set
    /// or reset; account deactivated). Tokens carry the generation they were issued at
    /// and are refused once it has moved on.
    pub credentials_generation: i64,
}

/// The generation every account starts at, and the one the original Django app's tokens
/// (which carry none) are held to: they are honoured only while the account is still at
/// it, i.e. has ended no credential since `tasklane import-django` wrote it.
pub const FIRST_GENERATION: i64 = 0;

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
    "id, username, email, password_hash, is_active, credentials_generation";
