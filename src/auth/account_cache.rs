//! The accounts credential checks read: a second's cache of the active ones, so a burst
//! of requests (or streams re-checking) with one token costs one database read.

use super::Authenticator;
use crate::model::User;
use crate::store::StoreError;
use crate::store::tokens::IMPORTED_AT;

/// An account, as a credential check sees it.
#[derive(Debug, Clone)]
pub enum AccountState {
    /// Active, at credentials generation `generation`.
    Active {
        user: User,
        generation: i64,
    },
    Inactive,
    Missing,
}

/// Active accounts seen in the last second, so a burst of requests with one token costs
/// one database read, not one each. Only active accounts are kept: a deactivated or
/// deleted account, or a password change, is seen at once by the process that made it and
/// by every process the hub tells (Redis), and within [`ACCOUNT_CACHE_TTL`] by any other
/// (the admin CLI's changes). At most [`ACCOUNT_CACHE_MAX`] accounts are kept.
pub struct AccountCache {
    /// The user and its credentials generation, by user id.
    entries: moka::sync::Cache<i64, (User, i64)>,
    /// When the original app's accounts were imported, once read (it never changes).
    imported_at: std::sync::OnceLock<i64>,
}

/// How long a cached account is trusted.
pub const ACCOUNT_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(1);
/// Accounts kept at most.
pub const ACCOUNT_CACHE_MAX: u64 = 50_000;

impl Default for AccountCache {
    fn default() -> Self {
        AccountCache {
            entries: moka::sync::Cache::builder()
                .max_capacity(ACCOUNT_CACHE_MAX)
                .time_to_live(ACCOUNT_CACHE_TTL)
                .build(),
            imported_at: std::sync::OnceLock::new(),
        }
    }
}

impl AccountCache {
    /// The active account and its credentials generation, when read within the TTL.
    pub fn get(&self, user_id: i64) -> Option<(User, i64)> {
        self.entries.get(&user_id)
    }

    /// Remembers an active account.
    pub fn put(&self, user: User, generation: i64) {
        self.entries.insert(user.id, (user, generation));
    }

    /// Forgets an account this process (or another, through the hub) just changed, so its
    /// next request reads it again.
    pub fn forget(&self, user_id: i64) {
        self.entries.invalidate(&user_id);
    }
}

impl Authenticator {
    /// Account `user_id` as a credential check needs it: from the one-second cache, or
    /// read (and cached when active). One read per user per second, however many requests
    /// and streams it has.
    pub async fn account(&self, user_id: i64) -> Result<AccountState, StoreError> {
        if let Some((user, generation)) = self.accounts.get(user_id) {
            return Ok(AccountState::Active { user, generation });
        }
        Ok(match self.store.account_by_id(user_id).await? {
            Some(a) if a.is_active => {
                self.accounts.put(a.user.clone(), a.credentials_generation);
                AccountState::Active {
                    user: a.user,
                    generation: a.credentials_generation,
                }
            }
            Some(_) => AccountState::Inactive,
            None => AccountState::Missing,
        })
    }

    /// When `tasklane import-django` wrote this database (unix seconds), if it did.
    /// Read once it is known; it never changes.
    pub async fn imported_at(&self) -> Result<Option<i64>, StoreError> {
        if let Some(&at) = self.accounts.imported_at.get() {
            return Ok(Some(at));
        }
        let at = self
            .store
            .setting(IMPORTED_AT)
            .await?
            .and_then(|v| v.parse::<i64>().ok());
        if let Some(at) = at {
            let _ = self.accounts.imported_at.set(at);
        }
        Ok(at)
    }
}
