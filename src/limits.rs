//! Throttles: in-memory counters of recent failures per key (a username, a client address)
//! that turn into 429 + `Retry-After` past a limit; and the count of open streams per user.
//!
//! They live in each process; several processes behind one balancer each enforce their
//! own limits (an attacker gets at most N times the attempts with N processes).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Keys tracked at most, so an attacker cycling through names can't grow memory without
/// bound; past it, stale keys are dropped first.
const MAX_KEYS: usize = 100_000;

pub struct Throttle {
    max: usize,
    window: Duration,
    hits: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Throttle {
    /// At most `max` hits per key within any `window`.
    pub fn new(max: u32, window: Duration) -> Throttle {
        Throttle {
            max: max.max(1) as usize,
            window,
            hits: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(seconds)` while `key` is over its limit: retry after that many seconds.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        let now = Instant::now();
        let mut hits = self.lock();
        let Some(q) = hits.get_mut(key) else {
            return Ok(());
        };
        self.expire(q, now);
        if q.len() < self.max {
            return Ok(());
        }
        let oldest = q.front().copied().unwrap_or(now);
        let wait = (oldest + self.window).saturating_duration_since(now);
        Err(wait.as_secs() + 1)
    }

    /// Counts one hit (a failed login, a registration) for `key`.
    pub fn hit(&self, key: &str) {
        let now = Instant::now();
        let mut hits = self.lock();
        if hits.len() >= MAX_KEYS && !hits.contains_key(key) {
            let window = self.window;
            hits.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < window));
            if hits.len() >= MAX_KEYS {
                return;
            }
        }
        let q = hits.entry(key.to_owned()).or_default();
        self.expire(q, now);
        q.push_back(now);
        while q.len() > self.max {
            q.pop_front();
        }
    }

    /// Forgets `key` (a successful login).
    pub fn clear(&self, key: &str) {
        self.lock().remove(key);
    }

    fn expire(&self, q: &mut VecDeque<Instant>, now: Instant) {
        while q
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            q.pop_front();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<Instant>>> {
        self.hits.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The throttles the API uses.
pub struct Throttles {
    /// Failed logins per (client address, username).
    pub login: Throttle,
    /// Failed logins per client address, whatever the username.
    pub login_address: Throttle,
    /// Registrations per client address.
    pub register: Throttle,
}

/// Open event streams per user (WebSockets and SSE together), in this process.
///
/// A slot is reserved under the lock, before the stream starts, so concurrent opens can
/// never exceed the cap; it is released when its [`StreamSlot`] drops, however the stream
/// ends. The map holds only users with an open stream.
pub struct StreamSlots {
    max: u32,
    open: Mutex<HashMap<i64, u32>>,
}

/// One reserved stream; dropping it frees the slot.
pub struct StreamSlot {
    slots: Arc<StreamSlots>,
    user_id: i64,
}

impl StreamSlots {
    pub fn new(max: u32) -> StreamSlots {
        StreamSlots {
            max: max.max(1),
            open: Mutex::new(HashMap::new()),
        }
    }

    /// The most streams one user may hold open.
    pub fn max(&self) -> u32 {
        self.max
    }

    /// Reserves one of `user_id`'s slots, or `None` when all are taken.
    pub fn reserve(self: &Arc<Self>, user_id: i64) -> Option<StreamSlot> {
        let mut open = self.lock();
        let n = open.entry(user_id).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(StreamSlot {
            slots: self.clone(),
            user_id,
        })
    }

    /// Streams `user_id` holds open now.
    pub fn open(&self, user_id: i64) -> u32 {
        self.lock().get(&user_id).copied().unwrap_or(0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, u32>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.slots.lock();
        if let Some(n) = open.get_mut(&self.user_id) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.user_id);
            }
        }
    }
}

/// The client's address: the peer, or with `trust_forwarded` the last hop that the
/// reverse proxy appended to `X-Forwarded-For`.
pub fn client_address(req: &poem::Request, trust_forwarded: bool) -> String {
    if trust_forwarded
        && let Some(ip) = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse::<IpAddr>().ok())
    {
        return ip.to_string();
    }
    match req.remote_addr().as_socket_addr() {
        Some(addr) => addr.ip().to_string(),
        None => "unknown".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_blocked_after_max_hits_and_others_are_not() {
        let t = Throttle::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            assert!(t.check("a").is_ok());
            t.hit("a");
        }
        let wait = t.check("a").unwrap_err();
        assert!((1..=61).contains(&wait), "{wait}");
        assert!(t.check("b").is_ok());
        t.clear("a");
        assert!(t.check("a").is_ok());
    }

    #[test]
    fn concurrent_reservations_never_exceed_the_cap_and_drops_free_slots() {
        let slots = Arc::new(StreamSlots::new(3));
        let taken: Vec<StreamSlot> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..100).map(|_| s.spawn(|| slots.reserve(7))).collect();
            handles
                .into_iter()
                .filter_map(|h| h.join().unwrap())
                .collect()
        });
        assert_eq!(taken.len(), 3);
        assert_eq!(slots.open(7), 3);
        assert!(
            slots.reserve(8).is_some(),
            "another user has their own slots"
        );
        drop(taken);
        assert_eq!(slots.open(7), 0);
        assert!(slots.lock().is_empty(), "no entry outlives its streams");
        assert!(slots.reserve(7).is_some());
    }

    #[test]
    fn hits_age_out_of_the_window() {
        let t = Throttle::new(1, Duration::from_millis(30));
        t.hit("a");
        assert!(t.check("a").is_err());
        std::thread::sleep(Duration::from_millis(40));
        assert!(t.check("a").is_ok());
    }
}
