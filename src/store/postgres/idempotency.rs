//! Idempotency keys: a retried create returns the first response instead of creating
//! again. The owner's row is locked first (after the project's, in one), then the key is
//! checked, the task created and the response kept, all in one transaction: a second
//! request with the same key, on any host, waits for the first to commit and then finds
//! its key, so concurrent requests with one key create one task.

use async_trait::async_trait;

use super::Postgres;
use super::tasks::{insert_task, lock_for_create};
use crate::model::User;
use crate::store::idempotency::{IdempotencyStore, Key, Keyed};
use crate::store::purge::POSTGRES_PACE;
use crate::store::tasks::{NewTask, TaskRule};
use crate::store::{Result, StoreError};

#[async_trait]
impl IdempotencyStore for Postgres {
    async fn create_task_once(
        &self,
        owner: User,
        new: NewTask,
        key: Key,
        rule: TaskRule,
    ) -> Result<Keyed> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let user_id = owner.id;
        lock_for_create(&tx, user_id, new.project, rule).await?;
        let stmt = tx
            .prepare_cached(
                "SELECT request_hash, status, body, created_at FROM idempotency_keys
                 WHERE user_id = $1 AND key = $2",
            )
            .await?;
        let seen = tx.query_opt(&stmt, &[&user_id, &key.key]).await?;
        if let Some(r) = seen {
            let at: f64 = r.try_get(3)?;
            if at >= key.expired_before {
                let hash: String = r.try_get(0)?;
                let keyed = if hash == key.request_hash {
                    let status: i32 = r.try_get(1)?;
                    Keyed::Replayed {
                        status: u16::try_from(status).map_err(|_| {
                            StoreError::Other(format!("bad status {status} for a key"))
                        })?,
                        body: r.try_get(2)?,
                    }
                } else {
                    Keyed::Mismatch
                };
                // Nothing changed: let the locks go.
                tx.rollback().await?;
                return Ok(keyed);
            }
            tx.execute(
                "DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2",
                &[&user_id, &key.key],
            )
            .await?;
        }
        let (task, events) = insert_task(&tx, owner, new).await?;
        let body = serde_json::to_string(&task)
            .map_err(|e| StoreError::Other(format!("task json: {e}")))?;
        let stmt = tx
            .prepare_cached(
                "INSERT INTO idempotency_keys (user_id, key, request_hash, status, body, created_at)
                 VALUES ($1, $2, $3, 201, $4, $5)",
            )
            .await?;
        tx.execute(
            &stmt,
            &[&user_id, &key.key, &key.request_hash, &body, &key.now],
        )
        .await?;
        self.commit(tx).await?;
        Ok(Keyed::Created(Box::new(task), events))
    }

    // [`POSTGRES_PACE`]`.rows` per statement (each its own short transaction). Rows
    // another transaction holds are left for the next sweep.
    async fn prune_idempotency_keys(&self, before: f64) -> Result<usize> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(
                "DELETE FROM idempotency_keys WHERE (user_id, key) IN (
                     SELECT user_id, key FROM idempotency_keys WHERE created_at < $1
                     LIMIT $2 FOR UPDATE SKIP LOCKED)",
            )
            .await?;
        let mut total = 0;
        loop {
            let n = c.execute(&stmt, &[&before, &POSTGRES_PACE.rows]).await?;
            self.committed();
            total += usize::try_from(n).unwrap_or(usize::MAX);
            if (n as i64) < POSTGRES_PACE.rows {
                return Ok(total);
            }
        }
    }
}
