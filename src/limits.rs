//! Throttles: in-memory counters of recent failures per key (a username, a client address)
//! that turn into 429 + `Retry-After` past a limit.
//!
//! They live in each process; several processes behind one balancer each enforce their
//! own limits (an attacker gets at most N times the attempts with N processes).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
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
    fn hits_age_out_of_the_window() {
        let t = Throttle::new(1, Duration::from_millis(30));
        t.hit("a");
        assert!(t.check("a").is_err());
        std::thread::sleep(Duration::from_millis(40));
        assert!(t.check("a").is_ok());
    }
}
