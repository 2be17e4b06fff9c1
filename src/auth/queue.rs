//! Admission to password checks for one server ([`HashQueue`]): a bounded queue for our
//! own hashes, a small lane of its own for the Django app's, and the floor failed checks
//! answer at ([`FailureFloor`]).
//!
//! Our argon2id hashes (and the dummy one an unknown username costs) run one per core.
//! A hash imported from the Django app may cost ten times as much (pbkdf2 at 1,000,000
//! iterations, bcrypt at cost 12, argon2 at 100 MiB), so it is verified in the legacy
//! lane: at most one or two at a time, outside the per-core places, behind a queue of a
//! few places, at most two of them per account. A burst of wrong passwords at imported
//! accounts so waits in its own lane and leaves native logins their places and most of
//! the CPU.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::floor::FailureFloor;
use super::password::{Stored, cores};

/// Why a [`HashQueue`] turned a hash away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    /// Every place in the queue (or lane) is taken.
    QueueFull,
    /// The key already has as many hashes running or waiting as it may.
    KeyBusy,
}

/// Admission to password hashing for one server: at most `capacity` hashes running or
/// waiting at once, at most `per_key` of them for one key (an account's username). Past
/// either, a hash is refused at once (the caller answers 503) instead of waiting without
/// bound behind the process-wide one-hash-per-core limit. A burst against one account,
/// even from many addresses, so holds only a few places and everyone else's logins
/// still get through. Hashes from the Django app are verified in a lane of their own
/// ([`HashQueue::check`]), and failed checks answer no sooner than its
/// [`FailureFloor`].
#[derive(Clone)]
pub struct HashQueue {
    native: Arc<Places>,
    /// The legacy lane's places, running or waiting.
    legacy: Arc<Places>,
    /// Legacy verifications running at once.
    legacy_running: Arc<Semaphore>,
    floor: Arc<FailureFloor>,
}

/// Bounded places, overall and per key.
struct Places {
    per_key_max: usize,
    places: Arc<Semaphore>,
    /// Hashes running or waiting per key; at most `capacity` keys.
    per_key: std::sync::Mutex<HashMap<String, usize>>,
}

/// A place in a [`HashQueue`] (or its legacy lane), given back when dropped.
pub struct HashPlace {
    places: Arc<Places>,
    key: String,
    _permit: OwnedSemaphorePermit,
}

/// The legacy lane's size on a machine with `cores` cores: verifications running at
/// once (one up to 4 cores, then two), and places running or waiting (four for each).
pub fn legacy_lane(cores: usize) -> (usize, usize) {
    let running = if cores > 4 { 2 } else { 1 };
    (running, 4 * running)
}

/// Places one account may hold in the legacy lane.
const LEGACY_PER_KEY: usize = 2;

impl HashQueue {
    /// A queue of `capacity` places, `per_key` per account, for our hashes; a legacy lane
    /// sized for this machine ([`legacy_lane`]); no failure floor.
    pub fn new(capacity: usize, per_key: usize) -> HashQueue {
        let (running, places) = legacy_lane(cores());
        HashQueue {
            native: Places::new(capacity, per_key),
            legacy: Places::new(places, LEGACY_PER_KEY),
            legacy_running: Arc::new(Semaphore::new(running)),
            floor: Arc::new(FailureFloor::off()),
        }
    }

    /// The same queue, its failed checks answering no sooner than `floor`.
    pub fn with_floor(mut self, floor: FailureFloor) -> HashQueue {
        self.floor = Arc::new(floor);
        self
    }

    /// The floor failed checks answer at.
    pub fn floor(&self) -> &FailureFloor {
        &self.floor
    }

    /// A place for one of our hashes for `key`, or why there is none.
    pub fn enter(&self, key: &str) -> Result<HashPlace, Busy> {
        self.native.enter(key)
    }

    /// Verifies `password` against `hash` (`None`: no such account) for `key`, holding
    /// `place` (from [`HashQueue::enter`]) for ours. A legacy hash gives that place back
    /// and takes one in the legacy lane instead, refused at once when the lane (or the
    /// account's share of it) is full. Whether the password is right, and the place held
    /// now, to keep while the hash is stored anew.
    pub async fn check(
        &self,
        place: HashPlace,
        key: &str,
        password: String,
        hash: Option<String>,
    ) -> Result<(bool, HashPlace), Busy> {
        let stored = Stored::new(hash);
        if !stored.is_legacy() {
            let verified = stored.verify(password, &self.legacy_running).await;
            return Ok((verified, place));
        }
        drop(place);
        let place = self.legacy.enter(key).inspect_err(|_| warn_lane_full())?;
        let verified = stored.verify(password, &self.legacy_running).await;
        Ok((verified, place))
    }
}

