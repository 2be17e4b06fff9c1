//! Stream tickets as the store takes and gives them: short-lived, single-use, kept only
//! as a SHA-256, each bound to the credential that minted it.

use async_trait::async_trait;

use super::Result;

/// A ticket about to be stored.
#[derive(Clone, Debug)]
pub struct NewStreamTicket {
    /// SHA-256 (hex) of the ticket.
    pub ticket_hash: String,
    pub binding: TicketBinding,
    /// Unix seconds after which it cannot be redeemed.
    pub expires_at: f64,
}

/// What a ticket carries from the credential that minted it, so the stream it opens acts
/// (and is re-checked) as that credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TicketBinding {
    pub user_id: i64,
    /// The personal API token that minted it; `None` for a session.
    pub api_token_id: Option<i64>,
    /// The API token's scopes (empty for a session).
    pub scopes: Vec<String>,
    /// The session's credentials generation (0 for an API token).
    pub generation: i64,
    /// When the minting credential expires (unix seconds).
    pub credential_expires_at: i64,
}

/// Live tickets a user may hold at once: minting one more drops the oldest. Twice the
/// default number of streams per user, so every stream of a user can reconnect at once.
pub const MAX_LIVE_PER_USER: i64 = 64;

/// Stream tickets: minted, redeemed once, swept.
#[async_trait]
pub trait StreamTicketStore: Send + Sync {
    /// Stores a ticket (its hash), dropping the user's expired tickets and then its
    /// oldest past [`MAX_LIVE_PER_USER`] (concurrent mints cannot overshoot the bound).
    /// `NotFound` when the user is gone.
    async fn create_stream_ticket(&self, new: NewStreamTicket, now: f64) -> Result<()>;

    /// Spends the ticket with this hash, if live at `now`: read and deleted in one
    /// statement, so it is redeemed at most once across every process and host.
    async fn redeem_stream_ticket(
        &self,
        ticket_hash: String,
        now: f64,
    ) -> Result<Option<TicketBinding>>;

    /// Deletes tickets that expired at or before `now`.
    async fn prune_stream_tickets(&self, now: f64) -> Result<usize>;
}
