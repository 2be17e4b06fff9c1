//! Idempotency keys: a retried create returns the first response instead of creating
//! again. The key is checked, the task created and the response kept in one
//! transaction, so concurrent requests with one key create one task.

use async_trait::async_trait;

use super::Result;
use super::tasks::{NewTask, TaskRule};
use crate::model::{Event, Task, User};

/// What a keyed create did.
#[derive(Debug)]
pub enum Keyed {
    /// First use of the key: the task was created (boxed: the other answers are small).
    Created(Box<Task>, Vec<Event>),
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

/// Task creates under an idempotency key.
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Creates a task once per idempotency key: the key is checked, the task created and
    /// the response kept in one transaction, so a retry gets the first response and
    /// concurrent requests with one key create one task.
    /// In a project, `rule` is asked with the caller's role read in that transaction.
    async fn create_task_once(
        &self,
        owner: User,
        new: NewTask,
        key: Key,
        rule: TaskRule,
    ) -> Result<Keyed>;

    /// Forgets keys older than `before` (unix seconds), in short transactions.
    async fn prune_idempotency_keys(&self, before: f64) -> Result<usize>;
}
