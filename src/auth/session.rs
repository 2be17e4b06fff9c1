//! Logged-in sessions and when they end.
//!
//! A session is bound to its account's credentials generation: a counter the store moves
//! on, in the same transaction that revokes the account's tokens, whenever older
//! credentials must end (password changed, set or reset; account deactivated). Every
//! access and refresh token carries the generation it was issued at (`gen`), so a token
//! is refused as soon as the account has left it: no comparison of clocks, and a login
//! that raced the change either failed its check in the store or was issued before it and
//! is refused. The check lives here once ([`Authenticator::session_current`]), for
//! requests, for open streams and for anything else that re-checks a session.
//!
//! The original Django app's tokens carry no generation. After `tasklane import-django`
//! they stand for the account's first generation, and only if the original app issued
//! them no later than the import: ones it minted afterwards with the shared key are
//! refused ([`token_generation`]).

use crate::model::User;
use crate::store::StoreError;
use crate::store::tokens::IMPORTED_AT;
use crate::store::users::FIRST_GENERATION;

use super::Authenticator;
use super::jwt::Claims;

/// A logged-in session, as its access token carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    /// The account's credentials generation the session is bound to.
    pub generation: i64,
    /// When its password login was (unix seconds), carried unchanged across refreshes;
    /// `None` for a session of the original app's, which never proved a password here.
    pub auth_time: Option<i64>,
}

/// The credentials generation a token stands for: its own `gen`; for a token without one
/// (the original app's), the first generation if it was issued (`iat`) no later than the
/// import at `imported_at`. `None`: refused (the original app minted it after the import,
/// or nothing was imported).
pub fn token_generation(claims: &Claims, imported_at: Option<i64>) -> Option<i64> {
    match claims.generation {
        Some(generation) => Some(generation),
        None => imported_at
            .filter(|&at| claims.iat <= at)
            .map(|_| FIRST_GENERATION),
    }
}

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

    /// Whether `session` of account `user_id` still stands: the account is active and
    /// still at the session's generation. The one check of a session after it began:
    /// requests make it through [`Authenticator::authenticate`], open streams (and what
    /// they were opened with) every `--stream-recheck` and on every account change.
    pub async fn session_current(
        &self,
        user_id: i64,
        session: &Session,
    ) -> Result<bool, StoreError> {
        Ok(matches!(
            self.account(user_id).await?,
            AccountState::Active { generation, .. } if generation == session.generation
        ))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(generation: Option<i64>, iat: i64) -> Claims {
        Claims {
            token_type: "access".into(),
            exp: iat + 300,
            iat,
            jti: "j".into(),
            user_id: 1,
            generation,
            auth_time: None,
        }
    }

    #[test]
    fn a_token_with_a_generation_stands_for_it() {
        assert_eq!(token_generation(&claims(Some(4), 100), None), Some(4));
        assert_eq!(token_generation(&claims(Some(4), 100), Some(50)), Some(4));
    }

    #[test]
    fn the_original_app_s_tokens_count_only_when_issued_before_the_import() {
        // Nothing imported: a token without a generation is nobody's.
        assert_eq!(token_generation(&claims(None, 100), None), None);
        // Issued before (or in the second of) the import: the first generation.
        assert_eq!(
            token_generation(&claims(None, 100), Some(100)),
            Some(FIRST_GENERATION)
        );
        // Minted by the original app after the import, with the shared key: refused.
        assert_eq!(token_generation(&claims(None, 101), Some(100)), None);
    }
}
