//! The caller's task events, read two ways: followed live (a stream, opened within the
//! per-user cap and ended when the credential that opened it ends), or in pages after a
//! cursor (`/api/changes/`). Both come from the hub, which holds the no-gap/no-duplicate
//! rule; `api/stream.rs` and `api/changes.rs` only render what these give.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::Instant;

use super::{DomainError, FieldErrors};
use crate::auth::{Authenticator, Caller};
use crate::hub::{self, Follower, Hub};
use crate::throttle::{StreamSlot, StreamSlots};

/// A page of changes stops early (with `more`) once its events add up to this many bytes
/// of JSON, so that a page of large tasks cannot take unbounded memory.
pub const PAGE_BYTES: usize = 1 << 20;

/// A stream just opened: its events, and the slot it holds against the per-user cap
/// (freed when dropped: keep it as long as the stream).
pub struct Opened {
    pub follower: Follower,
    pub slot: StreamSlot,
}

/// Opens a stream of `user_id`'s events, those after `since` first (when given), then
/// live ones. A user holds at most `slots.max()` streams in this process: past it,
/// [`DomainError::TooManyStreams`], before anything else is looked at. Then the
/// messages `errors` holds (parameters that could not be read) refuse it.
pub async fn open(
    hub: &Hub,
    slots: &Arc<StreamSlots>,
    user_id: i64,
    since: Option<i64>,
    errors: FieldErrors,
) -> Result<Opened, DomainError> {
    let slot = slots
        .reserve(user_id)
        .ok_or(DomainError::TooManyStreams { max: slots.max() })?;
    errors.into_result()?;
    let follower = hub
        .follow(user_id, since)
        .await
        .map_err(|e| DomainError::Internal(e.to_string()))?;
    Ok(Opened { follower, slot })
}

/// What an open stream needs to notice that its credential has ended.
#[derive(Clone)]
pub struct Recheck {
    pub authenticator: Authenticator,
    /// Ids of accounts that changed (password, deactivation, deletion), here or in
    /// another process.
    pub account_changes: broadcast::Sender<i64>,
    /// How often to check when no change is heard (`--stream-recheck`).
    pub every: Duration,
}

/// Resolves once `caller`'s account is deactivated or deleted, its password changed (the
/// session's credentials generation is no longer the account's), or its API token revoked
/// or expired (checked every `recheck.every`, and at once when the account changes).
pub async fn revoked(recheck: &Recheck, caller: &Caller) {
    let every = recheck.every.max(Duration::from_millis(100));
    let mut tick = tokio::time::interval_at(Instant::now() + every, every);
    let mut changes = recheck.account_changes.subscribe();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            changed = changes.recv() => match changed {
                // Another account: nothing to check.
                Ok(id) if id != caller.user.id => continue,
                // This account changed (or some news was missed): check now.
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                // The state is going away: keep to the ticks.
                Err(RecvError::Closed) => {
                    tick.tick().await;
                }
            },
        }
        match recheck.authenticator.still_valid(caller).await {
            Ok(true) => {}
            Ok(false) => return,
            // A database hiccup is not a revocation; try again next time.
            Err(e) => tracing::warn!(error = %e, "stream: re-checking access failed"),
        }
    }
}

/// One page of `user_id`'s events after `since`: at most `limit` events and about
/// [`PAGE_BYTES`], or a single reset when `since` is older than the kept history (or
/// unknown).
pub async fn changes(
    hub: &Hub,
    user_id: i64,
    since: i64,
    limit: u32,
) -> Result<hub::OutboxPage, DomainError> {
    Ok(hub.page(user_id, since, limit, PAGE_BYTES).await?)
}
