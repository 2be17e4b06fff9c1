//! Server-wide settings kept in the database: the generated JWT secret, the time of a
//! Django import, and the database's identity.

use async_trait::async_trait;

use super::Result;

/// What makes a setting's first value.
pub type MakeSetting = Box<dyn FnOnce() -> String + Send>;

/// Settings, one value per key.
#[async_trait]
pub trait SettingStore: Send + Sync {
    /// Returns the value stored under `key`, first storing `make()` if there is none.
    /// Safe against several processes (and hosts) starting at once: the first insert
    /// wins, and every one reads the value that won.
    async fn setting_or_insert(&self, key: &'static str, make: MakeSetting) -> Result<String>;

    /// The value of setting `key`, if set.
    async fn setting(&self, key: &'static str) -> Result<Option<String>>;

    /// This database's identity: 32 random hex characters, made the first time a server
    /// starts on it and kept. Every process sharing the database sees the same id;
    /// another deployment's database has another one (unless it was restored from a copy
    /// of this).
    async fn database_id(&self) -> Result<String>;
}
