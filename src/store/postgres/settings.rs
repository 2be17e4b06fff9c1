//! Server-wide settings kept in the database: the generated JWT secret and the
//! database's identity.

use async_trait::async_trait;

use super::Postgres;
use crate::store::Result;
use crate::store::settings::{MakeSetting, SettingStore};

#[async_trait]
impl SettingStore for Postgres {
    // `ON CONFLICT DO NOTHING` waits for a concurrent insert of the key to commit.
    async fn setting_or_insert(&self, key: &'static str, make: MakeSetting) -> Result<String> {
        let c = self.client().await?;
        let read = "SELECT value FROM settings WHERE key = $1";
        if let Some(r) = c.query_opt(read, &[&key]).await? {
            return Ok(r.try_get(0)?);
        }
        let n = c
            .execute(
                "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
                &[&key, &make()],
            )
            .await?;
        if n == 1 {
            self.committed();
        }
        Ok(c.query_one(read, &[&key]).await?.try_get(0)?)
    }

    async fn setting(&self, key: &'static str) -> Result<Option<String>> {
        let c = self.client().await?;
        Ok(
            c.query_opt("SELECT value FROM settings WHERE key = $1", &[&key])
                .await?
                .map(|r| r.try_get(0))
                .transpose()?,
        )
    }

    async fn database_id(&self) -> Result<String> {
        self.setting_or_insert(
            "database_id",
            Box::new(|| hex::encode(rand::random::<[u8; 16]>())),
        )
        .await
    }
}
