//! The PostgreSQL backend: one database shared by several hosts.
//!
//! `Postgres` owns a deadpool pool of tokio-postgres connections (async all the way: no
//! `spawn_blocking`, no connection held across anything but its own queries). Every write
//! is one transaction of its own on a pooled connection, committed before the caller
//! hears of it, except task creates: those waiting at once share one transaction and one
//! WAL flush ([`group`]). Reads are single statements, or a read-only `REPEATABLE READ` transaction
//! when several must agree. The schema is applied by numbered migrations
//! (`migrations/NNNN_*.sql`, embedded), recorded in `tasklane_migrations` and run at
//! connect under a transaction-scoped advisory lock, so hosts starting at once migrate
//! once; a database migrated by a newer binary is refused.
//!
//! # How each guarantee holds with several hosts writing at once
//!
//! SQLite gets these from having one writer at a time; here they come from row locks,
//! taken in one order everywhere so that writers never deadlock:
//!
//! - **The user row first.** Every transaction that changes a user's tasks, events,
//!   idempotency keys or refresh tokens starts by locking that user's `users` row
//!   (`FOR NO KEY UPDATE`, or the `UPDATE users` that needs it anyway), and only then
//!   touches the rows under it. So two transactions on one user queue on the user row
//!   before either holds anything the other wants. Account deletion marks the user row
//!   in one statement; its purge never waits for a row (`SKIP LOCKED`) and deletes the
//!   user row in a transaction holding nothing else ([`purge`]). The sweeps that touch
//!   many users' rows (expired refresh tokens, idempotency keys, rotated pairs) skip rows
//!   another transaction has locked (`FOR UPDATE SKIP LOCKED`: they are swept next time)
//!   and never wait; the event pruner runs alone (advisory lock), a bounded number of
//!   events at a time, and locks their users in id order before their events, skipping
//!   users another transaction holds.
//! - **Gapless per-user event ids in commit order** ([`tasks`]): the first statement of a
//!   task write is `UPDATE users SET event_seq = event_seq + 1 … RETURNING event_seq`. The
//!   row lock it takes is held to commit, so the next writer for that user (on any host)
//!   waits, then reads the committed value: ids are handed out one after another in
//!   commit order, and a rolled-back write gives its id back with everything else.
//! - **The outbox row in the same transaction** as the change it describes.
//! - **Idempotency keys** ([`idempotency`]): the key is checked after the user row is
//!   locked, and stored in the transaction that creates the task; a second request with
//!   the key (any host) waits for the first to commit, then finds its key.
//! - **`If-Match`**: the task is read (`FOR UPDATE`) under the user lock, compared, and
//!   changed in one transaction; `Stale` carries the version it saw.
//! - **Refresh rotation** ([`tokens`]): the owner's row, then the token's row
//!   (`FOR UPDATE`) are locked before the token is judged, so two hosts presenting one
//!   token at once give one rotation and, after its commit, one grace-window replay; a
//!   password change (which locks the user row) and a rotation never interleave, so no
//!   token issued alongside a password change outlives it.
//! - **Uniqueness**: SQLSTATE 23505 is mapped from the constraint's name to
//!   `StoreError::Conflict([field])` ([`on_unique`]), as SQLite's message is.
//! - **No write waits long for a lock**: every connection has `lock_timeout` set to
//!   [`group::LOCK_WAIT`] (5 s), so a statement held up by a transaction left open on a
//!   row fails with `Unavailable` (503, retry) instead of hanging; task creates never
//!   wait at all inside their shared batch (`SKIP LOCKED`, then tried again: [`group`]),
//!   so one user's locked row holds up that user's creates only. Deleting an account is
//!   one short statement, and its rows are purged in short transactions ([`purge`]).
//! - **Durable commits**: every connection starts with `-c synchronous_commit=on` in its
//!   startup options (after any the URL gives), so a commit returns only once its WAL is
//!   flushed, whatever the server's, the database's or the role's default; `connect`
//!   checks it took (a pooler may drop startup options) and refuses to run otherwise.
//! - **The list** ([`tasks`]): page, count and last event id come from one `REPEATABLE
//!   READ` snapshot; text columns are `COLLATE "C"`, so ordering is byte order and
//!   `ILIKE` folds ASCII only, as SQLite's `LIKE` does.
//!
//! The URL's password never reaches a log line or an error: they name the database with
//! [`redact`].

