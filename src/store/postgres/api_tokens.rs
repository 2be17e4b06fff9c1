//! Personal API tokens: stored as SHA-256 hashes, looked up by hash.

use async_trait::async_trait;
use tokio_postgres::Row;

use super::Postgres;
use crate::clock::now_timestamp;
use crate::model::User;
use crate::store::Result;
use crate::store::api_tokens::{
    API_TOKEN_COLUMNS, ApiTokenRow, ApiTokenStore, NewApiToken, TokenOwner,
};

fn row(r: &Row) -> Result<ApiTokenRow> {
    let scopes: &str = r.try_get(3)?;
    Ok(ApiTokenRow {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        prefix: r.try_get(2)?,
        scopes: scopes.split_whitespace().map(str::to_owned).collect(),
        created_at: r.try_get(4)?,
        expires_at: r.try_get(5)?,
        last_used_at: r.try_get(6)?,
    })
}

#[async_trait]
impl ApiTokenStore for Postgres {
    // The generation is checked under the owner's row lock (`FOR NO KEY UPDATE`, which a
    // password change takes too) in the same transaction.
    async fn create_api_token(
        &self,
        user_id: i64,
        new: NewApiToken,
        generation: Option<i64>,
    ) -> Result<Option<ApiTokenRow>> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        if let Some(generation) = generation {
            let current: Option<i64> = match tx
                .query_opt(
                    "SELECT credentials_generation FROM users WHERE id = $1 AND is_active
                     FOR NO KEY UPDATE",
                    &[&user_id],
                )
                .await?
            {
                Some(r) => Some(r.try_get(0)?),
                None => None,
            };
            if current != Some(generation) {
                return Ok(None);
            }
        }
        let created_at = now_timestamp();
        let (expires_at, expires_unix) = new.expires.clone().unzip();
        let id: i64 = tx
            .query_one(
                "INSERT INTO api_tokens (user_id, name, token_hash, prefix, scopes, created_at,
                                         expires_at, expires_unix)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                &[
                    &user_id,
                    &new.name,
                    &new.token_hash,
                    &new.prefix,
                    &new.scopes.join(" "),
                    &created_at,
                    &expires_at,
                    &expires_unix,
                ],
            )
            .await?
            .try_get(0)?;
        self.commit(tx).await?;
        Ok(Some(ApiTokenRow {
            id,
            name: new.name,
            prefix: new.prefix,
            scopes: new.scopes,
            created_at,
            expires_at,
            last_used_at: None,
        }))
    }

    async fn list_api_tokens(&self, user_id: i64) -> Result<Vec<ApiTokenRow>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&format!(
                "SELECT {API_TOKEN_COLUMNS} FROM api_tokens WHERE user_id = $1 AND revoked_at IS NULL
                 ORDER BY id DESC"
            ))
            .await?;
        c.query(&stmt, &[&user_id]).await?.iter().map(row).collect()
    }

    async fn revoke_api_token(&self, user_id: i64, id: i64) -> Result<bool> {
        let c = self.client().await?;
        let n = c
            .execute(
                "UPDATE api_tokens SET revoked_at = $1
                 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL",
                &[&now_timestamp(), &id, &user_id],
            )
            .await?;
        self.committed();
        Ok(n == 1)
    }

    async fn api_token_owner(
        &self,
        token_hash: String,
        now: i64,
    ) -> Result<Option<(TokenOwner, bool)>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(
                "SELECT t.id, t.scopes, t.expires_unix, u.id, u.username, u.email,
                        t.last_used_at IS NULL OR t.last_used_at < $2
                 FROM api_tokens t JOIN users u ON u.id = t.user_id
                 WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.is_active
                   AND (t.expires_unix IS NULL OR t.expires_unix > $3)",
            )
            .await?;
        let Some(r) = c
            .query_opt(&stmt, &[&token_hash, &minute_ago(), &now])
            .await?
        else {
            return Ok(None);
        };
        let scopes: &str = r.try_get(1)?;
        Ok(Some((
            TokenOwner {
                token_id: r.try_get(0)?,
                scopes: scopes.split_whitespace().map(str::to_owned).collect(),
                expires_unix: r.try_get(2)?,
                user: User {
                    id: r.try_get(3)?,
                    username: r.try_get(4)?,
                    email: r.try_get(5)?,
                },
            },
            r.try_get(6)?,
        )))
    }

    async fn touch_api_token(&self, id: i64) -> Result<()> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
            .await?;
        c.execute(&stmt, &[&now_timestamp(), &id]).await?;
        self.committed();
        Ok(())
    }

    async fn api_token_live(&self, id: i64, now: i64) -> Result<bool> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM api_tokens t JOIN users u ON u.id = t.user_id
                 WHERE t.id = $1 AND t.revoked_at IS NULL AND u.is_active
                   AND (t.expires_unix IS NULL OR t.expires_unix > $2))",
            )
            .await?;
        Ok(c.query_one(&stmt, &[&id, &now]).await?.try_get(0)?)
    }
}

fn minute_ago() -> String {
    crate::clock::timestamp_ago(std::time::Duration::from_secs(60))
}
