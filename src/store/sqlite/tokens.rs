//! Refresh tokens: rotation, grace-window replay and family revocation.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::Sqlite;
use crate::store::Result;
use crate::store::tokens::{Issue, NewRefresh, Rotation, TokenStore};

#[async_trait]
impl TokenStore for Sqlite {
    // The check and the insert are one job of the single writer.
    async fn insert_refresh(&self, token: NewRefresh, generation: i64, now: i64) -> Result<bool> {
        self.write(move |tx| {
            let current = tx
                .prepare_cached(
                    "SELECT credentials_generation FROM users WHERE id = ?1 AND is_active",
                )?
                .query_row([token.user_id], |r| r.get::<_, i64>(0))
                .optional()?;
            if current != Some(generation) {
                return Ok(false);
            }
            // Forget tokens that can no longer be presented anyway.
            tx.prepare_cached("DELETE FROM refresh_tokens WHERE expires_at < ?1")?
                .execute([now])?;
            tx.prepare_cached(
                "INSERT INTO refresh_tokens (jti, family, user_id, expires_at)
                 VALUES (?1, ?1, ?2, ?3) ON CONFLICT (jti) DO NOTHING",
            )?
            .execute(params![token.jti, token.user_id, token.expires_at])?;
            Ok(true)
        })
        .await
    }

    async fn rotate_refresh(
        &self,
        jti: String,
        generation: i64,
        now: f64,
        grace: f64,
        issue: Issue,
    ) -> Result<Rotation> {
        self.write(move |tx| {
            let row = tx
                .prepare_cached(
                    "SELECT r.family, r.user_id, r.expires_at, r.spent_at, r.successor, r.revoked_at,
                            IFNULL(u.is_active, 0), u.credentials_generation
                     FROM refresh_tokens r LEFT JOIN users u ON u.id = r.user_id
                     WHERE r.jti = ?1",
                )?
                .query_row([&jti], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, Option<f64>>(3)?,
                        r.get::<_, Option<String>>(4)?,
                        r.get::<_, Option<f64>>(5)?,
                        r.get::<_, bool>(6)?,
                        r.get::<_, Option<i64>>(7)?,
                    ))
                })
                .optional()?;
            let Some((family, user_id, expires_at, spent_at, successor, revoked_at, active, current)) =
                row
            else {
                return Ok(Rotation::Unknown);
            };
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
                        tx.prepare_cached(
                            "UPDATE refresh_tokens SET revoked_at = ?1
                             WHERE family = ?2 AND revoked_at IS NULL",
                        )?
                        .execute(params![now, family])?;
                        Rotation::ReuseDetected
                    }
                });
            }
            let (pair, next) = issue(user_id, generation);
            tx.prepare_cached(
                "INSERT INTO refresh_tokens (jti, family, user_id, expires_at) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![next.jti, family, next.user_id, next.expires_at])?;
            tx.prepare_cached(
                "UPDATE refresh_tokens SET spent_at = ?1, successor = ?2 WHERE jti = ?3",
            )?
            .execute(params![now, pair, jti])?;
            Ok(Rotation::Rotated(pair))
        })
        .await
    }

    // The cheap read first takes no write lock.
    async fn forget_successors(&self, before: f64) -> Result<usize> {
        let any = self
            .run(move |c| {
                Ok(c.prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM refresh_tokens
                     WHERE successor IS NOT NULL AND spent_at < ?1)",
                )?
                .query_row([before], |r| r.get::<_, bool>(0))?)
            })
            .await?;
        if !any {
            return Ok(0);
        }
        self.sweep(std::sync::Arc::new(
            move |tx: &rusqlite::Transaction, limit: i64| {
                Ok(tx
                    .prepare_cached(
                        "UPDATE refresh_tokens SET successor = NULL WHERE jti IN (
                             SELECT jti FROM refresh_tokens
                             WHERE successor IS NOT NULL AND spent_at < ?1 LIMIT ?2)",
                    )?
                    .execute(params![before, limit])?)
            },
        ))
        .await
    }

    async fn revoke_refresh_family(&self, jti: String, now: f64) -> Result<bool> {
        self.write(move |tx| {
            let family: Option<String> = tx
                .query_row(
                    "SELECT family FROM refresh_tokens WHERE jti = ?1",
                    [&jti],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(family) = family else {
                return Ok(false);
            };
            tx.execute(
                "UPDATE refresh_tokens SET revoked_at = ?1 WHERE family = ?2 AND revoked_at IS NULL",
                params![now, family],
            )?;
            Ok(true)
        })
        .await
    }
}