/// Says the legacy lane turned a check away, at most once a minute.
fn warn_lane_full() {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = crate::clock::now_secs().max(0) as u64;
    let last = LAST.load(Ordering::Relaxed);
    if now >= last + 60
        && LAST
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        tracing::warn!(
            "the legacy lane (logins to accounts with a hash from the Django app) is full: \
             such logins are answered as failed without a check (logged at most once a minute)"
        );
    }
}

impl Places {
    fn new(capacity: usize, per_key: usize) -> Arc<Places> {
        Arc::new(Places {
            per_key_max: per_key.max(1),
            places: Arc::new(Semaphore::new(capacity.clamp(1, Semaphore::MAX_PERMITS))),
            per_key: std::sync::Mutex::new(HashMap::new()),
        })
    }

    fn enter(self: &Arc<Self>, key: &str) -> Result<HashPlace, Busy> {
        let mut per_key = self.per_key.lock().unwrap_or_else(|p| p.into_inner());
        let running = per_key.get(key).copied().unwrap_or(0);
        if running >= self.per_key_max {
            return Err(Busy::KeyBusy);
        }
        let permit = self
            .places
            .clone()
            .try_acquire_owned()
            .map_err(|_| Busy::QueueFull)?;
        per_key.insert(key.to_owned(), running + 1);
        Ok(HashPlace {
            places: self.clone(),
            key: key.to_owned(),
            _permit: permit,
        })
    }
}

impl Drop for HashPlace {
    fn drop(&mut self) {
        let mut per_key = self
            .places
            .per_key
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(n) = per_key.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                per_key.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_queue_is_bounded_overall_and_per_key() {
        let q = HashQueue::new(3, 2);
        let a1 = q.enter("alice").unwrap();
        let a2 = q.enter("alice").unwrap();
        assert_eq!(q.enter("alice").err(), Some(Busy::KeyBusy));
        let b1 = q.enter("bob").unwrap();
        assert_eq!(q.enter("carol").err(), Some(Busy::QueueFull));
        drop(a1);
        let c1 = q.enter("carol").unwrap();
        assert_eq!(q.enter("alice").err(), Some(Busy::QueueFull));
        drop((a2, b1, c1));
        let _again: Vec<HashPlace> = ["alice", "alice", "bob"]
            .iter()
            .map(|k| q.enter(k).unwrap())
            .collect();
        assert!(
            q.native.per_key.lock().unwrap().len() == 2,
            "only keys with places held are tracked"
        );
    }

    #[test]
    fn the_legacy_lane_leaves_most_cores_to_native_hashes() {
        assert_eq!(legacy_lane(1), (1, 4));
        assert_eq!(legacy_lane(2), (1, 4));
        assert_eq!(legacy_lane(4), (1, 4));
        assert_eq!(legacy_lane(8), (2, 8));
        assert_eq!(legacy_lane(64), (2, 8));
    }

    #[tokio::test]
    async fn legacy_hashes_take_places_in_their_own_lane_at_most_two_per_account() {
        let q = HashQueue::new(64, 5);
        let (_, places) = legacy_lane(cores());
        let django = "pbkdf2_sha256$1000$salt$A9b4Rw8VeFyC4C5ImlD1bJRcrk6ziCeDpQCvZVeQOr8=";
        let mut held = Vec::new();
        // Two per account, however many are tried.
        for key in (0..places / 2).map(|i| format!("imported{i}")) {
            for _ in 0..2 {
                let place = q.enter(&key).unwrap();
                let (verified, place) = q
                    .check(place, &key, "wrong".into(), Some(django.into()))
                    .await
                    .unwrap();
                assert!(!verified);
                held.push(place);
            }
            let place = q.enter(&key).unwrap();
            let refused = q.check(place, &key, "wrong".into(), Some(django.into()));
            assert_eq!(refused.await.err(), Some(Busy::KeyBusy));
        }
        // The lane is full: another imported account is turned away ...
        let place = q.enter("imported-other").unwrap();
        let refused = q.check(place, "imported-other", "wrong".into(), Some(django.into()));
        assert_eq!(refused.await.err(), Some(Busy::QueueFull));
        // ... while the native queue's places are all free: a native check (here an
        // unknown account's) still gets in.
        assert_eq!(q.native.places.available_permits(), 64);
        let place = q.enter("native").unwrap();
        let (verified, _place) = q.check(place, "native", "x".into(), None).await.unwrap();
        assert!(!verified);
    }
}
