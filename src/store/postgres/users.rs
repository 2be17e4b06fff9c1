//! Accounts.

use async_trait::async_trait;
use tokio_postgres::Row;

use super::projects::account::{end_projects, lock_for_deletion};
use super::{Postgres, on_unique};
use crate::clock::now_timestamp;
use crate::model::{Event, User};
use crate::store::purge::TOMBSTONE_SQL;
use crate::store::users::{ACCOUNT_COLUMNS, Account, AccountStore, AccountUpdate};
use crate::store::{Result, StoreError};

/// The unique constraints of `users` and the fields they guard.
pub(super) const USER_UNIQUE: &[(&str, &str)] = &[
    ("users_username_key", "username"),
    ("users_email_key", "email"),
];

fn account(r: &Row) -> Result<Account> {
    Ok(Account {
        user: User {
            id: r.try_get(0)?,
            username: r.try_get(1)?,
            email: r.try_get(2)?,
        },
        password_hash: r.try_get(3)?,
        is_active: r.try_get(4)?,
        credentials_generation: r.try_get(5)?,
    })
}

#[async_trait]
impl AccountStore for Postgres {
    async fn create_user(
        &self,
        username: String,
        email: String,
        password_hash: String,
    ) -> Result<User> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(
                "INSERT INTO users (username, email, password_hash, created_at)
                 VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .await?;
        let row = c
            .query_one(
                &stmt,
                &[&username, &email, &password_hash, &now_timestamp()],
            )
            .await
            .map_err(|e| on_unique(e, USER_UNIQUE))?;
        self.committed();
        Ok(User {
            id: row.try_get(0)?,
            username,
            email,
        })
    }

    async fn account_by_username(&self, username: String) -> Result<Option<Account>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&format!(
                "SELECT {ACCOUNT_COLUMNS} FROM users WHERE username = $1 AND deleted_at IS NULL"
            ))
            .await?;
        c.query_opt(&stmt, &[&username])
            .await?
            .as_ref()
            .map(account)
            .transpose()
    }

    async fn account_by_id(&self, id: i64) -> Result<Option<Account>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&format!(
                "SELECT {ACCOUNT_COLUMNS} FROM users WHERE id = $1 AND deleted_at IS NULL"
            ))
            .await?;
        c.query_opt(&stmt, &[&id])
            .await?
            .as_ref()
            .map(account)
            .transpose()
    }

    // Emails compare as the unique index on `lower(email)` does.
    async fn taken_account_fields(
        &self,
        username: Option<String>,
        email: Option<String>,
        except: Option<i64>,
    ) -> Result<Vec<&'static str>> {
        let c = self.client().await?;
        let except = except.unwrap_or(0);
        let mut taken = Vec::new();
        for (field, value, sql) in [
            (
                "username",
                username,
                "SELECT EXISTS (SELECT 1 FROM users WHERE username = $1 AND id <> $2)",
            ),
            (
                "email",
                email,
                "SELECT EXISTS (SELECT 1 FROM users
                 WHERE lower(email) = lower($1::text COLLATE \"C\") AND id <> $2)",
            ),
        ] {
            let Some(value) = value else { continue };
            let stmt = c.prepare_cached(sql).await?;
            let exists: bool = c.query_one(&stmt, &[&value, &except]).await?.try_get(0)?;
            if exists {
                taken.push(field);
            }
        }
        Ok(taken)
    }

    // A new password ends the older credentials with [`super::admin::end_credentials`].
    // The `UPDATE` is the transaction's first statement: it locks the user row first.
    // A new username shows in the lists of everyone who shares a project with the user:
    // their rows are locked first, with the user's own, by id (the order task writes take),
    // and their `list_epoch` moves in this transaction.
    async fn update_account(&self, user_id: i64, update: AccountUpdate, now: f64) -> Result<User> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        if update.username.is_some() {
            let stmt = tx
                .prepare_cached(
                    "SELECT id FROM users WHERE id = $1 OR id IN (SELECT o.user_id
                     FROM project_members m JOIN project_members o ON o.project_id = m.project_id
                     WHERE m.user_id = $1) ORDER BY id FOR NO KEY UPDATE",
                )
                .await?;
            tx.query(&stmt, &[&user_id]).await?;
        }
        let stmt = tx
            .prepare_cached(
                "UPDATE users SET username = coalesce($1, username),
                                  email = coalesce($2, email),
                                  password_hash = coalesce($3, password_hash)
                 WHERE id = $4 AND deleted_at IS NULL RETURNING id, username, email",
            )
            .await?;
        let row = tx
            .query_opt(
                &stmt,
                &[
                    &update.username,
                    &update.email,
                    &update.password_hash,
                    &user_id,
                ],
            )
            .await
            .map_err(|e| on_unique(e, USER_UNIQUE))?
            .ok_or(StoreError::NotFound)?;
        let user = User {
            id: row.try_get(0)?,
            username: row.try_get(1)?,
            email: row.try_get(2)?,
        };
        if update.username.is_some() {
            let stmt = tx.prepare_cached(CO_MEMBERS_EPOCH).await?;
            tx.execute(&stmt, &[&user_id]).await?;
        }
        if update.password_hash.is_some() {
            super::admin::end_credentials(&tx, user_id, now).await?;
        }
        self.commit(tx).await?;
        Ok(user)
    }

    // One statement: the row lock orders it with a concurrent password change, and the
    // loser's condition no longer holds.
    async fn upgrade_password_hash(
        &self,
        user_id: i64,
        old_hash: String,
        new_hash: String,
    ) -> Result<bool> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(
                "UPDATE users SET password_hash = $1
                 WHERE id = $2 AND password_hash = $3 AND deleted_at IS NULL",
            )
            .await?;
        let n = c.execute(&stmt, &[&new_hash, &user_id, &old_hash]).await?;
        self.committed();
        Ok(n == 1)
    }

    // One transaction: it locks the projects the account owns or touches, then the users
    // it writes events for and the account (see `projects::account`); the purge runs in
    // transactions of its own.
    async fn delete_account(&self, user_id: i64) -> Result<Option<Vec<Event>>> {
        let now = crate::clock::now_secs_f64();
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        if !lock_for_deletion(&tx, user_id).await? {
            tx.rollback().await?;
            return Ok(None);
        }
        let events = end_projects(&tx, user_id, &now_timestamp()).await?;
        let stmt = tx
            .prepare_cached(&format!(
                "UPDATE users SET username = {TOMBSTONE_SQL}, email = {TOMBSTONE_SQL},
                                  password_hash = '!', is_active = FALSE, deleted_at = $2,
                                  credentials_generation = credentials_generation + 1
                 WHERE id = $1 AND deleted_at IS NULL"
            ))
            .await?;
        tx.execute(&stmt, &[&user_id, &now]).await?;
        self.commit(tx).await?;
        Ok(Some(events))
    }
}

/// Moves the `list_epoch` of everyone who shares a project with user `$1` (not the user:
/// their own list is kept under their new name): their lists show the user's username.
const CO_MEMBERS_EPOCH: &str = "UPDATE users SET list_epoch = list_epoch + 1
     WHERE id <> $1 AND id IN (SELECT o.user_id FROM project_members m
     JOIN project_members o ON o.project_id = m.project_id WHERE m.user_id = $1)";
