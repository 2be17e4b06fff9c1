//! Server-wide settings kept in the database: the generated JWT secret and the
//! database's identity.

use async_trait::async_trait;

use rusqlite::{OptionalExtension, params};

use super::Sqlite;
use crate::store::Result;
use crate::store::settings::{MakeSetting, SettingStore};

#[async_trait]
impl SettingStore for Sqlite {
    // Returns the value stored under `key`, first storing `make()` if there is none.
    // Safe against several processes starting at once: the first insert wins.
    async fn setting_or_insert(&self, key: &'static str, make: MakeSetting) -> Result<String> {
        self.write(move |tx| {
            let existing: Option<String> = tx
                .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                    r.get(0)
                })
                .optional()?;
            if let Some(v) = existing {
                return Ok(v);
            }
            let value = make();
            tx.execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2)",
                params![key, value],
            )?;
            Ok(value)
        })
        .await
    }

    // The value of setting `key`, if set.
    async fn setting(&self, key: &'static str) -> Result<Option<String>> {
        self.run(move |c| {
            Ok(
                c.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                    r.get(0)
                })
                .optional()?,
            )
        })
        .await
    }

    // This database's identity: 32 random hex characters, made the first time a server
    // starts on it and kept. Every process sharing the file sees the same id; another
    // deployment's database has another one (unless it was restored from a copy of this).
    async fn database_id(&self) -> Result<String> {
        self.setting_or_insert(
            "database_id",
            Box::new(|| hex::encode(rand::random::<[u8; 16]>())),
        )
        .await
    }
}
