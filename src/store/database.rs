//! Which database, and opening it: the one place the backend is chosen at run time.
//!
//! A [`Database`] is what the flags name (a SQLite file or a PostgreSQL URL);
//! [`Store::open`] turns it into a [`Store`] of the matching backend, and the few things
//! asked of a database before it is opened (its schema version, whether it is the same
//! as another, the file behind it) are answered here too.

use std::path::{Path, PathBuf};

use super::{Result, Store, StoreError, Synchronous, postgres, sqlite};
use crate::redact::redact;

/// A PostgreSQL URL (`postgres://` or `postgresql://`). Its `Debug` and `Display` hide
/// the password ([`redact`]); [`DatabaseUrl::expose`] gives the real thing to
/// the one place that connects.
#[derive(Clone)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// The URL with its password, to connect with. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({})", redact(&self.0))
    }
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact(&self.0))
    }
}

/// Taken as given: a malformed URL is refused when connecting, by an error that shows it
/// without its password (clap's own error would print the value whole).
impl std::str::FromStr for DatabaseUrl {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Ok(DatabaseUrl(s.trim().to_owned()))
    }
}

/// The database a command works on: `--db` or `--database-url`; or, for `copy`, one
/// argument that is a PostgreSQL URL (`postgres://…`, `postgresql://…`) or else a SQLite
/// file's path.
#[derive(Clone, Debug)]
pub enum Database {
    Sqlite(PathBuf),
    Postgres(DatabaseUrl),
}

impl std::str::FromStr for Database {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("give a SQLite file's path or a postgres:// URL".into());
        }
        let lower = s.to_ascii_lowercase();
        Ok(
            if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
                Database::Postgres(DatabaseUrl(s.to_owned()))
            } else {
                Database::Sqlite(PathBuf::from(s))
            },
        )
    }
}

/// The file's path, or the URL without its password.
impl std::fmt::Display for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Database::Sqlite(path) => write!(f, "{}", path.display()),
            Database::Postgres(url) => write!(f, "{url}"),
        }
    }
}

impl Database {
    /// The PostgreSQL database at `url` when one is given, else the SQLite file `db`.
    pub fn chosen(db: &Path, url: &Option<DatabaseUrl>) -> Database {
        match url {
            Some(url) => Database::Postgres(url.clone()),
            None => Database::Sqlite(db.to_owned()),
        }
    }

    /// The file the database is, for what works on files (a backup, an integrity check,
    /// removing a file a failed command made); `None` for a server's database.
    pub fn file(&self) -> Option<&Path> {
        match self {
            Database::Sqlite(path) => Some(path),
            Database::Postgres(_) => None,
        }
    }

    /// The same file (by its canonical path) or the same URL.
    pub fn same_as(&self, other: &Database) -> bool {
        match (self, other) {
            (Database::Sqlite(a), Database::Sqlite(b)) => {
                a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
            }
            (Database::Postgres(a), Database::Postgres(b)) => a.expose() == b.expose(),
            _ => false,
        }
    }

    /// The schema version of the database, read without opening it as a store (so
    /// without creating or migrating it); `None` when tasklane never made its schema (a
    /// SQLite file that does not exist yet).
    pub async fn schema_version(&self) -> Result<Option<i64>> {
        match self {
            Database::Sqlite(path) => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || sqlite::admin::schema_version_of(&path))
                    .await
                    .map_err(|e| {
                        StoreError::Other(format!("reading the schema version failed: {e}"))
                    })?
            }
            Database::Postgres(url) => postgres::schema_version_at(url.expose()).await,
        }
    }

    /// The schema version this binary migrates this kind of database to.
    pub fn latest_schema_version(&self) -> i64 {
        match self {
            Database::Sqlite(_) => sqlite::admin::latest_schema_version(),
            Database::Postgres(_) => postgres::admin::latest_schema_version(),
        }
    }
}

/// How to open a [`Database`].
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Connections in the pool (SQLite readers, or PostgreSQL connections).
    pub pool_size: u32,
    /// SQLite's durability ([`Synchronous`]); PostgreSQL's commits are always synced.
    pub synchronous: Synchronous,
    /// Create a SQLite file that does not exist yet. Without it, a missing file is
    /// `NotFound`. (A PostgreSQL database is never created.)
    pub create: bool,
}

impl Store {
    /// Opens `db` with the backend it names and brings its schema up to date (once,
    /// however many processes start at once). Errors about a PostgreSQL database name it
    /// by its [`redact`]ed URL, never showing the password.
    pub async fn open(db: &Database, options: Options) -> Result<Store> {
        match db {
            Database::Postgres(url) => {
                Store::connect_postgres(url.expose(), options.pool_size).await
            }
            Database::Sqlite(path) => {
                if !options.create && !path.exists() {
                    return Err(StoreError::NotFound);
                }
                let path = path.clone();
                let Options {
                    pool_size,
                    synchronous,
                    ..
                } = options;
                tokio::task::spawn_blocking(move || {
                    Store::open_sqlite(&path, pool_size, synchronous)
                })
                .await
                .map_err(|e| StoreError::Other(format!("opening the database failed: {e}")))?
            }
        }
    }

    /// Opens (creating if needed) the SQLite file and brings its schema up to date.
    /// Blocking: call at start-up, before serving.
    pub fn open_sqlite(path: &Path, pool_size: u32, synchronous: Synchronous) -> Result<Store> {
        Ok(Store::new(sqlite::Sqlite::open(
            path,
            pool_size,
            synchronous,
        )?))
    }

    /// Connects to the PostgreSQL database at `url` (`postgres://…`, with libpq's
    /// `sslmode`) with a pool of up to `pool_size` connections, and brings its schema up
    /// to date.
    pub async fn connect_postgres(url: &str, pool_size: u32) -> Result<Store> {
        Ok(Store::new(
            postgres::Postgres::connect(url, pool_size).await?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(create: bool) -> Options {
        Options {
            pool_size: 1,
            synchronous: Synchronous::Full,
            create,
        }
    }

    #[tokio::test]
    async fn a_sqlite_database_reports_its_own_schema_versions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let db: Database = path.display().to_string().parse().unwrap();
        assert_eq!(db.schema_version().await.unwrap(), None);
        let missing = Store::open(&db, options(false)).await;
        assert!(matches!(missing, Err(StoreError::NotFound)));
        assert!(!path.exists(), "not created without `create`");

        let store = Store::open(&db, options(true)).await.unwrap();
        let latest = sqlite::admin::latest_schema_version();
        assert_eq!(store.backend_name(), "sqlite");
        assert_eq!(db.latest_schema_version(), latest);
        assert_eq!(store.latest_schema_version(), latest);
        assert_eq!(store.schema_version().await.unwrap(), latest);
        assert_eq!(db.schema_version().await.unwrap(), Some(latest));
    }

    #[test]
    fn the_argument_says_which_backend() {
        let pg: Database = "postgresql://u:hunter2@db.example/tl".parse().unwrap();
        assert!(pg.file().is_none());
        assert_eq!(
            pg.latest_schema_version(),
            postgres::admin::latest_schema_version()
        );
        assert!(!pg.to_string().contains("hunter2"), "{pg}");
        assert!(!format!("{pg:?}").contains("hunter2"), "{pg:?}");
        assert!(pg.same_as(&"postgresql://u:hunter2@db.example/tl".parse().unwrap()));

        let file: Database = " t.db ".parse().unwrap();
        assert_eq!(file.file(), Some(Path::new("t.db")));
        assert!(file.same_as(&"t.db".parse().unwrap()));
        assert!(!file.same_as(&pg));
        assert!("".parse::<Database>().is_err());
    }
}
