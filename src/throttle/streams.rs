//! The cap on open streams per user, so one account cannot hold sockets without bound.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
