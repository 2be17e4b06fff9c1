//! What the operator commands (`tasklane user …`, `token …`, `migrate`) ask of the
//! database. They run next to live servers on the same database: every write is one
//! short transaction that locks the user row first, like the server's.

use async_trait::async_trait;
use deadpool_postgres::Transaction;

use super::{MIGRATIONS, Postgres};
use crate::store::admin::{AccountChange, AccountSummary, AdminStore, Ended};
use crate::store::{Result, StoreError};

/// The schema version this binary migrates PostgreSQL databases to.
pub fn latest_schema_version() -> i64 {
    MIGRATIONS.len() as i64
}

#[async_trait]
impl AdminStore for Postgres {
    fn latest_schema_version(&self) -> i64 {
        latest_schema_version()
    }

    async fn list_accounts(&self) -> Result<Vec<AccountSummary>> {
        let c = self.client().await?;
        c.query(
            "SELECT id, username, email, is_active FROM users
             WHERE deleted_at IS NULL ORDER BY id",
            &[],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(AccountSummary {
                id: r.try_get(0)?,
                username: r.try_get(1)?,
                email: r.try_get(2)?,
                is_active: r.try_get(3)?,
            })
        })
        .collect()
    }

    async fn any_account(&self) -> Result<bool> {
        let c = self.client().await?;
        Ok(c.query_one(
            "SELECT EXISTS (SELECT 1 FROM users WHERE deleted_at IS NULL)",
            &[],
        )
        .await?
        .try_get(0)?)
    }

    // The rows of `tasklane_migrations`.
    async fn schema_version(&self) -> Result<i64> {
        let c = self.client().await?;
        Ok(c.query_one("SELECT count(*) FROM tasklane_migrations", &[])
            .await?
            .try_get(0)?)
    }

    // See [`end_credentials`].
    async fn set_password_hash(
        &self,
        username: String,
        password_hash: String,
        now: f64,
    ) -> Result<AccountChange> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let user_id: i64 = tx
            .query_opt(
                "UPDATE users SET password_hash = $1
                 WHERE username = $2 AND deleted_at IS NULL RETURNING id",
                &[&password_hash, &username],
            )
            .await?
            .ok_or(StoreError::NotFound)?
            .try_get(0)?;
        let ended = end_credentials(&tx, user_id, now).await?;
        self.commit(tx).await?;
        Ok(AccountChange {
            user_id,
            changed: true,
            revoked_tokens: ended.refresh,
            revoked_api_tokens: ended.api,
        })
    }

    // See [`end_credentials`].
    async fn set_account_active(
        &self,
        username: String,
        active: bool,
        now: f64,
    ) -> Result<AccountChange> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let row = tx
            .query_opt(
                "SELECT id, is_active FROM users WHERE username = $1 AND deleted_at IS NULL
                 FOR NO KEY UPDATE",
                &[&username],
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        let (user_id, was_active): (i64, bool) = (row.try_get(0)?, row.try_get(1)?);
        if was_active != active {
            tx.execute(
                "UPDATE users SET is_active = $1 WHERE id = $2",
                &[&active, &user_id],
            )
            .await?;
        }
        let ended = if active {
            Ended::default()
        } else {
            end_credentials(&tx, user_id, now).await?
        };
        self.commit(tx).await?;
        Ok(AccountChange {
            user_id,
            changed: was_active != active,
            revoked_tokens: ended.refresh,
            revoked_api_tokens: ended.api,
        })
    }
}

/// Ends every credential of `user_id` issued up to now, inside the caller's transaction
/// (which has locked the user row): revokes its live refresh tokens and personal API
/// tokens, and moves its credentials generation on (see SQLite's `end_credentials`, which
/// this mirrors).
pub(super) async fn end_credentials(tx: &Transaction<'_>, user_id: i64, now: f64) -> Result<Ended> {
    let refresh = tx
        .execute(
            "UPDATE refresh_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
            &[&now, &user_id],
        )
        .await?;
    let api = tx
        .execute(
            "UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
            &[&crate::clock::now_timestamp(), &user_id],
        )
        .await?;
    tx.execute(
        "UPDATE users SET credentials_generation = credentials_generation + 1 WHERE id = $1",
        &[&user_id],
    )
    .await?;
    Ok(Ended {
        refresh: usize::try_from(refresh).unwrap_or(usize::MAX),
        api: usize::try_from(api).unwrap_or(usize::MAX),
    })
}
