//! Stream tickets: what a browser puts in a WebSocket's or an `EventSource`'s URL instead
//! of a credential. A ticket is minted by an authenticated caller (`POST
//! /api/stream-tickets/`, see `domain::stream_tickets`), lives [`TICKET_TTL`], opens one
//! stream, and is then gone. The stream it opens acts as the credential that minted it,
//! and is re-checked as that credential ([`Authenticator::still_valid`]) until it closes.

use std::time::Duration;

use super::{AccountState, AuthError, Authenticator, Caller, Credential, Session, hash_api_token};
use crate::clock::{now_secs, now_secs_f64};
use crate::store::StoreError;
use crate::store::stream_tickets::TicketBinding;

/// Stream tickets start with this, so they are told apart from JWTs and API tokens.
pub const STREAM_TICKET_PREFIX: &str = "tlt_";

/// How long a ticket can be redeemed after it is minted.
pub const TICKET_TTL: Duration = Duration::from_secs(30);

/// A new ticket: the prefix and 40 random base-62 characters (≈ 238 bits).
pub fn new_stream_ticket() -> String {
    super::random_token(STREAM_TICKET_PREFIX)
}

/// How tickets are stored: SHA-256, hex, as API tokens are (they are random, so a fast
/// hash is enough).
pub fn hash_ticket(ticket: &str) -> String {
    hash_api_token(ticket)
}

/// Whether `text` has a ticket's shape; anything else is refused without a database write.
fn looks_like_a_ticket(text: &str) -> bool {
    text.len() == STREAM_TICKET_PREFIX.len() + 40
        && text.starts_with(STREAM_TICKET_PREFIX)
        && text[STREAM_TICKET_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric())
}

impl Caller {
    /// What a ticket minted by this caller carries: its user, its credential and scopes,
    /// and the credential's expiry.
    pub fn ticket_binding(&self) -> TicketBinding {
        let (api_token_id, scopes, generation) = match &self.credential {
            Credential::Session(session) => (None, Vec::new(), session.generation),
            Credential::ApiToken { id, scopes } => (Some(*id), scopes.clone(), 0),
        };
        TicketBinding {
            user_id: self.user.id,
            api_token_id,
            scopes,
            generation,
            credential_expires_at: self.expires_at,
        }
    }
}

impl Authenticator {
    /// Whether the credential `caller` authenticated with still stands: for a session, the
    /// account is active and still at the session's credentials generation
    /// ([`Authenticator::session_current`]); for an API token, it is neither revoked nor
    /// expired and its owner is active.
    ///
    /// The one place this is decided for a credential already let in: an open stream
    /// re-checks with it, and a ticket is redeemed only while the credential that minted
    /// it passes it.
    pub async fn still_valid(&self, caller: &Caller) -> Result<bool, StoreError> {
        match &caller.credential {
            Credential::Session(session) => self.session_current(caller.user.id, session).await,
            Credential::ApiToken { id, .. } => self.store.api_token_live(*id, now_secs()).await,
        }
    }

    /// Spends `ticket` and returns the caller it stands for: the minting credential, with
    /// its scopes and expiry. Unknown, expired and already used tickets are refused alike,
    /// and so is one whose minting credential has ended since (revoked API token, password
    /// changed, account deactivated or deleted, access token expired).
    pub async fn redeem_ticket(&self, ticket: &str) -> Result<Caller, AuthError> {
        if !looks_like_a_ticket(ticket) {
            return Err(AuthError::InvalidTicket);
        }
        let binding = self
            .store
            .redeem_stream_ticket(hash_ticket(ticket), now_secs_f64())
            .await?
            .ok_or(AuthError::InvalidTicket)?;
        let AccountState::Active { user, .. } = self.account(binding.user_id).await? else {
            return Err(AuthError::InvalidTicket);
        };
        let caller = Caller {
            user,
            expires_at: binding.credential_expires_at,
            credential: match binding.api_token_id {
                // A stream never acts for the password login, so its time is not carried.
                None => Credential::Session(Session {
                    generation: binding.generation,
                    auth_time: None,
                }),
                Some(id) => Credential::ApiToken {
                    id,
                    scopes: binding.scopes,
                },
            },
        };
        if caller.expires_at <= now_secs() || !self.still_valid(&caller).await? {
            return Err(AuthError::InvalidTicket);
        }
        Ok(caller)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_ticket_has_a_ticket_s_shape_and_others_do_not() {
        let t = new_stream_ticket();
        assert!(looks_like_a_ticket(&t), "{t}");
        assert_ne!(t, new_stream_ticket());
        for other in [
            "",
            "tlt_",
            &t[..t.len() - 1],
            &format!("{t}x"),
            &t.replace("tlt_", "tlp_"),
            &format!("tlt_{}", "é".repeat(20)),
            "eyJhbGciOiJIUzI1NiJ9.e30.x",
        ] {
            assert!(!looks_like_a_ticket(other), "{other}");
        }
    }
}
