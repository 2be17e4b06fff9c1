//! `--backend postgres`: a fresh database for each run, created and dropped through an
//! admin connection (`--postgres-url`), and the CPU the PostgreSQL processes serving it
//! use (PostgreSQL is not pinned: it competes with the server and the load generator).
//!
//! The URL's password is never shown: every URL printed or put in the JSON goes
//! through [`redact`].

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

use anyhow::Context;
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio_postgres::{Client, NoTls};

/// The server's own: a URL with its password hidden (`tasklane::redact`).
pub use tasklane::redact::redact;

/// Prefix of the databases the harness creates (and drops).
pub const DB_PREFIX: &str = "tasklane_bench_";

/// A connection to the admin database, reconnected when it breaks.
pub struct Admin {
    url: String,
    client: Mutex<Client>,
}

/// A database made for one run. `url` holds the password, if any: show [`Database::shown`].
pub struct Database {
    pub name: String,
    pub url: String,
}

impl Database {
    /// The database's URL without its password.
    pub fn shown(&self) -> String {
        redact(&self.url)
    }
}

async fn connect(url: &str) -> anyhow::Result<Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .with_context(|| format!("connect to {} (plain TCP, no TLS)", redact(url)))?;
    tokio::spawn(async move {
        // Ends when the client is dropped or the server goes away.
        let _ = connection.await;
    });
    Ok(client)
}

impl Admin {
    pub async fn connect(url: &str) -> anyhow::Result<Admin> {
        let client = connect(url).await?;
        Ok(Admin {
            url: url.to_owned(),
            client: Mutex::new(client),
        })
    }

    /// The admin URL without its password.
    pub fn shown(&self) -> String {
        redact(&self.url)
    }

    /// The client, reconnected first if the connection broke.
    async fn client(&self) -> anyhow::Result<tokio::sync::MutexGuard<'_, Client>> {
        let mut c = self.client.lock().await;
        if c.is_closed() {
            *c = connect(&self.url).await?;
        }
        Ok(c)
    }

    /// The server's version and the settings that bear on the figures, for the report.
    pub async fn info(&self) -> Value {
        let Ok(c) = self.client().await else {
            return Value::Null;
        };
        let mut out = serde_json::Map::new();
        for name in [
            "server_version",
            "fsync",
            "wal_sync_method",
            "commit_delay",
            "shared_buffers",
            "max_connections",
        ] {
            let v: Option<String> = c
                .query_one(&format!("SHOW {name}"), &[])
                .await
                .ok()
                .and_then(|r| r.try_get(0).ok());
            out.insert(name.to_owned(), json!(v));
        }
        Value::Object(out)
    }

    /// Creates `tasklane_bench_<16 random hex digits>` and returns it with its URL (the
    /// admin URL with the database swapped).
    pub async fn create_database(&self) -> anyhow::Result<Database> {
        let name = format!("{DB_PREFIX}{:016x}", random_u64());
        self.client()
            .await?
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await
            .with_context(|| format!("CREATE DATABASE {name} on {}", self.shown()))?;
        let url = with_dbname(&self.url, &name);
        Ok(Database { name, url })
    }

    /// `DROP DATABASE … WITH (FORCE)`: ends any session still connected to it.
    pub async fn drop_database(&self, name: &str) -> anyhow::Result<()> {
        anyhow::ensure!(name.starts_with(DB_PREFIX), "not a bench database: {name}");
        self.client()
            .await?
            .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .await
            .with_context(|| format!("DROP DATABASE {name} on {}", self.shown()))?;
        Ok(())
    }

    /// The PostgreSQL processes working for database `name` (its sessions, autovacuum
    /// included) and the cluster's WAL writer, checkpointer and background writer.
    async fn pids(&self, name: &str) -> Vec<u32> {
        let Ok(c) = self.client().await else {
            return Vec::new();
        };
        c.query(
            "SELECT pid FROM pg_stat_activity
             WHERE datname = $1
                OR backend_type IN ('walwriter', 'checkpointer', 'background writer')",
            &[&name],
        )
        .await
        .map(|rows| {
            rows.iter()
                .filter_map(|r| r.try_get::<_, i32>(0).ok())
                .filter_map(|p| u32::try_from(p).ok())
                .collect()
        })
        .unwrap_or_default()
    }
}

/// What [`crate::server::CpuMeter`] needs to count PostgreSQL's CPU.
#[derive(Clone, Copy)]
pub struct Probe<'a> {
    pub admin: &'a Admin,
    pub database: &'a str,
}

impl Probe<'_> {
    /// CPU seconds used so far by each process serving the database.
    pub async fn cpu(&self) -> HashMap<u32, f64> {
        self.admin
            .pids(self.database)
            .await
            .into_iter()
            .filter_map(|p| Some((p, crate::server::cpu_seconds(p)?)))
            .collect()
    }
}

/// 64 random bits from the standard library's per-process hash keys, mixed with the
/// time and the pid.
fn random_u64() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    h.finish()
}

/// `url` naming database `name` instead: the path of a `postgres://` URL (any `dbname`
/// parameter dropped), or a `dbname=` appended to a `key=value` string (the last wins).
pub fn with_dbname(url: &str, name: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return format!("{} dbname={name}", url.trim_end());
    };
    let (base, query) = match url.find('?') {
        Some(q) => (&url[..q], Some(&url[q + 1..])),
        None => (url, None),
    };
    // The host part starts after the user part (up to its last `@`), the path at the
    // first `/` after that.
    let host_start = base[scheme_end..]
        .rfind('@')
        .map_or(scheme_end, |at| scheme_end + at + 1);
    let path_start = base[host_start..]
        .find('/')
        .map_or(base.len(), |i| host_start + i);
    let mut out = format!("{}/{name}", &base[..path_start]);
    if let Some(query) = query {
        let params: Vec<&str> = query
            .split('&')
            .filter(|kv| !kv.is_empty())
            .filter(|kv| kv.split('=').next() != Some("dbname"))
            .collect();
        if !params.is_empty() {
            out.push('?');
            out.push_str(&params.join("&"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_is_swapped() {
        for (url, shown) in [
            (
                "postgres://postgres@127.0.0.1:5432/postgres",
                "postgres://postgres@127.0.0.1:5432/x",
            ),
            ("postgres://127.0.0.1", "postgres://127.0.0.1/x"),
            ("postgres://u:p@h/db?dbname=y", "postgres://u:p@h/x"),
            (
                "postgresql://u:p/q@h:1/db?sslmode=disable&dbname=y&application_name=a",
                "postgresql://u:p/q@h:1/x?sslmode=disable&application_name=a",
            ),
            ("host=h user=u dbname=y", "host=h user=u dbname=y dbname=x"),
        ] {
            assert_eq!(with_dbname(url, "x"), shown, "{url}");
        }
    }
}
