//! Server-wide settings kept in the database: the generated JWT secret and the
//! database's identity.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::Sqlite;
use crate::store::Result;
use crate::store::settings::{MakeSetting, SettingStore};

#[async_trait]
impl SettingStore for Sqlite {
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

    async fn database_id(&self) -> Result<String> {
        self.setting_or_insert(
            "database_id",
            Box::new(|| hex::encode(rand::random::<[u8; 16]>())),
        )
        .await
    }
}
