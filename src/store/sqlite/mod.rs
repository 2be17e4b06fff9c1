//! The SQLite backend: the zero-set-up default.
//!
//! `Sqlite` owns an r2d2 pool of SQLite connections to one file for reads, and one writer
//! connection on a thread of its own. Once the store is open, reads run on the pool
//! through [`Sqlite::run`] (a `spawn_blocking` doorway) and writes on the writer thread
//! through [`Sqlite::write`], which batches them into group commits; so no connection ever
//! crosses an `.await` and async workers never block on the database.
//! (Before that, `Sqlite::open` migrates on the writer; the operator's file-level commands
//! in `admin` — backup, integrity check, the schema version before migrating — open
//! their own connection and are run on a blocking thread by their caller.) Pragmas are set
//! once per connection; the schema is applied by numbered migrations tracked in
//! `PRAGMA user_version`. Write batches use `BEGIN IMMEDIATE`, so they never fail half-way
//! with SQLITE_BUSY on lock upgrade; writers in other processes queue on the busy timeout.
//!
//! rusqlite types stay inside this module: callers see model types and `StoreError`.

pub mod admin;
mod api_tokens;
mod copy;
mod events;
mod health;
mod idempotency;
mod projects;
mod purge;
mod settings;
mod stream_tickets;
mod sweep;
mod task_list;
mod tasks;
mod throttles;
mod tokens;
mod users;
mod writer;

use std::path::Path;
use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;

use super::{Result, StoreError, Synchronous};
use rusqlite::{Connection, Transaction, TransactionBehavior};

/// Numbered schema steps; step N brings `user_version` from N-1 to N.
const MIGRATIONS: &[&str] = &[
    include_str!("../../../schema.sql"),
    include_str!("migrations/0002_credentials.sql"),
    include_str!("migrations/0003_throttles.sql"),
    include_str!("migrations/0004_credentials_generation.sql"),
    include_str!("migrations/0005_stream_tickets.sql"),
    include_str!("migrations/0006_account_purge.sql"),
    include_str!("migrations/0007_task_fields.sql"),
    include_str!("migrations/0008_projects.sql"),
    include_str!("migrations/0009_shared_tasks.sql"),
    include_str!("migrations/0010_task_search.sql"),
    include_str!("migrations/0011_list_indexes.sql"),
    include_str!("migrations/0012_lighter_writes.sql"),
];

/// How long a connection waits for another writer before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e {
            rusqlite::Error::QueryReturnedNoRows => StoreError::NotFound,
            // Another process held the write lock past the busy timeout.
            rusqlite::Error::SqliteFailure(f, _)
                if matches!(
                    f.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) =>
            {
                StoreError::Unavailable(e.to_string())
            }
            e => StoreError::Other(e.to_string()),
        }
    }
}

impl From<r2d2::Error> for StoreError {
    fn from(e: r2d2::Error) -> Self {
        // r2d2 only fails a `get` when no connection came free in time.
        StoreError::Unavailable(format!("connection pool: {e}"))
    }
}

fn pragma(synchronous: Synchronous) -> &'static str {
    match synchronous {
        Synchronous::Full => "FULL",
        Synchronous::Normal => "NORMAL",
    }
}

#[derive(Clone)]
pub struct Sqlite {
    /// Connections for reads.
    pool: r2d2::Pool<SqliteConnectionManager>,
    /// The one connection this process writes through (see [`Sqlite::write`]).
    writer: writer::Writer,
}

