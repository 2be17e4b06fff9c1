//! Server-wide settings kept in the database: the generated JWT secret and the
//! database's identity.

use async_trait::async_trait;

use super::Postgres;
use crate::store::Result;
use crate::store::settings::{MakeSetting, SettingStore};

#[async_trait]
impl SettingStore for Postgres {
    // Returns the value stored under `key`, first storing `make()` if there is none.
    // Safe against several hosts starting at once: the first insert wins
    // (`ON CONFLICT DO NOTHING` waits for a concurrent insert of the key to commit), and
    // every host then reads the value that won.
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

    // The value of setting `key`, if set.
    async fn setting(&self, key: &'static str) -> Result<Option<String>> {
        let c = self.client().await?;
        Ok(
            c.query_opt("SELECT value FROM settings WHERE key = $1", &[&key])
                .await?
                .map(|r| r.try_get(0))
                .transpose()?,
        )
    }

    // This database's identity: 32 random hex characters, made the first time a server
    // starts on it and kept. Every host sharing the database sees the same id.
    async fn database_id(&self) -> Result<String> {
        self.setting_or_insert(
            "database_id",
            Box::new(|| hex::encode(rand::random::<[u8; 16]>())),
        )
        .await
    }
}
