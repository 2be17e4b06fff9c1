//! The only code that speaks SQL, behind one doorway.
//!
//! [`Store`] is what the rest of the server holds: the same methods whatever database
//! is behind them. SQLite ([`sqlite`]) is the zero-set-up default: one file, a pool of
//! readers and one writer thread that group-commits. PostgreSQL ([`postgres`],
//! `--database-url`) is for several hosts on one database: an async pool, TLS, row locks
//! where SQLite has its single writer. Every guarantee (gapless per-user event ids, outbox
//! in the same transaction, race-free idempotency and `If-Match`, durable commits) holds
//! on both.
//!
//! The seam is a set of small traits, one per concern, each declared (with its docs, the
//! contract) in the module of that concern beside the types it takes and gives:
//! [`users::AccountStore`], [`tasks::TaskStore`], [`projects::ProjectStore`],
//! [`idempotency::IdempotencyStore`],
//! [`events::EventStore`], [`tokens::TokenStore`], [`api_tokens::ApiTokenStore`],
//! [`stream_tickets::StreamTicketStore`], [`throttles::ThrottleStore`],
//! [`purge::PurgeStore`], [`settings::SettingStore`], [`health::HealthStore`],
//! [`admin::AdminStore`] and [`copy::CopyStore`]. Each backend implements each trait in
//! its file of the same name (`sqlite/tasks.rs`, `postgres/tasks.rs`, …), keeping its own
//! SQL and its own numbered migrations; callers never see a driver's type. [`Backend`] is
//! every trait together, and [`Store`] holds one behind an `Arc<dyn Backend>`, chosen at
//! run time in one place ([`Store::open`], from a [`Database`]); it derefs to the backend,
//! so `store.create_task(…)` calls the trait's method (async traits through
//! `async-trait`, so they stay usable as `dyn`). Adding a concern is one trait (in a
//! module of its own here), two backend files, and its name in [`Backend`] (the
//! supertraits and the blanket impl) and in [`prelude`]; a backend missing a method does
//! not compile, and the error names the trait.

pub mod admin;
pub mod api_tokens;
pub mod copy;
mod database;
pub mod django;
pub mod events;
pub mod health;
pub mod idempotency;
pub mod keyset;
pub mod postgres;
pub mod projects;
pub mod purge;
pub mod settings;
pub mod sqlite;
pub mod stream_tickets;
pub mod tasks;
pub mod throttles;
pub mod tokens;
pub mod users;

use std::sync::Arc;

pub use database::{Database, DatabaseUrl, Options};

/// Every concern's trait, to name them all in one `use`.
pub mod prelude {
    pub use super::Backend;
    pub use super::admin::AdminStore;
    pub use super::api_tokens::ApiTokenStore;
    pub use super::copy::CopyStore;
    pub use super::events::EventStore;
    pub use super::health::HealthStore;
    pub use super::idempotency::IdempotencyStore;
    pub use super::projects::ProjectStore;
    pub use super::purge::PurgeStore;
    pub use super::settings::SettingStore;
    pub use super::stream_tickets::StreamTicketStore;
    pub use super::tasks::TaskStore;
    pub use super::throttles::ThrottleStore;
    pub use super::tokens::TokenStore;
    pub use super::users::AccountStore;
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No row matched (or it belongs to another user: callers can't tell the difference).
    #[error("not found")]
    NotFound,
    /// A unique constraint refused the write; the names of the offending fields.
    #[error("conflict on {0:?}")]
    Conflict(Vec<&'static str>),
    /// A precondition (`If-Match`) named another version than the current one.
    #[error("stale: the current version is {current}")]
    Stale { current: i64 },
    /// A project rule or limit, applied inside the write, refused it.
    #[error("refused: {0:?}")]
    Refused(projects::Refusal),
    /// The database cannot be reached or is refusing work for now: PostgreSQL down,
    /// failing over, out of connections, or read-only; a SQLite file locked past the busy
    /// timeout; no pooled connection free in time. Retrying later may succeed (answered
    /// 503 with `Retry-After`). A write that got this may or may not have committed:
    /// retry it with the same `Idempotency-Key`.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Anything else: I/O, corruption, a bug. Logged, never shown to clients.
    #[error("database error: {0}")]
    Other(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// When a commit is on stable storage (SQLite's `synchronous` in WAL mode).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Synchronous {
    /// Every commit syncs the WAL before it returns: an acknowledged write survives a
    /// power cut or kernel crash.
    #[default]
    Full,
    /// Commits reach the OS but are synced only at checkpoints: a crash of the process
    /// loses nothing, a power cut or kernel crash may lose the last writes.
    Normal,
}

/// The whole contract: a database backend implements every concern's trait.
pub trait Backend:
    users::AccountStore
    + tasks::TaskStore
    + projects::ProjectStore
    + idempotency::IdempotencyStore
    + events::EventStore
    + tokens::TokenStore
    + api_tokens::ApiTokenStore
    + stream_tickets::StreamTicketStore
    + throttles::ThrottleStore
    + purge::PurgeStore
    + settings::SettingStore
    + health::HealthStore
    + admin::AdminStore
    + copy::CopyStore
    + Send
    + Sync
{
}

impl<T> Backend for T where
    T: users::AccountStore
        + tasks::TaskStore
        + projects::ProjectStore
        + idempotency::IdempotencyStore
        + events::EventStore
        + tokens::TokenStore
        + api_tokens::ApiTokenStore
        + stream_tickets::StreamTicketStore
        + throttles::ThrottleStore
        + purge::PurgeStore
        + settings::SettingStore
        + health::HealthStore
        + admin::AdminStore
        + copy::CopyStore
        + Send
        + Sync
{
}

/// The database a server (or an operator command) works on: a [`Backend`], and what this
/// process keeps beside it. Its methods are the backend's ([`Backend`]'s traits), through
/// `Deref`, and the few here that build on them.
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn Backend>,
    /// The account purges this process runs ([`purge`]).
    purges: Arc<purge::Purges>,
}

impl std::ops::Deref for Store {
    type Target = dyn Backend;

    fn deref(&self) -> &(dyn Backend + 'static) {
        &*self.backend
    }
}

impl Store {
    fn new(backend: impl Backend + 'static) -> Store {
        Store {
            backend: Arc::new(backend),
            purges: Arc::default(),
        }
    }

    /// [`tokens::TokenStore::rotate_refresh`] with `issue` any closure (the trait takes
    /// it boxed, to stay usable as `dyn`).
    pub async fn rotate_refresh<F>(
        &self,
        jti: String,
        generation: i64,
        now: f64,
        grace: f64,
        issue: F,
    ) -> Result<tokens::Rotation>
    where
        F: FnOnce(i64, i64) -> (String, tokens::NewRefresh) + Send + 'static,
    {
        self.backend
            .rotate_refresh(jti, generation, now, grace, Box::new(issue))
            .await
    }
}
