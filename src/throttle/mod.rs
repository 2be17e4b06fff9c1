//! Throttles: in-memory counters of recent attempts per key (a username at an address, a
//! client address) that turn into 429 + `Retry-After` past a limit.
//!
//! An attempt is counted *before* the work it guards (a password hash, a registration), in
//! the same lock as the check ([`Throttle::acquire`]), so however many requests arrive at
//! once, at most `max` per key get through inside one window.
//!
//! What a client address counts as (`address_key`) is here; reading it from a request is
//! in `address` (`client_address`). The count of open streams per user is in `streams`
//! (`StreamSlots`).
//!
//! They live in each process; several processes behind one balancer each enforce their
//! own limits (an attacker gets at most N times the attempts with N processes).

mod address;
mod streams;

pub use address::{client_address, forwarded_for};
pub use streams::{StreamSlot, StreamSlots};

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// Keys tracked at most per throttle, so an attacker cycling through names or addresses
/// can't grow memory without bound. Past it, the keys hit least recently are forgotten
/// first; counting never stops.
pub const MAX_KEYS: usize = 100_000;

/// A key as stored: 16 bytes of its SHA-256, so the table's size doesn't depend on how
/// long the keys are.
type Digest16 = [u8; 16];

fn digest(key: &str) -> Digest16 {
    let full = Sha256::digest(key.as_bytes());
    let mut out = [0u8; 16];
    out.copy_from_slice(&full[..16]);
    out
}

struct Entry {
    /// The counted attempts still inside the window, oldest first (at most `max`).
    hits: VecDeque<Instant>,
    /// Position in `Table::order`: higher is more recently hit.
    seq: u64,
}

#[derive(Default)]
struct Table {
    entries: HashMap<Digest16, Entry>,
    /// Every key by when it was last hit, least recent first.
    order: BTreeMap<u64, Digest16>,
    next_seq: u64,
}

impl Table {
    fn remove(&mut self, key: &Digest16) {
        if let Some(e) = self.entries.remove(key) {
            self.order.remove(&e.seq);
        }
    }

    /// Drops the least recently hit key.
    fn evict_oldest(&mut self) {
        if let Some((_, key)) = self.order.pop_first() {
            self.entries.remove(&key);
        }
    }

    /// Drops keys whose last hit has left the window, least recent first (cheap: it stops
    /// at the first key still live).
    fn prune(&mut self, now: Instant, window: Duration) {
        while let Some((_, key)) = self.order.first_key_value() {
            let stale = self
                .entries
                .get(key)
                .and_then(|e| e.hits.back())
                .is_none_or(|t| now.duration_since(*t) >= window);
            if !stale {
                break;
            }
            self.evict_oldest();
        }
    }

    fn touch(&mut self, key: Digest16) {
        let seq = self.next_seq;
        self.next_seq += 1;
        if let Some(e) = self.entries.get_mut(&key) {
            self.order.remove(&e.seq);
            e.seq = seq;
            self.order.insert(seq, key);
        }
    }
}

/// One counted attempt, to [`Throttle::refund`] it.
#[derive(Debug, Clone, Copy)]
pub struct Attempt(Instant);

pub struct Throttle {
    max: usize,
    window: Duration,
    max_keys: usize,
    table: Mutex<Table>,
}

impl Throttle {
    /// At most `max` attempts per key within any `window`.
    pub fn new(max: u32, window: Duration) -> Throttle {
        Throttle::with_max_keys(max, window, MAX_KEYS)
    }

    /// Like [`Throttle::new`], tracking at most `max_keys` keys.
    pub fn with_max_keys(max: u32, window: Duration, max_keys: usize) -> Throttle {
        Throttle {
            max: max.max(1) as usize,
            window,
            max_keys: max_keys.max(1),
            table: Mutex::new(Table::default()),
        }
    }

    /// Counts one attempt for `key` if it is under its limit, checking and recording in one
    /// lock: `Ok(attempt)` when the attempt may go ahead (and is now counted), `Err(seconds)`
    /// while the key is over its limit (retry after that many seconds; nothing counted).
    pub fn acquire(&self, key: &str) -> Result<Attempt, u64> {
        let key = digest(key);
        let mut t = self.lock();
        let now = Instant::now();
        t.prune(now, self.window);
        if let Some(e) = t.entries.get_mut(&key) {
            while e
                .hits
                .front()
                .is_some_and(|h| now.duration_since(*h) >= self.window)
            {
                e.hits.pop_front();
            }
            if e.hits.len() >= self.max {
                let oldest = e.hits.front().copied().unwrap_or(now);
                let wait = (oldest + self.window).saturating_duration_since(now);
                return Err(wait.as_secs() + 1);
            }
            e.hits.push_back(now);
            t.touch(key);
            return Ok(Attempt(now));
        }
        while t.entries.len() >= self.max_keys {
            t.evict_oldest();
        }
        let seq = t.next_seq;
        t.next_seq += 1;
        t.entries.insert(
            key,
            Entry {
                hits: VecDeque::from([now]),
                seq,
            },
        );
        t.order.insert(seq, key);
        Ok(Attempt(now))
    }

