//! Throttles: counts of recent attempts per key (a username at an address, a client
//! address) that turn into 429 + `Retry-After` past a limit.
//!
//! The counts live in the database ([`Store::throttle_acquire`]), so every process on it
//! — several on one SQLite file, or several hosts on one PostgreSQL — counts the same
//! attempts: N processes give an attacker no more guesses than one. (Redis would also be
//! shared, but it is optional and may be down; the database is always there, and a
//! throttle that fails open when Redis goes away would be no throttle.) An attempt is
//! counted *before* the work it guards (a password hash, a registration), in the same
//! atomic step as the check, so however many requests arrive at once, on however many
//! hosts, at most `max` per key get through inside one window.
//!
//! A key this process has seen over its limit is refused from memory until its oldest
//! attempt leaves the window, so a flood of throttled attempts costs the database
//! nothing. (Another process's refund can free a place a little earlier than this
//! process notices: the memory only ever refuses, never admits.)
//!
//! What a client address counts as (`address_key`) is here; reading it from a request is
//! HTTP, in `api::client_address`. The count of open streams per user is in `streams`
//! (`StreamSlots`), and stays per process.
//!
//! [`Store::throttle_acquire`]: crate::store::throttles::ThrottleStore::throttle_acquire

mod streams;

pub use streams::{StreamSlot, StreamSlots};

use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::clock::now_secs_f64;
use crate::store::throttles::Counted;
use crate::store::{Store, StoreError};

/// Keys this process remembers as over their limit.
const MAX_BLOCKED: u64 = 100_000;

/// A key as stored: 16 bytes of its SHA-256, so the table's size doesn't depend on how
/// long the keys are.
type Digest16 = [u8; 16];

fn digest(key: &str) -> Digest16 {
    let full = Sha256::digest(key.as_bytes());
    let mut out = [0u8; 16];
    out.copy_from_slice(&full[..16]);
    out
}

/// One counted attempt, to [`Throttle::refund`] it.
#[derive(Debug, Clone, Copy)]
pub struct Attempt(f64);

/// Why an attempt may not go ahead.
#[derive(Debug)]
pub enum ThrottleError {
    /// Over the limit: retry after this many seconds.
    Wait(u64),
    /// The count could not be taken.
    Store(StoreError),
}

pub struct Throttle {
    scope: &'static str,
    max: u32,
    window: Duration,
    store: Store,
    /// Keys seen over the limit here, until when.
    blocked: moka::sync::Cache<Digest16, Instant>,
}

impl Throttle {
    /// At most `max` attempts per key within any `window`, counted in `store` under
    /// `scope`.
    pub fn new(scope: &'static str, max: u32, window: Duration, store: Store) -> Throttle {
        Throttle {
            scope,
            max: max.max(1),
            window,
            store,
            blocked: moka::sync::Cache::builder()
                .max_capacity(MAX_BLOCKED)
                .time_to_live(window.max(Duration::from_secs(1)))
                .build(),
        }
    }

    /// Counts one attempt for `key` if it is under its limit, checking and recording in
    /// one atomic step: `Ok(attempt)` when the attempt may go ahead (and is now counted).
    pub async fn acquire(&self, key: &str) -> Result<Attempt, ThrottleError> {
        let key = digest(key);
        if let Some(until) = self.blocked.get(&key) {
            let now = Instant::now();
            if until > now {
                return Err(ThrottleError::Wait((until - now).as_secs() + 1));
            }
        }
        let counted = self
            .store
            .throttle_acquire(
                self.scope,
                key.to_vec(),
                self.max,
                self.window.as_secs_f64(),
                now_secs_f64(),
            )
            .await
            .map_err(ThrottleError::Store)?;
        match counted {
            Counted::Allowed(at) => Ok(Attempt(at)),
            Counted::Over { retry_after } => {
                // retry_after is rounded up: remember a little less, never more.
                let rest = Duration::from_secs(retry_after.saturating_sub(1));
                if !rest.is_zero() {
                    self.blocked.insert(key, Instant::now() + rest);
                }
                Err(ThrottleError::Wait(retry_after))
            }
        }
    }

    /// Takes back an attempt counted for `key`: one that never reached the work it guards
    /// (the server was too busy), or one that should not count (a successful login, for
    /// the per-address limit). Only that attempt: the others keep their place in the
    /// window. A failure is logged; the attempt then stays counted.
    pub async fn refund(&self, key: &str, attempt: Attempt) {
        let key = digest(key);
        if let Err(e) = self
            .store
            .throttle_refund(self.scope, key.to_vec(), attempt.0)
            .await
        {
            tracing::warn!(error = %e, scope = self.scope, "could not refund a throttled attempt");
        }
    }

    /// Forgets `key` (a successful login).
    pub async fn clear(&self, key: &str) {
        let key = digest(key);
        self.blocked.invalidate(&key);
        if let Err(e) = self.store.throttle_clear(self.scope, key.to_vec()).await {
            tracing::warn!(error = %e, scope = self.scope, "could not clear a throttle");
        }
    }

    /// How long this throttle's attempts count.
    pub fn window(&self) -> Duration {
        self.window
    }
}

