//! Coalesced reads of users' last event ids.
//!
//! The kept list pages ([`crate::domain::listing`]) check one point read per list
//! request: the owner's `event_seq`. On SQLite that read is a few microseconds in this
//! process; here it is a round trip and a statement in a PostgreSQL backend, which
//! under load cost more than the rest of the request. So the reads go through one
//! queue: a task takes every read waiting (up to [`MAX_BATCH`]) and answers them all
//! with one `SELECT … WHERE id = ANY($1)`, while the reads that arrive meanwhile wait
//! for the next one. Every read is still answered by a query sent after it was asked,
//! so it sees every commit that finished before it: as fresh as a read of its own.

use std::collections::HashMap;

use deadpool_postgres::Pool;
use tokio::sync::{mpsc, oneshot};

use crate::store::{Result, StoreError};

/// Most reads one query answers.
pub const MAX_BATCH: usize = 1024;

/// Reads waiting; a full queue makes callers wait.
const QUEUE: usize = 4096;

type Pending = (i64, oneshot::Sender<Result<Option<i64>>>);

/// The queue's sending end; the reading task ends when every sender is gone.
#[derive(Clone)]
pub struct SeqReads {
    queue: mpsc::Sender<Pending>,
}

impl SeqReads {
    /// Starts the reading task (on the current tokio runtime).
    pub fn start(pool: Pool) -> SeqReads {
        let (queue, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(pool, rx));
        SeqReads { queue }
    }

    /// User `user_id`'s `event_seq`, read after this call began; `None` if no such user
    /// (or it is deleted).
    pub async fn read(&self, user_id: i64) -> Result<Option<i64>> {
        let (answer, answered) = oneshot::channel();
        self.queue
            .send((user_id, answer))
            .await
            .map_err(|_| StoreError::Other("the event id reader has stopped".into()))?;
        answered
            .await
            .map_err(|_| StoreError::Other("the event id reader dropped a read".into()))?
    }
}

async fn run(pool: Pool, mut rx: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let reads = std::mem::take(&mut batch);
        let mut ids: Vec<i64> = reads.iter().map(|(id, _)| *id).collect();
        ids.sort_unstable();
        ids.dedup();
        match read(&pool, &ids).await {
            Ok(seqs) => {
                for (id, answer) in reads {
                    let _ = answer.send(Ok(seqs.get(&id).copied()));
                }
            }
            Err(e) => {
                let message = match e {
                    StoreError::Other(m) => m,
                    e => e.to_string(),
                };
                for (_, answer) in reads {
                    let _ = answer.send(Err(StoreError::Other(message.clone())));
                }
            }
        }
    }
}

async fn read(pool: &Pool, ids: &[i64]) -> Result<HashMap<i64, i64>> {
    let c = pool.get().await?;
    let stmt = c
        .prepare_cached(
            "SELECT id, event_seq + list_epoch FROM users
             WHERE id = ANY($1) AND deleted_at IS NULL",
        )
        .await?;
    c.query(&stmt, &[&ids])
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}
