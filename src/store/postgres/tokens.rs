//! Refresh tokens: rotation, grace-window replay and family revocation.
//!
//! A rotation or a revocation locks the owner's row (`FOR NO KEY UPDATE`) before the
//! token's: the order every writer keeps. So two hosts presenting one token at once queue
//! on it, and the second judges the token as the first left it (spent: a replay within
//! the grace window); and a password change, which locks the same row, never interleaves
//! with a rotation (no successor is issued alongside it that would outlive it). A login
//! stores its refresh token under the same lock, after checking the account is still
//! active at the credentials generation it verified the password against.

use async_trait::async_trait;

use super::Postgres;
use crate::store::Result;
use crate::store::purge::POSTGRES_PACE;
use crate::store::tokens::{Issue, NewRefresh, Rotation, TokenStore};

#[async_trait]
impl TokenStore for Postgres {
    // One transaction. The owner's row is locked first (`FOR NO KEY UPDATE`, as a
    // password change and a rotation lock it), so a change is wholly before the check
    // (which then fails: it is re-read as committed) or wholly after the insert.
    async fn insert_refresh(&self, token: NewRefresh, generation: i64, now: i64) -> Result<bool> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let stmt = tx
            .prepare_cached(
                "SELECT credentials_generation FROM users WHERE id = $1 AND is_active
                 FOR NO KEY UPDATE",
            )
            .await?;
        let current: Option<i64> = match tx.query_opt(&stmt, &[&token.user_id]).await? {
            Some(r) => Some(r.try_get(0)?),
            None => None,
        };
        if current != Some(generation) {
            return Ok(false);
        }
        // Forget tokens that can no longer be presented anyway; rows another transaction
        // holds are left for the next login.
        let stmt = tx
            .prepare_cached(
                "DELETE FROM refresh_tokens WHERE jti IN (
                     SELECT jti FROM refresh_tokens WHERE expires_at < $1
                     FOR UPDATE SKIP LOCKED)",
            )
            .await?;
        tx.execute(&stmt, &[&now]).await?;
        let stmt = tx
            .prepare_cached(
                "INSERT INTO refresh_tokens (jti, family, user_id, expires_at)
                 VALUES ($1, $1, $2, $3) ON CONFLICT (jti) DO NOTHING",
            )
            .await?;
        tx.execute(&stmt, &[&token.jti, &token.user_id, &token.expires_at])
            .await?;
        self.commit(tx).await?;
        Ok(true)
    }

    async fn rotate_refresh(
        &self,
        jti: String,
        generation: i64,
        now: f64,
        grace: f64,
        issue: Issue,
    ) -> Result<Rotation> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        // A token's owner never changes: read it, lock the owner, then the token.
        let owner = tx
            .query_opt("SELECT user_id FROM refresh_tokens WHERE jti = $1", &[&jti])
            .await?;
        let Some(owner) = owner else {
            return Ok(Rotation::Unknown);
        };
        let owner: i64 = owner.try_get(0)?;
        let account = tx
            .query_opt(
                "SELECT is_active, credentials_generation FROM users WHERE id = $1
                 FOR NO KEY UPDATE",
                &[&owner],
            )
            .await?;
        let (active, current): (bool, Option<i64>) = match account {
            Some(r) => (r.try_get(0)?, Some(r.try_get(1)?)),
            None => (false, None),
        };
        let row = tx
            .query_opt(
                "SELECT family, user_id, expires_at, spent_at, successor, revoked_at
                 FROM refresh_tokens WHERE jti = $1 FOR UPDATE",
                &[&jti],
            )
            .await?;
        let Some(row) = row else {
            return Ok(Rotation::Invalid);
        };
        let family: String = row.try_get(0)?;
        let user_id: i64 = row.try_get(1)?;
        let expires_at: i64 = row.try_get(2)?;
        let spent_at: Option<f64> = row.try_get(3)?;
        let successor: Option<String> = row.try_get(4)?;
        let revoked_at: Option<f64> = row.try_get(5)?;
        if revoked_at.is_some() || (expires_at as f64) < now {
            return Ok(Rotation::Invalid);
        }
        if !active {
            return Ok(Rotation::InactiveUser);
        }
        if current != Some(generation) {
            return Ok(Rotation::Invalid);
        }
        if let Some(spent_at) = spent_at {
            return Ok(match successor {
                Some(pair) if now - spent_at <= grace => Rotation::Replayed(pair),
                _ => {
                    tx.execute(
                        "UPDATE refresh_tokens SET revoked_at = $1
                         WHERE family = $2 AND revoked_at IS NULL",
                        &[&now, &family],
                    )
                    .await?;
                    self.commit(tx).await?;
                    Rotation::ReuseDetected
                }
            });
        }
        let (pair, next) = issue(user_id, generation);
        let stmt = tx
            .prepare_cached(
                "INSERT INTO refresh_tokens (jti, family, user_id, expires_at)
                 VALUES ($1, $2, $3, $4)",
            )
            .await?;
        tx.execute(
            &stmt,
            &[&next.jti, &family, &next.user_id, &next.expires_at],
        )
        .await?;
        let stmt = tx
            .prepare_cached(
                "UPDATE refresh_tokens SET spent_at = $1, successor = $2 WHERE jti = $3",
            )
            .await?;
        tx.execute(&stmt, &[&now, &pair, &jti]).await?;
        self.commit(tx).await?;
        Ok(Rotation::Rotated(pair))
    }

    // Rows another transaction holds are left for the next sweep.
    async fn forget_successors(&self, before: f64) -> Result<usize> {
        let c = self.client().await?;
        let any: bool = c
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM refresh_tokens
                 WHERE successor IS NOT NULL AND spent_at < $1)",
                &[&before],
            )
            .await?
            .try_get(0)?;
        if !any {
            return Ok(0);
        }
        let stmt = c
            .prepare_cached(
                "UPDATE refresh_tokens SET successor = NULL WHERE jti IN (
                     SELECT jti FROM refresh_tokens
                     WHERE successor IS NOT NULL AND spent_at < $1
                     LIMIT $2 FOR UPDATE SKIP LOCKED)",
            )
            .await?;
        // A bounded number per statement, each its own short transaction.
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

    async fn revoke_refresh_family(&self, jti: String, now: f64) -> Result<bool> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let row = tx
            .query_opt(
                "SELECT family, user_id FROM refresh_tokens WHERE jti = $1",
                &[&jti],
            )
            .await?;
        let Some(row) = row else {
            return Ok(false);
        };
        let family: String = row.try_get(0)?;
        let user_id: i64 = row.try_get(1)?;
        tx.execute(
            "SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE",
            &[&user_id],
        )
        .await?;
        tx.execute(
            "UPDATE refresh_tokens SET revoked_at = $1 WHERE family = $2 AND revoked_at IS NULL",
            &[&now, &family],
        )
        .await?;
        self.commit(tx).await?;
        Ok(true)
    }
}
