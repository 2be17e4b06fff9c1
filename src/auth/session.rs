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

use crate::store::StoreError;
use crate::store::users::FIRST_GENERATION;

use super::jwt::Claims;
use super::{AccountState, Authenticator};

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

impl Authenticator {
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