    /// Takes back an attempt counted for `key`: one that never reached the work it guards
    /// (the server was too busy), or one that should not count (a successful login, for
    /// the per-address limit). Only that attempt: the others keep their place in the window.
    pub fn refund(&self, key: &str, attempt: Attempt) {
        let key = digest(key);
        let mut t = self.lock();
        let empty = match t.entries.get_mut(&key) {
            Some(e) => {
                if let Some(i) = e.hits.iter().rposition(|h| *h == attempt.0) {
                    e.hits.remove(i);
                }
                e.hits.is_empty()
            }
            None => false,
        };
        if empty {
            t.remove(&key);
        }
    }

    /// Forgets `key` (a successful login).
    pub fn clear(&self, key: &str) {
        self.lock().remove(&digest(key));
    }

    /// How many keys are tracked now.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
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

    #[test]
    fn a_key_is_blocked_after_max_attempts_and_others_are_not() {
        let t = Throttle::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            assert!(t.acquire("a").is_ok());
        }
        let wait = t.acquire("a").unwrap_err();
        assert!((1..=61).contains(&wait), "{wait}");
        assert!(t.acquire("b").is_ok());
        t.clear("a");
        assert!(t.acquire("a").is_ok());
    }

    #[test]
    fn a_refund_gives_back_that_attempt_only() {
        let t = Throttle::new(2, Duration::from_secs(60));
        let first = t.acquire("a").unwrap();
        let second = t.acquire("a").unwrap();
        assert!(t.acquire("a").is_err());
        t.refund("a", second);
        let third = t.acquire("a").unwrap();
        assert!(t.acquire("a").is_err());
        t.refund("a", first);
        assert!(t.acquire("a").is_ok());
        assert!(t.acquire("a").is_err());
        t.refund("never-seen", third);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn a_key_whose_attempts_are_all_refunded_is_forgotten() {
        let t = Throttle::new(2, Duration::from_secs(60));
        let a = t.acquire("a").unwrap();
        t.refund("a", a);
        assert!(t.is_empty());
    }

    #[test]
    fn attempts_age_out_of_the_window() {
        let t = Throttle::new(1, Duration::from_millis(30));
        t.acquire("a").unwrap();
        assert!(t.acquire("a").is_err());
        std::thread::sleep(Duration::from_millis(40));
        assert!(t.acquire("a").is_ok());
    }

    #[test]
    fn concurrent_attempts_get_through_at_most_max_times() {
        let t = std::sync::Arc::new(Throttle::new(5, Duration::from_secs(60)));
        let passed = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let (t, passed) = (t.clone(), passed.clone());
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        if t.acquire("victim").is_ok() {
                            passed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        for th in threads {
            th.join().unwrap();
        }
        assert_eq!(passed.load(std::sync::atomic::Ordering::Relaxed), 5);
    }

    #[test]
    fn a_full_table_evicts_the_oldest_key_and_still_counts_the_new_one() {
        let t = Throttle::with_max_keys(2, Duration::from_secs(60), 3);
        t.acquire("oldest").unwrap();
        t.acquire("middle").unwrap();
        t.acquire("newest").unwrap();
        // "middle" hit again: now "oldest" is the least recently hit.
        t.acquire("middle").unwrap();
        assert_eq!(t.len(), 3);

        t.acquire("new").unwrap();

        assert_eq!(t.len(), 3, "the table never grows past its bound");
        t.acquire("new").unwrap();
        assert!(t.acquire("new").is_err(), "the new key is counted");
        assert!(t.acquire("middle").is_err(), "live keys are kept");
        // "oldest" was forgotten, so it starts again (and evicts "newest").
        assert!(t.acquire("oldest").is_ok());
        assert!(t.acquire("oldest").is_ok());
        assert!(t.acquire("oldest").is_err());
    }

    #[test]
    fn stale_keys_are_dropped_as_new_ones_come() {
        let t = Throttle::new(1, Duration::from_millis(20));
        for i in 0..50 {
            t.acquire(&format!("k{i}")).unwrap();
        }
        std::thread::sleep(Duration::from_millis(30));
        t.acquire("fresh").unwrap();
        assert_eq!(t.len(), 1);
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
