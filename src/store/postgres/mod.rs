//! The PostgreSQL backend: one database shared by several hosts.
//!
//! `Postgres` owns a deadpool pool of tokio-postgres connections (async all the way: no
//! `spawn_blocking`, no connection held across anything but its own queries). Every write
//! is one transaction of its own on a pooled connection, committed before the caller
//! hears of it, except task creates: those waiting at once share one transaction and one
//! WAL flush ([`create_group_commit`] for personal tasks, [`project_create_group_commit`]
//! for a project's). Reads are single statements, or a read-only
//! `REPEATABLE READ` transaction when several must agree; the list pages' one point read,
//! the owner's last event id, is coalesced across requests ([`event_seq_reads`]). The
//! schema is applied by numbered migrations (`migrations/NNNN_*.sql`, embedded),
//! recorded in `tasklane_migrations` and run at connect under a transaction-scoped
//! advisory lock, so hosts starting at once migrate once; a database migrated by a newer
//! binary is refused.
//!
//! How each guarantee (gapless per-user event ids, the outbox, idempotency keys,
//! `If-Match`, refresh rotation, durable commits) holds with several hosts writing at
//! once, through row locks taken user row first, is told in `docs/ARCHITECTURE.md`
//! ("PostgreSQL: how each guarantee holds"). Keep it true when changing the locking here.
//!
//! The URL's password never reaches a log line or an error: they name the database with
//! [`redact`](crate::redact::redact).

pub mod admin;
mod api_tokens;
mod copy;
mod create_group_commit;
mod event_seq_reads;
mod events;
mod health;
mod idempotency;
mod pgpass;
mod project_create_group_commit;
mod projects;
mod purge;
mod security;
mod settings;
mod stream_tickets;
mod task_list;
mod tasks;
mod throttles;
mod tls;
mod tokens;
mod users;

use std::sync::Arc;
use std::sync::OnceLock;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime, Transaction};
use tokio_postgres::error::SqlState;

use super::{Result, StoreError};
use crate::clock::now_timestamp;
use crate::redact::redact;

/// Numbered schema steps; step N is recorded as version N in `tasklane_migrations`.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_schema.sql"),
    include_str!("migrations/0002_throttles.sql"),
    include_str!("migrations/0003_credentials_generation.sql"),
    include_str!("migrations/0004_stream_tickets.sql"),
    include_str!("migrations/0005_account_purge.sql"),
    include_str!("migrations/0006_task_fields.sql"),
    include_str!("migrations/0007_projects.sql"),
    include_str!("migrations/0008_shared_tasks.sql"),
    include_str!("migrations/0009_task_search.sql"),
    include_str!("migrations/0010_list_indexes.sql"),
];

/// The advisory lock migrations run under ("tasklane" in ASCII).
const MIGRATION_LOCK: i64 = 0x7461_736b_6c61_6e65;
/// The advisory lock the event pruner runs under: one pruner at a time across hosts.
const PRUNE_LOCK: i64 = MIGRATION_LOCK + 1;

/// How long to wait for a connection (from the pool, or a new one from the server).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        if unavailable(&e) {
            StoreError::Unavailable(chain(&e))
        } else {
            StoreError::Other(chain(&e))
        }
    }
}

/// The server is gone, going, not accepting, out of connections or read-only (a standby
/// during a failover): the request may succeed if retried, on a new connection.
fn unavailable(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        Some(code) => {
            let code = code.code();
            code.starts_with("08") // connection exception
                || code.starts_with("53") // insufficient resources: too many connections…
                || code.starts_with("57P") // shutting down, crashed, starting up
                || code == "25006" // read-only transaction: a standby, mid-failover
                || code == "55P03" // lock_timeout: another transaction held a row too long
        }
        // No SQLSTATE: the connection itself failed (refused, reset, timed out).
        None => std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>()),
    }
}

/// An error with its causes (tokio-postgres keeps the server's message in the cause).
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

/// `e`, prefixed with the database it is about (its URL without the password).
fn with_url(url: &str, e: StoreError) -> StoreError {
    match e {
        StoreError::Other(m) => StoreError::Other(format!("{}: {m}", redact(url))),
        StoreError::Unavailable(m) => StoreError::Unavailable(format!("{}: {m}", redact(url))),
        e => e,
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => e.into(),
            e @ (deadpool_postgres::PoolError::Timeout(_)
            | deadpool_postgres::PoolError::Closed) => {
                StoreError::Unavailable(format!("connection pool: {e}"))
            }
            e => StoreError::Other(format!("connection pool: {e}")),
        }
    }
}

