//! Stream tickets: minting one for an authenticated caller whose credential may read
//! tasks. Redeeming is part of authentication (`auth::tickets`).

use super::DomainError;
use crate::auth::Caller;
use crate::auth::tickets::{TICKET_TTL, hash_ticket, new_stream_ticket};
use crate::clock::timestamp;
use crate::store::stream_tickets::NewStreamTicket;
use crate::store::{Store, StoreError};

/// A ticket just minted: its secret (shown this once) and when it stops working.
#[derive(Debug)]
pub struct Minted {
    pub ticket: String,
    /// When it stops working (an API timestamp).
    pub expires_at: String,
    /// Whole seconds it lives.
    pub expires_in: u64,
}

/// Mints a single-use stream ticket bound to `caller`'s user and credential (the caller's
/// scopes are checked by the operation). The user's expired tickets, and its oldest past
/// the per-user bound, are dropped in the same write.
pub async fn mint(store: &Store, caller: &Caller) -> Result<Minted, DomainError> {
    let ticket = new_stream_ticket();
    let now = chrono::Utc::now();
    let expires = now + TICKET_TTL;
    let new = NewStreamTicket {
        ticket_hash: hash_ticket(&ticket),
        binding: caller.ticket_binding(),
        expires_at: unix(expires),
    };
    match store.create_stream_ticket(new, unix(now)).await {
        Ok(()) => Ok(Minted {
            ticket,
            expires_at: timestamp(expires),
            expires_in: TICKET_TTL.as_secs(),
        }),
        // The account was deleted after the caller was let in.
        Err(StoreError::NotFound) => Err(DomainError::BadCredentials),
        Err(e) => Err(e.into()),
    }
}

/// Unix seconds, with microseconds.
fn unix(at: chrono::DateTime<chrono::Utc>) -> f64 {
    at.timestamp_micros() as f64 / 1e6
}
