//! PostgreSQL for the tests: the server the suite runs on (`TASKLANE_TEST_DATABASE_URL`),
//! databases of a test's own on it, dropped when done, and the server the PostgreSQL-only
//! tests use (that URL, else the local default), skipping loudly when it is unreachable.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The PostgreSQL server the whole suite runs against: `TASKLANE_TEST_DATABASE_URL`.
pub fn suite_postgres() -> Option<String> {
    std::env::var("TASKLANE_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
}

pub fn on_postgres() -> bool {
    suite_postgres().is_some()
}

/// True (skip the rest of the test) when the suite runs on PostgreSQL, saying why.
pub fn skip_on_postgres(why: &str) -> bool {
    if on_postgres() {
        eprintln!("skipped on PostgreSQL: {why}");
        return true;
    }
    false
}

/// A database of a test's own on a PostgreSQL server: created by [`PgDatabase::create`],
/// dropped (best effort, closing its connections) when this is dropped.
pub struct PgDatabase {
    /// The URL servers and commands are given.
    pub url: String,
    name: String,
    /// The server's URL the database was created from (and is dropped through).
    admin: String,
}

impl PgDatabase {
    /// A new empty database on the server at `admin` (a URL of an existing database).
    pub async fn create(admin: &str) -> PgDatabase {
        let name = format!("tasklane_t_{}", hex::encode(rand::random::<[u8; 8]>()));
        let client = pg_connect(admin).await;
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE on {admin}: {e}"));
        PgDatabase {
            url: with_database(admin, &name),
            name,
            admin: admin.to_owned(),
        }
    }

    /// [`PgDatabase::create`] from code that cannot await.
    pub fn create_blocking(admin: &str) -> PgDatabase {
        let admin = admin.to_owned();
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(PgDatabase::create(&admin))
        })
        .join()
        .expect("create database")
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // Its own thread and runtime: this may run inside a test's runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
                    .await
                    .map_err(std::io::Error::other)?;
                tokio::spawn(conn);
                client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
                    .map_err(std::io::Error::other)
            })
        })
        .join();
    }
}

/// A plain connection to `url` (the test server: no TLS).
pub async fn pg_connect(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to PostgreSQL at {url}: {e}"));
    tokio::spawn(conn);
    client
}

/// `url` naming database `name` instead of its own.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let authority_at = base.find("://").map_or(0, |i| i + 3);
    let path_at = base[authority_at..]
        .find('/')
        .map_or(base.len(), |i| authority_at + i);
    format!("{}/{name}{query}", &base[..path_at])
}

/// The PostgreSQL databases of the servers [`spawn_tasklane`] started, by the path it
/// was given: processes started on one path share one database, as on one file. Kept
/// while a [`Proc`] on it lives.
static PG_BY_PATH: Mutex<Vec<(PathBuf, std::sync::Weak<PgDatabase>)>> = Mutex::new(Vec::new());

/// On PostgreSQL, the database standing for the SQLite file `path`.
pub(super) fn pg_for_path(path: &Path) -> Option<Arc<PgDatabase>> {
    let admin = suite_postgres()?;
    let mut known = PG_BY_PATH.lock().unwrap();
    known.retain(|(_, db)| db.strong_count() > 0);
    if let Some(db) = known
        .iter()
        .find(|(p, _)| p == path)
        .and_then(|(_, db)| db.upgrade())
    {
        return Some(db);
    }
    let db = Arc::new(PgDatabase::create_blocking(&admin));
    known.push((path.to_owned(), Arc::downgrade(&db)));
    Some(db)
}

/// The server these tests use, or None (skip) when it is unreachable and not required.
pub async fn pg_server() -> Option<String> {
    let url = suite_postgres()
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let reachable = tokio::time::timeout(
        Duration::from_secs(3),
        tokio_postgres::connect(&url, tokio_postgres::NoTls),
    )
    .await;
    match reachable {
        Ok(Ok((client, conn))) => {
            tokio::spawn(conn);
            drop(client);
            Some(url)
        }
        Ok(Err(e)) => skip_or_fail(&format!("PostgreSQL at {url} refused us ({e})")),
        Err(_) => skip_or_fail(&format!("PostgreSQL at {url} did not answer")),
    }
}

fn skip_or_fail<T>(why: &str) -> Option<T> {
    if std::env::var("REQUIRE_POSTGRES").as_deref() == Ok("1") {
        panic!("{why}, and REQUIRE_POSTGRES=1");
    }
    eprintln!(
        "\n*** SKIPPED: {why}; set TASKLANE_TEST_DATABASE_URL or start PostgreSQL \
         (REQUIRE_POSTGRES=1 makes this fail) ***\n"
    );
    None
}

/// A new empty database on the server, or None (skip).
pub async fn fresh_pg() -> Option<PgDatabase> {
    Some(PgDatabase::create(&pg_server().await?).await)
}