impl Sqlite {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    /// Blocking: call at start-up, before serving.
    pub fn open(path: &Path, pool_size: u32, synchronous: Synchronous) -> Result<Sqlite> {
        create_private(path)?;
        let pragmas = format!(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = {};
             PRAGMA foreign_keys = ON;
             PRAGMA temp_store = MEMORY;",
            pragma(synchronous)
        );
        let manager = SqliteConnectionManager::file(path).with_init(move |c| {
            c.busy_timeout(BUSY_TIMEOUT)?;
            c.execute_batch(&pragmas)?;
            c.set_prepared_statement_cache_capacity(64);
            Ok(())
        });
        let mut writer = r2d2::ManageConnection::connect(&manager)?;
        migrate(&mut writer)?;
        let pool = r2d2::Pool::builder()
            .max_size(pool_size.max(1))
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(10))
            .build(manager)?;
        let writer = writer::Writer::start(writer)
            .map_err(|e| StoreError::Other(format!("cannot start the writer thread: {e}")))?;
        Ok(Sqlite { pool, writer })
    }

    /// Runs `f` with a pooled connection on the blocking thread pool.
    pub async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            f(&mut conn)
        })
        .await
        .map_err(|e| StoreError::Other(format!("blocking task failed: {e}")))?
    }

    /// Runs `f` at once, on this thread, with an idle pooled connection: a short read on
    /// the hot path without a thread hop. `None` when no connection is idle or the
    /// database is busy, and the caller takes [`Sqlite::run`] instead. It never waits: the
    /// connection's busy timeout is zero for the call. Only for reads that touch a few
    /// cached pages (an indexed point read), so an async worker is held for microseconds.
    pub(crate) fn read_now<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Option<Result<T>> {
        let conn = self.pool.try_get()?;
        conn.busy_timeout(Duration::ZERO).ok()?;
        let out = f(&conn);
        // Cannot fail: it only sets the connection's busy handler.
        let _ = conn.busy_timeout(BUSY_TIMEOUT);
        match out {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) =>
            {
                None
            }
            out => Some(out.map_err(StoreError::from)),
        }
    }

    /// Runs `f` on the writer connection, in the next commit batch (see [`writer`]):
    /// inside a `BEGIN IMMEDIATE` transaction shared with the other writes queued with it,
    /// in a savepoint of its own that is released when `f` returns `Ok` and rolled back
    /// otherwise. Returns once the batch is committed (with `synchronous=FULL`, synced).
    pub async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction) -> Result<T> + Send + 'static,
    {
        self.writer.write(f).await
    }
}

/// Creates the database file, when it does not exist yet, readable and writable by its
/// owner only (0600) whatever the umask. SQLite gives the `-wal`, `-shm` and `-journal`
/// files it creates beside it the same mode. An existing file is left as it is, with a
/// warning when others may read it.
pub(crate) fn create_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let io = |e: std::io::Error| StoreError::Other(format!("{}: {e}", path.display()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        // The umask can only have removed bits; make it exactly 0600.
        Ok(file) => file
            .set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            if let Ok(meta) = std::fs::metadata(path)
                && meta.permissions().mode() & 0o077 != 0
            {
                tracing::warn!(
                    path = %path.display(),
                    mode = format!("{:o}", meta.permissions().mode() & 0o777),
                    "the database file is readable by other users; `chmod 600` it"
                );
            }
            Ok(())
        }
        Err(e) => Err(io(e)),
    }
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let target = MIGRATIONS.len() as i64;
    if current > target {
        return Err(StoreError::Other(format!(
            "database schema version {current} is newer than this binary knows ({target}); \
             upgrade tasklane"
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Another process may have migrated while we waited for the lock.
        let now: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if now > i as i64 {
            continue;
        }
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
        tracing::info!(version = i + 1, "database schema migrated");
    }
    Ok(())
}

/// Maps a UNIQUE constraint failure on `table.column` to `StoreError::Conflict([field])`,
/// the one seam where database uniqueness turns into a field error.
pub(crate) fn on_unique(e: rusqlite::Error, table: &str, fields: &[&'static str]) -> StoreError {
    if let rusqlite::Error::SqliteFailure(f, Some(msg)) = &e
        && f.code == rusqlite::ErrorCode::ConstraintViolation
    {
        for field in fields {
            if msg.contains(&format!("{table}.{field}")) {
                return StoreError::Conflict(vec![field]);
            }
        }
    }
    e.into()
}
