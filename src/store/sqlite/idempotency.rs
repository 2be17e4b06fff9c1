//! Idempotency keys: a retried create returns the first response instead of creating
//! again. The key is checked, the task created and the response kept in one
//! `BEGIN IMMEDIATE` transaction, so concurrent requests with one key create one task.

use async_trait::async_trait;

use std::sync::Arc;

use rusqlite::{OptionalExtension, params};

use super::Sqlite;
use super::tasks::{check_create, insert_task};
use crate::model::User;
use crate::store::Result;
use crate::store::idempotency::{IdempotencyStore, Key, Keyed};
use crate::store::tasks::{NewTask, TaskRule};

#[async_trait]
impl IdempotencyStore for Sqlite {
    async fn create_task_once(
        &self,
        owner: User,
        new: NewTask,
        key: Key,
        rule: TaskRule,
    ) -> Result<Keyed> {
        self.write(move |tx| {
            let user_id = owner.id;
            let seen: Option<(String, u16, String, f64)> = tx
                .prepare_cached(
                    "SELECT request_hash, status, body, created_at FROM idempotency_keys
                     WHERE user_id = ?1 AND key = ?2",
                )?
                .query_row(params![user_id, key.key], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .optional()?;
            match seen {
                Some((hash, status, body, at)) if at >= key.expired_before => {
                    return Ok(if hash == key.request_hash {
                        Keyed::Replayed { status, body }
                    } else {
                        Keyed::Mismatch
                    });
                }
                Some(_) => {
                    tx.execute(
                        "DELETE FROM idempotency_keys WHERE user_id = ?1 AND key = ?2",
                        params![user_id, key.key],
                    )?;
                }
                None => {}
            }
            check_create(tx, owner.id, new.project, rule)?;
            let (task, events) = insert_task(tx, owner, new)?;
            let body = serde_json::to_string(&task)
                .map_err(|e| super::StoreError::Other(format!("task json: {e}")))?;
            tx.prepare_cached(
                "INSERT INTO idempotency_keys (user_id, key, request_hash, status, body, created_at)
                 VALUES (?1, ?2, ?3, 201, ?4, ?5)",
            )?
            .execute(params![user_id, key.key, key.request_hash, body, key.now])?;
            Ok(Keyed::Created(Box::new(task), events))
        })
        .await
    }

    // In short writer jobs ([`Sqlite::sweep`]).
    async fn prune_idempotency_keys(&self, before: f64) -> Result<usize> {
        self.sweep(Arc::new(move |tx: &rusqlite::Transaction, limit: i64| {
            Ok(tx
                .prepare_cached(
                    "DELETE FROM idempotency_keys WHERE (user_id, key) IN (
                         SELECT user_id, key FROM idempotency_keys WHERE created_at < ?1 LIMIT ?2)",
                )?
                .execute(params![before, limit])?)
        }))
        .await
    }
}