#[derive(Clone)]
pub struct Postgres {
    pool: Pool,
    /// Write transactions committed by this process, and the writes they carried.
    counts: Arc<create_group_commit::Counts>,
    /// The group commit of task creates, started by the first create.
    creates: Arc<OnceLock<create_group_commit::Creates>>,
    /// The group commit of task creates in projects, started by the first.
    project_creates: Arc<OnceLock<project_create_group_commit::ProjectCreates>>,
    /// The coalesced `event_seq` reads, started by the first.
    seq_reads: Arc<OnceLock<event_seq_reads::SeqReads>>,
}

impl Postgres {
    /// Connects to the database at `url` (`postgres://user:password@host:port/db?sslmode=…`)
    /// with a pool of up to `pool_size` connections, and brings its schema up to date.
    pub async fn connect(url: &str, pool_size: u32) -> Result<Postgres> {
        let (mut config, tls, security) = tls::parse(url)?;
        // Appended, so they win over the same settings in the URL's options. A host that
        // vanishes mid-transaction (its network, not its process: the kernel would close
        // the socket) must not keep a user's row locked for the TCP keepalive's hours:
        // none of our transactions waits on anything but the database. And no statement
        // waits longer than `create_group_commit::LOCK_WAIT` for a row lock (a transaction
        // someone left open on a user's row): it fails, retryably (503), instead of hanging.
        let ours = format!(
            "-c synchronous_commit=on -c idle_in_transaction_session_timeout=60s \
             -c lock_timeout={}ms",
            create_group_commit::LOCK_WAIT.as_millis()
        );
        let options = match config.get_options() {
            Some(o) if !o.trim().is_empty() => format!("{o} {ours}"),
            _ => ours,
        };
        config.options(&options);
        if config.get_application_name().is_none() {
            config.application_name("tasklane");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let manager = Manager::from_config(
            config,
            tls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(1) as usize)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(CONNECT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(|e| StoreError::Other(format!("connection pool: {e}")))?;
        let db = Postgres::with_pool(pool);
        db.migrate().await.map_err(|e| with_url(url, e))?;
        // Once, now that a connection was made (and TLS negotiated, or not).
        security.warn();
        // A pooler between us and the server may drop startup options: refuse to run
        // with commits that could be acknowledged before they are durable.
        let durability = db
            .synchronous_commit()
            .await
            .map_err(|e| with_url(url, e))?;
        if durability != "on" {
            return Err(with_url(
                url,
                StoreError::Other(format!(
                    "synchronous_commit is {durability:?} on our connections, not \"on\" \
                     (a connection pooler dropping startup options?): commits would not be \
                     durable when acknowledged"
                )),
            ));
        }
        Ok(db)
    }

    /// One plain connection to `url` (its `sslmode` honoured), outside any pool: for
    /// reading another application's database (`tasklane import-django`).
    pub async fn connect_client(url: &str) -> Result<tokio_postgres::Client> {
        let (mut config, tls, security) = tls::parse(url)?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let (client, connection) = config
            .connect(tls)
            .await
            .map_err(|e| with_url(url, e.into()))?;
        security.warn();
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "source connection ended");
            }
        });
        Ok(client)
    }

    fn with_pool(pool: Pool) -> Postgres {
        Postgres {
            pool,
            counts: Arc::default(),
            creates: Arc::default(),
            project_creates: Arc::default(),
            seq_reads: Arc::default(),
        }
    }

    /// The create queue ([`create_group_commit`]), started on first use.
    fn creates(&self) -> &create_group_commit::Creates {
        self.creates.get_or_init(|| {
            create_group_commit::Creates::start(self.pool.clone(), self.counts.clone())
        })
    }

    /// The project create queue ([`project_create_group_commit`]), started on first use.
    fn project_creates(&self) -> &project_create_group_commit::ProjectCreates {
        self.project_creates.get_or_init(|| {
            project_create_group_commit::ProjectCreates::start(
                self.pool.clone(),
                self.counts.clone(),
            )
        })
    }

    /// The `event_seq` read queue ([`event_seq_reads`]), started on first use.
    fn seq_reads(&self) -> &event_seq_reads::SeqReads {
        self.seq_reads
            .get_or_init(|| event_seq_reads::SeqReads::start(self.pool.clone()))
    }

    /// `synchronous_commit` as a pooled connection sees it: `on` (set in every
    /// connection's startup options), so each commit returns once its WAL is flushed.
    pub async fn synchronous_commit(&self) -> Result<String> {
        let c = self.client().await?;
        Ok(c.query_one("SHOW synchronous_commit", &[])
            .await?
            .try_get(0)?)
    }

    /// A pooled connection.
    async fn client(&self) -> Result<deadpool_postgres::Client> {
        Ok(self.pool.get().await?)
    }

    /// Commits a write transaction, counting it.
    async fn commit(&self, tx: Transaction<'_>) -> Result<()> {
        tx.commit().await?;
        self.committed();
        Ok(())
    }

    /// Counts a write committed on its own (one statement outside a transaction).
    fn committed(&self) {
        self.counts.add(1, 1);
    }

    /// Applies the pending migrations in one transaction, under an advisory lock held to
    /// its commit: a host that starts while another migrates waits, then finds the work
    /// done.
    async fn migrate(&self) -> Result<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        // Another host's migration may take longer than the usual lock wait.
        tx.batch_execute("SET LOCAL lock_timeout = 0").await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS tasklane_migrations (
                 version    INTEGER PRIMARY KEY,
                 applied_at TEXT NOT NULL
             )",
        )
        .await?;
        let current: i32 = tx
            .query_one(
                "SELECT coalesce(max(version), 0) FROM tasklane_migrations",
                &[],
            )
            .await?
            .try_get(0)?;
        let target = MIGRATIONS.len() as i32;
        if current > target {
            return Err(StoreError::Other(format!(
                "database schema version {current} is newer than this binary knows ({target}); \
                 upgrade tasklane"
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            let version = i as i32 + 1;
            tx.batch_execute(sql).await?;
            tx.execute(
                "INSERT INTO tasklane_migrations (version, applied_at) VALUES ($1, $2)",
                &[&version, &now_timestamp()],
            )
            .await?;
            tracing::info!(version, "database schema migrated");
        }
        // Without pg_trgm (the migration could not create it) search scans: said once.
        let indexed: bool = tx
            .query_one("SELECT to_regclass('tasks_search_title') IS NOT NULL", &[])
            .await?
            .try_get(0)?;
        if !indexed {
            tracing::warn!(
                "task search is not indexed (the pg_trgm extension is missing): searches \
                 scan each user's tasks; see docs/operations.md to add the indexes"
            );
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Maps a unique violation (SQLSTATE 23505) on one of `constraints` (constraint or
/// index name, field) to `StoreError::Conflict([field])`: the one seam where database
/// uniqueness turns into a field error, as `sqlite::on_unique` is for SQLite.
pub(crate) fn on_unique(
    e: tokio_postgres::Error,
    constraints: &[(&str, &'static str)],
) -> StoreError {
    if let Some(db) = e.as_db_error()
        && *db.code() == SqlState::UNIQUE_VIOLATION
        && let Some(name) = db.constraint()
        && let Some((_, field)) = constraints.iter().find(|(c, _)| *c == name)
    {
        return StoreError::Conflict(vec![field]);
    }
    e.into()
}

/// The schema version (applied migration steps) of the database at `url`, without
/// migrating it; `None` when tasklane never migrated it.
pub async fn schema_version_at(url: &str) -> Result<Option<i64>> {
    let db = Postgres::connect_only(url).await?;
    let c = db.client().await.map_err(|e| with_url(url, e))?;
    let exists: bool = c
        .query_one("SELECT to_regclass('tasklane_migrations') IS NOT NULL", &[])
        .await?
        .try_get(0)?;
    if !exists {
        return Ok(None);
    }
    Ok(Some(
        c.query_one("SELECT count(*) FROM tasklane_migrations", &[])
            .await?
            .try_get(0)?,
    ))
}

impl Postgres {
    /// A one-connection pool on `url`, without migrating.
    async fn connect_only(url: &str) -> Result<Postgres> {
        let (mut config, tls, _) = tls::parse(url)?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let pool = Pool::builder(Manager::new(config, tls))
            .max_size(1)
            .build()
            .map_err(|e| StoreError::Other(format!("connection pool: {e}")))?;
        Ok(Postgres::with_pool(pool))
    }
}
