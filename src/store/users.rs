//! Accounts.

use rusqlite::{OptionalExtension, Row, params};

use super::{Result, Store, on_unique};
use crate::clock::now_timestamp;
use crate::model::User;

/// A user with what login needs and the API never shows.
#[derive(Clone, Debug)]
pub struct Account {
    pub user: User,
    pub password_hash: String,
    pub is_active: bool,
    /// Access tokens issued (`iat`, unix seconds) before this are refused; tokens issued
    /// from now on must carry an `iat` of at least this.
    pub credentials_after: i64,
}

const ACCOUNT_COLUMNS: &str = "id, username, email, password_hash, is_active, credentials_after";

fn account(r: &Row) -> rusqlite::Result<Account> {
    Ok(Account {
        user: User {
            id: r.get(0)?,
            username: r.get(1)?,
            email: r.get(2)?,
        },
        password_hash: r.get(3)?,
        is_active: r.get(4)?,
        credentials_after: r.get(5)?,
    })
}

impl Store {
    /// Creates an account. A taken username or email is `Conflict` naming the field
    /// (callers check `taken_account_fields` first for complete messages; this catches races).
    pub async fn create_user(
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

    pub async fn account_by_username(&self, username: String) -> Result<Option<Account>> {
        self.run(move |c| {
            let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM users WHERE username = ?1");
            Ok(c.prepare_cached(&sql)?
                .query_row([username], account)
                .optional()?)
        })
        .await
    }

    pub async fn account_by_id(&self, id: i64) -> Result<Option<Account>> {
        self.run(move |c| {
            let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM users WHERE id = ?1");
            Ok(c.prepare_cached(&sql)?
                .query_row([id], account)
                .optional()?)
        })
        .await
    }
}

impl Store {
    /// Which of `username` and `email` (when given) another account already uses, in
    /// field order. The insert checks again; this is for complete error messages.
    pub async fn taken_account_fields(
        &self,
        username: Option<String>,
        email: Option<String>,
    ) -> Result<Vec<&'static str>> {
        self.run(move |c| {
            let mut taken = Vec::new();
            if let Some(u) = username {
                let exists: bool = c
                    .prepare_cached("SELECT EXISTS (SELECT 1 FROM users WHERE username = ?1)")?
                    .query_row([u], |r| r.get(0))?;
                if exists {
                    taken.push("username");
                }
            }
            if let Some(e) = email {
                let exists: bool = c
                    .prepare_cached("SELECT EXISTS (SELECT 1 FROM users WHERE email = ?1)")?
                    .query_row([e], |r| r.get(0))?;
                if exists {
                    taken.push("email");
                }
            }
            Ok(taken)
        })
        .await
    }
}
