//! Personal API tokens: stored as SHA-256 hashes, looked up by hash.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, Row, params};

use super::Sqlite;
use crate::clock::now_timestamp;
use crate::model::User;
use crate::store::Result;
use crate::store::api_tokens::{
    API_TOKEN_COLUMNS, ApiTokenRow, ApiTokenStore, NewApiToken, TokenOwner,
};

fn row(r: &Row) -> rusqlite::Result<ApiTokenRow> {
    let scopes: String = r.get(3)?;
    Ok(ApiTokenRow {
        id: r.get(0)?,
        name: r.get(1)?,
        prefix: r.get(2)?,
        scopes: scopes.split_whitespace().map(str::to_owned).collect(),
        created_at: r.get(4)?,
        expires_at: r.get(5)?,
        last_used_at: r.get(6)?,
    })
}

#[async_trait]
impl ApiTokenStore for Sqlite {
    async fn create_api_token(
        &self,
        user_id: i64,
        new: NewApiToken,
        generation: Option<i64>,
    ) -> Result<Option<ApiTokenRow>> {
        self.write(move |tx| {
            if let Some(generation) = generation {
                let current = tx
                    .prepare_cached(
                        "SELECT credentials_generation FROM users WHERE id = ?1 AND is_active",
                    )?
                    .query_row([user_id], |r| r.get::<_, i64>(0))
                    .optional()?;
                if current != Some(generation) {
                    return Ok(None);
                }
            }
            let created_at = now_timestamp();
            let (expires_at, expires_unix) = new.expires.clone().unzip();
            tx.execute(
                "INSERT INTO api_tokens (user_id, name, token_hash, prefix, scopes, created_at,
                                         expires_at, expires_unix)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    user_id,
                    new.name,
                    new.token_hash,
                    new.prefix,
                    new.scopes.join(" "),
                    created_at,
                    expires_at,
                    expires_unix
                ],
            )?;
            Ok(Some(ApiTokenRow {
                id: tx.last_insert_rowid(),
                name: new.name,
                prefix: new.prefix,
                scopes: new.scopes,
                created_at,
                expires_at,
                last_used_at: None,
            }))
        })
        .await
    }

    async fn list_api_tokens(&self, user_id: i64) -> Result<Vec<ApiTokenRow>> {
        self.run(move |c| {
            let sql = format!(
                "SELECT {API_TOKEN_COLUMNS} FROM api_tokens WHERE user_id = ?1 AND revoked_at IS NULL
                 ORDER BY id DESC"
            );
            let rows = c
                .prepare_cached(&sql)?
                .query_map([user_id], row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .await
    }

    async fn revoke_api_token(&self, user_id: i64, id: i64) -> Result<bool> {
        self.write(move |tx| {
            let n = tx.execute(
                "UPDATE api_tokens SET revoked_at = ?1
                 WHERE id = ?2 AND user_id = ?3 AND revoked_at IS NULL",
                params![now_timestamp(), id, user_id],
            )?;
            Ok(n == 1)
        })
        .await
    }

    async fn api_token_owner(
        &self,
        token_hash: String,
        now: i64,
    ) -> Result<Option<(TokenOwner, bool)>> {
        self.run(move |c| {
            let found = c
                .prepare_cached(
                    "SELECT t.id, t.scopes, t.expires_unix, u.id, u.username, u.email,
                            t.last_used_at IS NULL OR t.last_used_at < ?2
                     FROM api_tokens t JOIN users u ON u.id = t.user_id
                     WHERE t.token_hash = ?1 AND t.revoked_at IS NULL AND u.is_active = 1
                       AND (t.expires_unix IS NULL OR t.expires_unix > ?3)",
                )?
                .query_row(params![token_hash, minute_ago(), now], |r| {
                    let scopes: String = r.get(1)?;
                    Ok((
                        TokenOwner {
                            token_id: r.get(0)?,
                            scopes: scopes.split_whitespace().map(str::to_owned).collect(),
                            expires_unix: r.get(2)?,
                            user: User {
                                id: r.get(3)?,
                                username: r.get(4)?,
                                email: r.get(5)?,
                            },
                        },
                        r.get::<_, bool>(6)?,
                    ))
                })
                .optional()?;
            Ok(found)
        })
        .await
    }

    async fn touch_api_token(&self, id: i64) -> Result<()> {
        self.write(move |tx| {
            tx.prepare_cached("UPDATE api_tokens SET last_used_at = ?1 WHERE id = ?2")?
                .execute(params![now_timestamp(), id])?;
            Ok(())
        })
        .await
    }

    async fn api_token_live(&self, id: i64, now: i64) -> Result<bool> {
        self.run(move |c| {
            Ok(c.prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM api_tokens t JOIN users u ON u.id = t.user_id
                 WHERE t.id = ?1 AND t.revoked_at IS NULL AND u.is_active = 1
                   AND (t.expires_unix IS NULL OR t.expires_unix > ?2))",
            )?
            .query_row(params![id, now], |r| r.get(0))?)
        })
        .await
    }
}

fn minute_ago() -> String {
    crate::clock::timestamp_ago(std::time::Duration::from_secs(60))
}
