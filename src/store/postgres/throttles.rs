//! Throttle counts on PostgreSQL, shared by every host. Each check-and-count takes a
//! transaction-scoped advisory lock on its (scope, key) first, so concurrent attempts on
//! one key — from any host — are counted one after another, and at most `max` get
//! through.

use async_trait::async_trait;

use super::Postgres;
use crate::store::Result;
use crate::store::throttles::{Counted, ThrottleStore, retry_after};

/// The advisory lock of one (scope, key): the two-number form, whose space is apart from
/// the single-number locks migrations and pruning use.
fn lock_of(scope: &str, key: &[u8]) -> (i32, i32) {
    let scope_id = scope
        .bytes()
        .fold(0x7468_726fu32, |h, b| h.rotate_left(5) ^ u32::from(b)) as i32;
    let mut first = [0u8; 4];
    first.copy_from_slice(&key[..4.min(key.len())]);
    (scope_id, i32::from_le_bytes(first))
}

#[async_trait]
impl ThrottleStore for Postgres {
    async fn throttle_acquire(
        &self,
        scope: &'static str,
        key: Vec<u8>,
        max: u32,
        window: f64,
        now: f64,
    ) -> Result<Counted> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let (class, object) = lock_of(scope, &key);
        tx.execute("SELECT pg_advisory_xact_lock($1, $2)", &[&class, &object])
            .await?;
        let stmt = tx
            .prepare_cached("DELETE FROM throttle_hits WHERE scope = $1 AND key = $2 AND at <= $3")
            .await?;
        tx.execute(&stmt, &[&scope, &key, &(now - window)]).await?;
        let stmt = tx
            .prepare_cached(
                "SELECT count(*), min(at) FROM throttle_hits WHERE scope = $1 AND key = $2",
            )
            .await?;
        let row = tx.query_one(&stmt, &[&scope, &key]).await?;
        let (count, oldest): (i64, Option<f64>) = (row.get(0), row.get(1));
        if count >= i64::from(max) {
            // Nothing written: let the transaction end without a commit to count.
            drop(tx);
            return Ok(Counted::Over {
                retry_after: retry_after(oldest.unwrap_or(now), window, now),
            });
        }
        let stmt = tx
            .prepare_cached("INSERT INTO throttle_hits (scope, key, at) VALUES ($1, $2, $3)")
            .await?;
        tx.execute(&stmt, &[&scope, &key, &now]).await?;
        self.commit(tx).await?;
        Ok(Counted::Allowed(now))
    }

    async fn throttle_refund(&self, scope: &'static str, key: Vec<u8>, at: f64) -> Result<()> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(
                "DELETE FROM throttle_hits WHERE ctid = (
                     SELECT ctid FROM throttle_hits
                     WHERE scope = $1 AND key = $2 AND at = $3 LIMIT 1)",
            )
            .await?;
        c.execute(&stmt, &[&scope, &key, &at]).await?;
        self.committed();
        Ok(())
    }

    async fn throttle_clear(&self, scope: &'static str, key: Vec<u8>) -> Result<()> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached("DELETE FROM throttle_hits WHERE scope = $1 AND key = $2")
            .await?;
        c.execute(&stmt, &[&scope, &key]).await?;
        self.committed();
        Ok(())
    }

    async fn prune_throttles(&self, before: f64, keep: u64) -> Result<usize> {
        let c = self.client().await?;
        let mut gone = c
            .execute("DELETE FROM throttle_hits WHERE at <= $1", &[&before])
            .await?;
        let keep = i64::try_from(keep).unwrap_or(i64::MAX);
        gone += c
            .execute(
                "DELETE FROM throttle_hits WHERE ctid IN (
                     SELECT ctid FROM throttle_hits ORDER BY at DESC OFFSET $1)",
                &[&keep],
            )
            .await?;
        self.committed();
        Ok(gone as usize)
    }
}
