//! Idempotency keys: a retried create returns the first response instead of creating
//! again. The key is checked, the task created and the response kept in one
//! transaction, so concurrent requests with one key create one task.

use crate::model::{Event, Task};

/// What a keyed create did.
#[derive(Debug)]
pub enum Keyed {
    /// First use of the key: the task was created.
    Created(Task, Event),
    /// The key was used before with the same request: its first response.
    Replayed { status: u16, body: String },
    /// The key was used before with a different request.
    Mismatch,
}

/// A key, the hash of the request it came with, and when keys expire.
#[derive(Debug, Clone)]
pub struct Key {
    pub key: String,
    pub request_hash: String,
    pub now: f64,
    /// Keys created before this (unix seconds) no longer count.
    pub expired_before: f64,
}
