//! The server's background chores: pruning old events, idempotency keys, throttle counts
//! and expired stream tickets, forgetting rotated token pairs once their grace window has
//! passed, and finishing the purge of deleted accounts.

use std::time::Duration;

use crate::clock;
use crate::state::AppState;

/// Clears the pair kept for each rotated refresh token once its grace window has passed
/// (within two seconds of it), so the database never holds a usable JWT for long.
pub(crate) async fn forget_rotated_pairs(state: AppState) {
    let grace = state.limits.refresh_grace;
    let every = (grace / 4).clamp(Duration::from_millis(250), Duration::from_secs(2));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let before = clock::now_secs_f64() - grace.as_secs_f64();
        if let Err(e) = state.store.forget_successors(before).await {
            tracing::warn!(error = %e, "forgetting rotated token pairs failed");
        }
    }
}

/// Deletes events and idempotency keys older than their retention windows, now and then.
pub(crate) async fn prune_events(state: AppState) {
    let retention = state.limits.event_retention;
    let every = (retention / 10).clamp(Duration::from_secs(1), Duration::from_secs(3600));
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let cutoff = clock::timestamp_ago(retention);
        match state.store.prune_events(cutoff).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(events = n, "pruned events past the retention window"),
            Err(e) => tracing::warn!(error = %e, "pruning events failed"),
        }
        let keys_before = clock::now_secs_f64() - state.limits.idempotency_retention.as_secs_f64();
        if let Err(e) = state.store.prune_idempotency_keys(keys_before).await {
            tracing::warn!(error = %e, "pruning idempotency keys failed");
        }
    }
}

/// Most throttle counts kept: past it (an attack from very many addresses), the oldest
/// go first, as the in-memory throttles evicted their oldest keys.
const MAX_THROTTLE_ROWS: u64 = 300_000;

/// Deletes throttle counts that left the window, and stream tickets that expired, every
/// few seconds.
pub(crate) async fn prune_throttles(state: AppState) {
    let window = state.throttles.login.window();
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = clock::now_secs_f64();
        if let Err(e) = state
            .store
            .prune_throttles(now - window.as_secs_f64(), MAX_THROTTLE_ROWS)
            .await
        {
            tracing::warn!(error = %e, "pruning throttle counts failed");
        }
        if let Err(e) = state.store.prune_stream_tickets(now).await {
            tracing::warn!(error = %e, "pruning stream tickets failed");
        }
    }
}

/// How often deleted accounts still holding rows are looked for.
const PURGE_EVERY: Duration = Duration::from_secs(60);

/// Purges the rows of accounts deleted but not purged yet (the purge of a process that
/// stopped mid-way, or of `tasklane user delete` cut short): at start, then every minute.
pub(crate) async fn purge_deleted_accounts(state: AppState) {
    let mut tick = tokio::time::interval(PURGE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match state.store.purge_deleted_accounts().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(accounts = n, "purged deleted accounts"),
            Err(e) => tracing::warn!(error = %e, "purging deleted accounts failed"),
        }
    }
}