pub mod admin;
mod api_tokens;
mod copy;
mod events;
mod group;
mod idempotency;
mod purge;
mod seqs;
mod settings;
mod tasks;
mod throttles;
mod tls;
mod tokens;
mod users;

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::Ordering;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime, Transaction};
use tokio_postgres::error::SqlState;

use super::{Result, StoreError};
use crate::clock::now_timestamp;

/// Numbered schema steps; step N is recorded as version N in `tasklane_migrations`.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_schema.sql"),
    include_str!("migrations/0002_throttles.sql"),
    // Steps 3 and 4 come from other branches; merged, this is the fifth.
    include_str!("migrations/0005_account_purge.sql"),
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
fn about(url: &str, e: StoreError) -> StoreError {
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
    counts: Arc<group::Counts>,
    /// The group commit of task creates, started by the first create.
    creates: Arc<OnceLock<group::Creates>>,
    /// The coalesced `event_seq` reads, started by the first.
    seq_reads: Arc<OnceLock<seqs::SeqReads>>,
}

impl Postgres {
    /// Connects to the database at `url` (`postgres://user:password@host:port/db?sslmode=…`)
    /// with a pool of up to `pool_size` connections, and brings its schema up to date.
    pub async fn connect(url: &str, pool_size: u32) -> Result<Postgres> {
        let (mut config, tls) = tls::parse(url)?;
        // Appended, so they win over the same settings in the URL's options. A host that
        // vanishes mid-transaction (its network, not its process: the kernel would close
        // the socket) must not keep a user's row locked for the TCP keepalive's hours:
        // none of our transactions waits on anything but the database. And no statement
        // waits longer than `group::LOCK_WAIT` for a row lock (a transaction someone left
        // open on a user's row): it fails, retryably (503), instead of hanging.
        let ours = format!(
            "-c synchronous_commit=on -c idle_in_transaction_session_timeout=60s \
             -c lock_timeout={}ms",
            group::LOCK_WAIT.as_millis()
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
        db.migrate().await.map_err(|e| about(url, e))?;
        // A pooler between us and the server may drop startup options: refuse to run
        // with commits that could be acknowledged before they are durable.
        let durability = db.synchronous_commit().await.map_err(|e| about(url, e))?;
        if durability != "on" {
            return Err(about(
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
        let (mut config, tls) = tls::parse(url)?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let (client, connection) = config
            .connect(tls)
            .await
            .map_err(|e| about(url, e.into()))?;
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
            seq_reads: Arc::default(),
        }
    }

    /// The create queue ([`group`]), started on first use.
    fn creates(&self) -> &group::Creates {
        self.creates
            .get_or_init(|| group::Creates::start(self.pool.clone(), self.counts.clone()))
    }

    /// The `event_seq` read queue ([`seqs`]), started on first use.
    fn seq_reads(&self) -> &seqs::SeqReads {
        self.seq_reads
            .get_or_init(|| seqs::SeqReads::start(self.pool.clone()))
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

    /// Write transactions committed by this process, and the writes they carried (one
    /// each, except task creates, which group-commit: [`group`]).
    pub fn write_stats(&self) -> (u64, u64) {
        (
            self.counts.commits.load(Ordering::Relaxed),
            self.counts.writes.load(Ordering::Relaxed),
        )
    }

    /// The longest purge transaction, and the creates put back in the queue because their
    /// owner's row was locked ([`group`]).
    pub fn stalls(&self) -> (Duration, u64) {
        (
            Duration::from_micros(self.counts.longest_job_us.load(Ordering::Relaxed)),
            self.counts.lock_retries.load(Ordering::Relaxed),
        )
    }

    /// Connections in the pool, and how many of them are idle.
    pub fn pool_state(&self) -> (u32, u32) {
        let s = self.pool.status();
        (
            u32::try_from(s.size).unwrap_or(u32::MAX),
            u32::try_from(s.available).unwrap_or(u32::MAX),
        )
    }

    /// `SELECT 1`: the health check.
    pub async fn ping(&self) -> Result<()> {
        self.client().await?.simple_query("SELECT 1").await?;
        Ok(())
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

/// `url` with its password (in the user part, or a `password=` parameter) replaced by
/// `***`: the only form in which a database URL is logged or shown. When the URL is
/// malformed it errs on the side of hiding more (everything from the user part's first
/// `:` to its last `@`), never less.
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return redact_keywords(url);
    };
    let (head, rest) = url.split_at(scheme_end);
    let masked = match rest.rfind('@') {
        Some(at) => match rest[..at].find(':') {
            Some(colon) => format!("{head}{}***{}", &rest[..=colon], &rest[at..]),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    };
    match masked.split_once('?') {
        Some((base, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => kv.to_owned(),
                })
                .collect();
            format!("{base}?{}", params.join("&"))
        }
        None => masked,
    }
}

/// A `key=value key='quoted value'` connection string with the password's value hidden.
fn redact_keywords(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("password") {
        let after = &rest[i + "password".len()..];
        let value = after.trim_start();
        let Some(value) = value.strip_prefix('=') else {
            out.push_str(&rest[..i + "password".len()]);
            rest = after;
            continue;
        };
        let value = value.trim_start();
        // Skip the value: up to the closing quote (`\'` escapes one), or the next space.
        let len = if let Some(quoted) = value.strip_prefix('\'') {
            let mut escaped = false;
            let end = quoted
                .char_indices()
                .find(|&(_, c)| {
                    let close = c == '\'' && !escaped;
                    escaped = c == '\\' && !escaped;
                    close
                })
                .map_or(quoted.len(), |(j, _)| j + 1);
            1 + end
        } else {
            value.find(char::is_whitespace).unwrap_or(value.len())
        };
        out.push_str(&rest[..i]);
        out.push_str("password=***");
        rest = &value[len..];
    }
    out.push_str(rest);
    out
}

/// The schema version (applied migration steps) of the database at `url`, without
/// migrating it; `None` when tasklane never migrated it.
pub async fn schema_version_at(url: &str) -> Result<Option<i64>> {
    let db = Postgres::connect_only(url).await?;
    let c = db.client().await.map_err(|e| about(url, e))?;
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
        let (mut config, tls) = tls::parse(url)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_the_password_and_nothing_else() {
        for (url, shown) in [
            (
                "postgres://alice:s3cret@db.example:5432/tasks?sslmode=verify-full",
                "postgres://alice:***@db.example:5432/tasks?sslmode=verify-full",
            ),
            (
                "postgresql://alice:p%40ss:w/rd@db/tasks",
                "postgresql://alice:***@db/tasks",
            ),
            ("postgres://p@ss@db/tasks", "postgres://p@ss@db/tasks"),
            (
                "postgres://postgres@127.0.0.1:5432/postgres",
                "postgres://postgres@127.0.0.1:5432/postgres",
            ),
            (
                "postgres://db/tasks?user=bob&password=hunter2&sslmode=require",
                "postgres://db/tasks?user=bob&password=***&sslmode=require",
            ),
            (
                "postgres://db/tasks?password=hunter2",
                "postgres://db/tasks?password=***",
            ),
            (
                "host=db user=bob password=hunter2 dbname=tasks",
                "host=db user=bob password=*** dbname=tasks",
            ),
            (
                "host=db password = 'a \\' b' dbname=tasks",
                "host=db password=*** dbname=tasks",
            ),
            // Malformed: more is hidden, never less.
            ("postgres://alice:pa?ss@db/x", "postgres://alice:***@db/x"),
            (
                "postgres://db/x?password=a@b",
                "postgres://db/x?password=***",
            ),
            ("postgres://db:5432/t?x=a@b", "postgres://db:***@b"),
            ("postgres://db", "postgres://db"),
        ] {
            assert_eq!(redact(url), shown, "{url}");
        }
    }
}
