//! Accounts.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, Row, params};

use super::projects::account::end_projects;
use super::{Sqlite, on_unique};
use crate::clock::now_timestamp;
use crate::model::{Event, User};
use crate::store::Result;
use crate::store::purge::TOMBSTONE_SQL;
use crate::store::users::{ACCOUNT_COLUMNS, Account, AccountStore, AccountUpdate};

fn account(r: &Row) -> rusqlite::Result<Account> {
    Ok(Account {
        user: User {
            id: r.get(0)?,
            username: r.get(1)?,
            email: r.get(2)?,
        },
        password_hash: r.get(3)?,
        is_active: r.get(4)?,
        credentials_generation: r.get(5)?,
    })
}

#[async_trait]
impl AccountStore for Sqlite {
    async fn create_user(
        &self,
        username: String,
        email: String,
        password_hash: String,
    ) -> Result<User> {
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO users (username, email, password_hash, created_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![username, email, password_hash, now_timestamp()],
            )
            .map_err(|e| on_unique(e, "users", &["username", "email"]))?;
            Ok(User {
                id: tx.last_insert_rowid(),
                username,
                email,
            })
        })
        .await
    }

    async fn account_by_username(&self, username: String) -> Result<Option<Account>> {
        self.run(move |c| {
            let sql = format!(
                "SELECT {ACCOUNT_COLUMNS} FROM users WHERE username = ?1 AND deleted_at IS NULL"
            );
            Ok(c.prepare_cached(&sql)?
                .query_row([username], account)
                .optional()?)
        })
        .await
    }

    async fn account_by_id(&self, id: i64) -> Result<Option<Account>> {
        self.run(move |c| {
            let sql =
                format!("SELECT {ACCOUNT_COLUMNS} FROM users WHERE id = ?1 AND deleted_at IS NULL");
            Ok(c.prepare_cached(&sql)?
                .query_row([id], account)
                .optional()?)
        })
        .await
    }

    async fn taken_account_fields(
        &self,
        username: Option<String>,
        email: Option<String>,
        except: Option<i64>,
    ) -> Result<Vec<&'static str>> {
        self.run(move |c| {
            let except = except.unwrap_or(0);
            let mut taken = Vec::new();
            for (field, value, sql) in [
                (
                    "username",
                    username,
                    "SELECT EXISTS (SELECT 1 FROM users WHERE username = ?1 AND id != ?2)",
                ),
                (
                    "email",
                    email,
                    "SELECT EXISTS (SELECT 1 FROM users WHERE email = ?1 AND id != ?2)",
                ),
            ] {
                let Some(value) = value else { continue };
                let exists: bool = c
                    .prepare_cached(sql)?
                    .query_row(params![value, except], |r| r.get(0))?;
                if exists {
                    taken.push(field);
                }
            }
            Ok(taken)
        })
        .await
    }

    // A new password ends the older credentials with [`super::admin::end_credentials`].
    async fn update_account(&self, user_id: i64, update: AccountUpdate, now: f64) -> Result<User> {
        self.write(move |tx| {
            let user = tx
                .query_row(
                    "UPDATE users SET username = coalesce(?1, username),
                                      email = coalesce(?2, email),
                                      password_hash = coalesce(?3, password_hash)
                     WHERE id = ?4 AND deleted_at IS NULL RETURNING id, username, email",
                    params![update.username, update.email, update.password_hash, user_id],
                    |r| {
                        Ok(User {
                            id: r.get(0)?,
                            username: r.get(1)?,
                            email: r.get(2)?,
                        })
                    },
                )
                .map_err(|e| on_unique(e, "users", &["username", "email"]))?;
            // Everyone sharing a project with the user shows their username in lists.
            if update.username.is_some() {
                tx.prepare_cached(
                    "UPDATE users SET list_epoch = list_epoch + 1
                     WHERE id <> ?1 AND id IN (SELECT o.user_id FROM project_members m
                     JOIN project_members o ON o.project_id = m.project_id WHERE m.user_id = ?1)",
                )?
                .execute([user_id])?;
            }
            if update.password_hash.is_some() {
                super::admin::end_credentials(tx, user_id, now)?;
            }
            Ok(user)
        })
        .await
    }

    async fn upgrade_password_hash(
        &self,
        user_id: i64,
        old_hash: String,
        new_hash: String,
    ) -> Result<bool> {
        self.write(move |tx| {
            Ok(tx
                .prepare_cached(
                    "UPDATE users SET password_hash = ?1
                     WHERE id = ?2 AND password_hash = ?3 AND deleted_at IS NULL",
                )?
                .execute(params![new_hash, user_id, old_hash])?
                == 1)
        })
        .await
    }

    // One writer job; the purge runs in jobs of their own.
    async fn delete_account(&self, user_id: i64) -> Result<Option<Vec<Event>>> {
        let now = crate::clock::now_secs_f64();
        self.write(move |tx| {
            let live: bool = tx
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM users WHERE id = ?1 AND deleted_at IS NULL)",
                )?
                .query_row([user_id], |r| r.get(0))?;
            if !live {
                return Ok(None);
            }
            let events = end_projects(tx, user_id, &now_timestamp())?;
            let sql = format!(
                "UPDATE users SET username = {TOMBSTONE_SQL}, email = {TOMBSTONE_SQL},
                                  password_hash = '!', is_active = 0, deleted_at = ?2,
                                  credentials_generation = credentials_generation + 1
                 WHERE id = ?1 AND deleted_at IS NULL"
            );
            tx.prepare_cached(&sql)?.execute(params![user_id, now])?;
            Ok(Some(events))
        })
        .await
    }
}