/// The throttles the API uses.
pub struct Throttles {
    /// Login attempts per (client address, username) that reached the password check
    /// (successes are cleared).
    pub login: Throttle,
    /// Login attempts per client address, whatever the username (successes refunded).
    pub login_address: Throttle,
    /// Registration attempts per client address, whether they succeed or fail.
    pub register: Throttle,
    /// Project invitations per user.
    pub invite: Throttle,
}

/// The key of one (address, username) pair in [`Throttles::login`].
pub fn login_pair(address: &str, username: &str) -> String {
    format!("{address}\u{0}{username}")
}

/// What a client address is counted as: an IPv4 address as itself (also when written
/// IPv4-mapped, `::ffff:a.b.c.d`), an IPv6 address as its /64 prefix (one subscriber
/// usually has a whole /64, so counting single IPv6 addresses would give it billions of
/// budgets).
pub fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{}/64", Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Synchronous;

    fn store(dir: &tempfile::TempDir) -> Store {
        Store::open_sqlite(&dir.path().join("t.db"), 2, Synchronous::Normal).unwrap()
    }

    fn wait(r: Result<Attempt, ThrottleError>) -> u64 {
        match r {
            Err(ThrottleError::Wait(s)) => s,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_key_is_blocked_after_max_attempts_and_others_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let t = Throttle::new("test", 3, Duration::from_secs(60), store(&dir));
        for _ in 0..3 {
            assert!(t.acquire("a").await.is_ok());
        }
        let w = wait(t.acquire("a").await);
        assert!((1..=61).contains(&w), "{w}");
        assert!(t.acquire("b").await.is_ok());
        t.clear("a").await;
        assert!(t.acquire("a").await.is_ok());
    }

    #[tokio::test]
    async fn a_refund_gives_back_that_attempt_only() {
        let dir = tempfile::tempdir().unwrap();
        let t = Throttle::new("test", 2, Duration::from_secs(60), store(&dir));
        let first = t.acquire("a").await.unwrap();
        let second = t.acquire("a").await.unwrap();
        // Refused at the database (not remembered: the wait rounds to the full window).
        assert!(t.acquire("a").await.is_err());
        t.refund("a", second).await;
        t.blocked.invalidate_all();
        let third = t.acquire("a").await.unwrap();
        assert!(t.acquire("a").await.is_err());
        t.refund("a", first).await;
        t.blocked.invalidate_all();
        assert!(t.acquire("a").await.is_ok());
        assert!(t.acquire("a").await.is_err());
        t.refund("never-seen", third).await;
    }

    #[tokio::test]
    async fn attempts_age_out_of_the_window() {
        let dir = tempfile::tempdir().unwrap();
        let t = Throttle::new("test", 1, Duration::from_millis(300), store(&dir));
        t.acquire("a").await.unwrap();
        assert!(t.acquire("a").await.is_err());
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(t.acquire("a").await.is_ok());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_processes_count_the_same_attempts_exactly() {
        // Two stores on one file are two processes as far as SQLite knows.
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (store(&dir), store(&dir));
        let ta = std::sync::Arc::new(Throttle::new("test", 5, Duration::from_secs(60), a));
        let tb = std::sync::Arc::new(Throttle::new("test", 5, Duration::from_secs(60), b));
        let mut tries = Vec::new();
        for i in 0..40 {
            let t = if i % 2 == 0 { ta.clone() } else { tb.clone() };
            tries.push(tokio::spawn(
                async move { t.acquire("victim").await.is_ok() },
            ));
        }
        let mut passed = 0;
        for t in tries {
            passed += usize::from(t.await.unwrap());
        }
        assert_eq!(passed, 5);
    }

    #[tokio::test]
    async fn a_key_over_its_limit_is_refused_without_a_write() {
        let dir = tempfile::tempdir().unwrap();
        let db = store(&dir);
        let t = Throttle::new("test", 1, Duration::from_secs(60), db.clone());
        t.acquire("flooded").await.unwrap();
        assert!(t.acquire("flooded").await.is_err());
        let (_, writes) = db.write_stats();
        for _ in 0..100 {
            assert!(t.acquire("flooded").await.is_err());
        }
        assert_eq!(db.write_stats().1, writes, "refused from memory");
    }

    #[tokio::test]
    async fn pruning_bounds_the_table() {
        let dir = tempfile::tempdir().unwrap();
        let db = store(&dir);
        let t = Throttle::new("test", 1, Duration::from_secs(60), db.clone());
        for i in 0..50 {
            t.acquire(&format!("k{i}")).await.unwrap();
        }
        assert_eq!(db.prune_throttles(0.0, 20).await.unwrap(), 30);
        assert_eq!(
            db.prune_throttles(now_secs_f64() + 1.0, 20).await.unwrap(),
            20
        );
    }

    #[test]
    fn ipv6_addresses_count_per_64_and_mapped_ipv4_as_ipv4() {
        let key = |s: &str| address_key(s.parse().unwrap());
        assert_eq!(key("198.51.100.7"), "198.51.100.7");
        assert_eq!(key("::ffff:198.51.100.7"), "198.51.100.7");
        assert_eq!(key("2001:db8:1:2::a"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:ffff:ffff:ffff:ffff"), "2001:db8:1:2::/64");
        assert_ne!(key("2001:db8:1:3::a"), key("2001:db8:1:2::a"));
        assert_eq!(key("::1"), "::/64");
    }
}
