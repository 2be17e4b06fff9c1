//! Accounts as the store takes and gives them.

use async_trait::async_trait;

use super::Result;
use crate::model::{Event, User};

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

/// Accounts: creating, reading, changing and deleting them.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Creates an account. A taken username or email is `Conflict` naming the field
    /// (callers check [`AccountStore::taken_account_fields`] first for complete messages;
    /// this catches races).
    async fn create_user(
        &self,
        username: String,
        email: String,
        password_hash: String,
    ) -> Result<User>;

    /// The account (not deleted) with this username.
    async fn account_by_username(&self, username: String) -> Result<Option<Account>>;

    /// The account (not deleted) with this id.
    async fn account_by_id(&self, id: i64) -> Result<Option<Account>>;

    /// Which of `username` and `email` (when given) another account than `except` (when
    /// given: the account being edited) already uses, in field order. Emails compare
    /// ignoring ASCII case. The write checks again; this is for complete error messages.
    async fn taken_account_fields(
        &self,
        username: Option<String>,
        email: Option<String>,
        except: Option<i64>,
    ) -> Result<Vec<&'static str>>;

    /// Applies `update` to account `user_id` in one transaction; a new password also ends
    /// every older credential. `Conflict` for a name or email another account took
    /// meanwhile; `NotFound` when the account is gone.
    async fn update_account(&self, user_id: i64, update: AccountUpdate, now: f64) -> Result<User>;

    /// Replaces account `user_id`'s password hash with `new_hash` if it is still
    /// `old_hash` (compare-and-set: a password set meanwhile wins), ending no credential:
    /// the same password, stored anew (see [`crate::auth::password::needs_rehash`]). True
    /// when it was replaced.
    async fn upgrade_password_hash(
        &self,
        user_id: i64,
        old_hash: String,
        new_hash: String,
    ) -> Result<bool>;

    /// Deletes account `user_id` in one short write ([`super::purge`]): marks it deleted,
    /// deactivates it, moves its credentials generation on and frees its username and
    /// email (both become `deleted:<id>`). From its commit on the account cannot log in,
    /// refresh or be authenticated. What it owned stays until
    /// [`crate::store::Store::purge_account`] deletes it. `None` when there was no such
    /// account, or it was deleted already.
    ///
    /// Its projects, in the same write: refused with [`Refusal::OwnsShared`] (nothing
    /// written) while it owns a project that has other members. Otherwise it leaves every
    /// project: the tasks it created in projects it does not own go to each project's
    /// owner (who shows as their creator from then on), those assigned to it there are
    /// unassigned, its invitations (sent, received, and every one to a project it owns)
    /// are deleted, and so are its memberships, so it takes no event of any project from
    /// the commit on. The members of every project that changed get a `project` event,
    /// returned for the caller to publish. The projects it owned alone go in the purge,
    /// with their tasks.
    ///
    /// [`Refusal::OwnsShared`]: super::projects::Refusal::OwnsShared
    async fn delete_account(&self, user_id: i64) -> Result<Option<Vec<Event>>>;
}
