//! The only code that speaks SQL, behind one doorway.
//!
//! [`Store`] is what the rest of the server holds: the same methods whatever database
//! is behind them. SQLite ([`sqlite`]) is the zero-set-up default: one file, a pool of
//! readers and one writer thread that group-commits. PostgreSQL ([`postgres`],
//! `--database-url`) is for several hosts on one database: an async pool, TLS, row locks
//! where SQLite has its single writer. Each backend keeps its own SQL and its own
//! numbered migrations; the types the store takes and gives live in the modules here
//! (`tasks`, `users`, …), so callers never see a driver's types, and every guarantee
//! (gapless per-user event ids, outbox in the same transaction, race-free idempotency and
//! `If-Match`, durable commits) holds on both.

pub mod admin;
pub mod api_tokens;
pub mod copy;
pub mod django;
pub mod events;
pub mod idempotency;
pub mod postgres;
pub mod purge;
pub mod sqlite;
pub mod stream_tickets;
pub mod tasks;
pub mod throttles;
pub mod tokens;
pub mod users;

use std::path::Path;
use std::sync::Arc;

use crate::model::{Event, Task, User};
use admin::{AccountChange, AccountSummary};
use api_tokens::{ApiTokenRow, NewApiToken, TokenOwner};
use events::EventCursor;
use idempotency::{Key, Keyed};
use purge::PurgeStep;
use stream_tickets::{NewStreamTicket, TicketBinding};
use tasks::{IfMatch, NewTask, TaskChanges, TaskPage, TaskQuery};
use throttles::Counted;
use tokens::{NewRefresh, Rotation};
use users::{Account, AccountUpdate};

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

/// The database a server (or an operator command) works on.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    /// The account purges this process runs ([`purge`]).
    purges: Arc<purge::Purges>,
}

#[derive(Clone)]
enum Backend {
    Sqlite(sqlite::Sqlite),
    Postgres(postgres::Postgres),
}

