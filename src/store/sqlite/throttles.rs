//! Throttle counts on SQLite: each check-and-count is one write, so the single writer (and
//! `BEGIN IMMEDIATE` across processes) makes it atomic.

use async_trait::async_trait;

use std::sync::Arc;

use rusqlite::{OptionalExtension, params};

use super::Sqlite;
use crate::store::Result;
use crate::store::throttles::{Counted, ThrottleStore, retry_after};

#[async_trait]
impl ThrottleStore for Sqlite {
    async fn throttle_acquire(
        &self,
        scope: &'static str,
        key: Vec<u8>,
        max: u32,
        window: f64,
        now: f64,
    ) -> Result<Counted> {
        self.write(move |tx| {
            tx.prepare_cached(
                "DELETE FROM throttle_hits WHERE scope = ?1 AND key = ?2 AND at <= ?3",
            )?
            .execute(params![scope, key, now - window])?;
            let (count, oldest): (i64, Option<f64>) = tx
                .prepare_cached(
                    "SELECT count(*), min(at) FROM throttle_hits WHERE scope = ?1 AND key = ?2",
                )?
                .query_row(params![scope, key], |r| Ok((r.get(0)?, r.get(1)?)))?;
            if count >= i64::from(max) {
                return Ok(Counted::Over {
                    retry_after: retry_after(oldest.unwrap_or(now), window, now),
                });
            }
            tx.prepare_cached("INSERT INTO throttle_hits (scope, key, at) VALUES (?1, ?2, ?3)")?
                .execute(params![scope, key, now])?;
            Ok(Counted::Allowed(now))
        })
        .await
    }

    async fn throttle_refund(&self, scope: &'static str, key: Vec<u8>, at: f64) -> Result<()> {
        self.write(move |tx| {
            let row: Option<i64> = tx
                .prepare_cached(
                    "SELECT rowid FROM throttle_hits WHERE scope = ?1 AND key = ?2 AND at = ?3 LIMIT 1",
                )?
                .query_row(params![scope, key, at], |r| r.get(0))
                .optional()?;
            if let Some(row) = row {
                tx.prepare_cached("DELETE FROM throttle_hits WHERE rowid = ?1")?
                    .execute([row])?;
            }
            Ok(())
        })
        .await
    }

    async fn throttle_clear(&self, scope: &'static str, key: Vec<u8>) -> Result<()> {
        self.write(move |tx| {
            tx.prepare_cached("DELETE FROM throttle_hits WHERE scope = ?1 AND key = ?2")?
                .execute(params![scope, key])?;
            Ok(())
        })
        .await
    }

    // In short writer jobs ([`Sqlite::sweep`]). The newest row past `keep` is found on
    // a reader, and it goes with every older one.
    async fn prune_throttles(&self, before: f64, keep: u64) -> Result<usize> {
        let older_than = |cut: f64| {
            Arc::new(move |tx: &rusqlite::Transaction, limit: i64| {
                Ok(tx
                    .prepare_cached(
                        "DELETE FROM throttle_hits WHERE rowid IN (
                             SELECT rowid FROM throttle_hits WHERE at <= ?1 LIMIT ?2)",
                    )?
                    .execute(params![cut, limit])?)
            })
        };
        let mut gone = self.sweep(older_than(before)).await?;
        let keep = i64::try_from(keep).unwrap_or(i64::MAX);
        let cut: Option<f64> = self
            .run(move |c| {
                Ok(c.prepare_cached(
                    "SELECT at FROM throttle_hits ORDER BY at DESC LIMIT 1 OFFSET ?1",
                )?
                .query_row([keep], |r| r.get(0))
                .optional()?)
            })
            .await?;
        if let Some(cut) = cut {
            gone += self.sweep(older_than(cut)).await?;
        }
        Ok(gone)
    }
}