/// Each method forwards to the backend's method of the same name and arguments.
macro_rules! forward {
    ($(
        $(#[$doc:meta])*
        pub async fn $name:ident(&self $(, $arg:ident: $ty:ty)* $(,)?) -> $ret:ty;
    )*) => {
        impl Store {
            $(
                $(#[$doc])*
                pub async fn $name(&self $(, $arg: $ty)*) -> $ret {
                    match &self.backend {
                        Backend::Sqlite(db) => db.$name($($arg),*).await,
                        Backend::Postgres(db) => db.$name($($arg),*).await,
                    }
                }
            )*
        }
    };
}

impl Store {
    /// Opens (creating if needed) the SQLite file and brings its schema up to date.
    /// Blocking: call at start-up, before serving.
    pub fn open(path: &Path, pool_size: u32, synchronous: Synchronous) -> Result<Store> {
        Ok(Store {
            backend: Backend::Sqlite(sqlite::Sqlite::open(path, pool_size, synchronous)?),
            purges: Arc::default(),
        })
    }

    /// Connects to the PostgreSQL database at `url` (`postgres://…`, with libpq's
    /// `sslmode`) with a pool of up to `pool_size` connections, and brings its schema up
    /// to date (once, however many hosts start at once). Errors name the database by its
    /// [`redact`](crate::redact::redact)ed URL, never showing the password.
    pub async fn connect_postgres(url: &str, pool_size: u32) -> Result<Store> {
        Ok(Store {
            backend: Backend::Postgres(postgres::Postgres::connect(url, pool_size).await?),
            purges: Arc::default(),
        })
    }

    /// Which database is behind the store: `"sqlite"` or `"postgres"`.
    pub fn backend_name(&self) -> &'static str {
        match &self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Transactions committed by this process, and the writes they carried (SQLite
    /// groups several writes per commit; on PostgreSQL only task creates do).
    pub fn write_stats(&self) -> (u64, u64) {
        match &self.backend {
            Backend::Sqlite(db) => db.write_stats(),
            Backend::Postgres(db) => db.write_stats(),
        }
    }

    /// The longest job (SQLite: on the writer; PostgreSQL: a purge transaction), and the
    /// creates retried because their owner's row was locked (PostgreSQL).
    fn backend_stalls(&self) -> (std::time::Duration, u64) {
        match &self.backend {
            Backend::Sqlite(db) => (db.longest_job(), 0),
            Backend::Postgres(db) => db.stalls(),
        }
    }

    /// Connections in the pool, and how many of them are idle.
    pub fn pool_state(&self) -> (u32, u32) {
        match &self.backend {
            Backend::Sqlite(db) => db.pool_state(),
            Backend::Postgres(db) => db.pool_state(),
        }
    }

    /// Returns the value stored under `key`, first storing `make()` if there is none.
    /// Safe against several processes starting at once: the first insert wins.
    pub async fn setting_or_insert(
        &self,
        key: &'static str,
        make: impl FnOnce() -> String + Send + 'static,
    ) -> Result<String> {
        match &self.backend {
            Backend::Sqlite(db) => db.setting_or_insert(key, make).await,
            Backend::Postgres(db) => db.setting_or_insert(key, make).await,
        }
    }

    /// Spends the refresh token `jti`, issued at credentials generation `generation`, and
    /// stores its successor, all in one transaction (a token whose account has left that
    /// generation is `Invalid`). `issue(user_id, generation)` signs the new pair and
    /// returns it as JSON plus the new token's row.
    pub async fn rotate_refresh<F>(
        &self,
        jti: String,
        generation: i64,
        now: f64,
        grace: f64,
        issue: F,
    ) -> Result<Rotation>
    where
        F: FnOnce(i64, i64) -> (String, NewRefresh) + Send + 'static,
    {
        match &self.backend {
            Backend::Sqlite(db) => db.rotate_refresh(jti, generation, now, grace, issue).await,
            Backend::Postgres(db) => db.rotate_refresh(jti, generation, now, grace, issue).await,
        }
    }
}

forward! {
    /// `SELECT 1`: the health check.
    pub async fn ping(&self) -> Result<()>;
    /// This database's random identity, made on its first start.
    pub async fn database_id(&self) -> Result<String>;
    /// The value of setting `key`, if set.
    pub async fn setting(&self, key: &'static str) -> Result<Option<String>>;

    /// Creates an account. A taken username or email is `Conflict` naming the field
    /// (callers check `taken_account_fields` first for complete messages; this catches
    /// races).
    pub async fn create_user(&self, username: String, email: String, password_hash: String) -> Result<User>;
    pub async fn account_by_username(&self, username: String) -> Result<Option<Account>>;
    pub async fn account_by_id(&self, id: i64) -> Result<Option<Account>>;
    /// Which of `username` and `email` another account (not `except`) already holds.
    pub async fn taken_account_fields(&self, username: Option<String>, email: Option<String>, except: Option<i64>) -> Result<Vec<&'static str>>;
    /// Applies `update` to account `user_id` in one transaction; a new password also ends
    /// every older credential.
    pub async fn update_account(&self, user_id: i64, update: AccountUpdate, now: f64) -> Result<User>;
    /// Replaces the account's password hash with `new_hash` only if it is still
    /// `old_hash` (a password changed meanwhile wins), ending no credential: the same
    /// password in a newer format. True when replaced.
    pub async fn upgrade_password_hash(&self, user_id: i64, old_hash: String, new_hash: String) -> Result<bool>;
    /// Deletes the account, in one short write ([`purge`]): from its commit on the
    /// account cannot log in, refresh or be authenticated, and its username and email are
    /// free. What it owned stays until [`Store::purge_account`] deletes it. False when
    /// there is no such account (or it is deleted already).
    pub async fn delete_account(&self, user_id: i64) -> Result<bool>;
    /// One bounded job of a deleted account's purge ([`purge`]).
    pub async fn purge_account_step(&self, user_id: i64) -> Result<PurgeStep>;
    /// The accounts marked deleted whose rows are not purged yet.
    pub async fn deleted_accounts(&self) -> Result<Vec<i64>>;

    /// One page of the owner's tasks, rendered as JSON, with the count and the owner's
    /// last event id read in the same snapshot.
    pub async fn list_tasks(&self, owner: User, q: TaskQuery) -> Result<TaskPage>;
    /// The user's last event id: it moves with every change to their tasks, in the same
    /// transaction, so an unchanged value means an unchanged task list.
    pub async fn event_seq(&self, user_id: i64) -> Result<i64>;
    pub async fn get_task(&self, owner: User, id: i64) -> Result<Task>;
    pub async fn create_task(&self, owner: User, new: NewTask) -> Result<(Task, Event)>;
    /// Applies `changes` to the owner's task `id`; `updated_at` moves even when nothing
    /// else does (as the original's empty PATCH did).
    pub async fn update_task(&self, owner: User, id: i64, changes: TaskChanges, if_match: Option<IfMatch>) -> Result<(Task, Event)>;
    /// Deletes the owner's task `id`; the event carries the task as it was.
    pub async fn delete_task(&self, owner: User, id: i64, if_match: Option<IfMatch>) -> Result<Event>;
    /// Creates a task once per idempotency key: a retry gets the first response.
    pub async fn create_task_once(&self, owner: User, new: NewTask, key: Key) -> Result<Keyed>;
    /// Forgets keys older than `before` (unix seconds).
    pub async fn prune_idempotency_keys(&self, before: f64) -> Result<usize>;

    /// The user's events after `since`, oldest first: at most `limit`, and no more than
    /// about `max_bytes` of task JSON (at least one event).
    pub async fn events_after(&self, user_id: i64, since: i64, limit: u32, max_bytes: usize) -> Result<Vec<Event>>;
    pub async fn event_cursor(&self, user_id: i64) -> Result<EventCursor>;
    /// Deletes events older than `cutoff` (an API timestamp).
    pub async fn prune_events(&self, cutoff: String) -> Result<usize>;

    /// Stores a new login's refresh token only if its account is still active at
    /// credentials generation `generation` (read with the password hash verified), in one
    /// write; false when it changed, was deactivated or is gone meanwhile.
    pub async fn insert_refresh(&self, token: NewRefresh, generation: i64, now: i64) -> Result<bool>;
    /// Forgets the pairs kept for replay once their grace window has passed.
    pub async fn forget_successors(&self, before: f64) -> Result<usize>;
    /// Revokes the family of refresh token `jti` (logout); false when unknown.
    pub async fn revoke_refresh_family(&self, jti: String, now: f64) -> Result<bool>;

    /// Stores a new API token; with a session's `generation`, only while the account is
    /// still active at it (checked in the same write), else `None`.
    pub async fn create_api_token(&self, user_id: i64, new: NewApiToken, generation: Option<i64>) -> Result<Option<ApiTokenRow>>;
    pub async fn list_api_tokens(&self, user_id: i64) -> Result<Vec<ApiTokenRow>>;
    pub async fn revoke_api_token(&self, user_id: i64, id: i64) -> Result<bool>;
    /// Who the token with this hash speaks for, and whether it is live at `now`.
    pub async fn api_token_owner(&self, token_hash: String, now: i64) -> Result<Option<(TokenOwner, bool)>>;
    pub async fn touch_api_token(&self, id: i64) -> Result<()>;
    pub async fn api_token_live(&self, id: i64, now: i64) -> Result<bool>;

    /// Stores a stream ticket (its hash), dropping the user's expired tickets and its
    /// oldest past [`stream_tickets::MAX_LIVE_PER_USER`]; `NotFound` when the user is gone.
    pub async fn create_stream_ticket(&self, new: NewStreamTicket, now: f64) -> Result<()>;
    /// Spends the stream ticket with this hash, if live at `now`: read and deleted in one
    /// statement, so it is redeemed at most once across every process and host.
    pub async fn redeem_stream_ticket(&self, ticket_hash: String, now: f64) -> Result<Option<TicketBinding>>;
    /// Deletes stream tickets that expired at or before `now`.
    pub async fn prune_stream_tickets(&self, now: f64) -> Result<usize>;

    /// Counts one attempt of `key` in `scope` unless `max` are already counted in the
    /// last `window` seconds: the check and the count are one atomic step across every
    /// process on the database.
    pub async fn throttle_acquire(&self, scope: &'static str, key: Vec<u8>, max: u32, window: f64, now: f64) -> Result<Counted>;
    /// Takes back the attempt counted at `at` (one row, if it is still there).
    pub async fn throttle_refund(&self, scope: &'static str, key: Vec<u8>, at: f64) -> Result<()>;
    /// Forgets every attempt of `key` in `scope`.
    pub async fn throttle_clear(&self, scope: &'static str, key: Vec<u8>) -> Result<()>;
    /// Deletes attempts counted at or before `before`, then the oldest past `keep` rows.
    pub async fn prune_throttles(&self, before: f64, keep: u64) -> Result<usize>;

    pub async fn list_accounts(&self) -> Result<Vec<AccountSummary>>;
    /// Whether any account exists (the first start's hint).
    pub async fn any_account(&self) -> Result<bool>;
    pub async fn schema_version(&self) -> Result<i64>;
    /// Sets a new password hash and ends every older credential of the account.
    pub async fn set_password_hash(&self, username: String, password_hash: String, now: f64) -> Result<AccountChange>;
    /// Activates or deactivates the account; deactivating ends its credentials.
    pub async fn set_account_active(&self, username: String, active: bool, now: f64) -> Result<AccountChange>;

    /// `tasklane copy` ([`copy`]): every table of the database and its columns.
    pub async fn copy_columns(&self) -> Result<Vec<(String, Vec<String>)>>;
    /// The row count of each table in [`copy::TABLES`].
    pub async fn copy_counts(&self) -> Result<Vec<u64>>;
    /// Sends every table's rows, read in one snapshot.
    pub async fn export(&self, tx: tokio::sync::mpsc::Sender<copy::Chunk>) -> Result<()>;
    /// Writes a source's rows into this empty database in one transaction.
    pub async fn import(&self, rx: tokio::sync::mpsc::Receiver<copy::Chunk>, target: copy::Target) -> Result<()>;
}
