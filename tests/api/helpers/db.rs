//! Direct access to a server's database, SQLite or PostgreSQL, for checks the API cannot
//! make: one SQL text for both backends.

use std::path::Path;
use std::time::Duration;

use super::*;

/// Opens the server's database directly (for checks the API cannot make).
pub async fn db(app: &TestApp) -> TestDb {
    match &app.args.database_url {
        Some(url) => TestDb::Postgres(pg_connect(url.expose()).await),
        None => TestDb::sqlite(&app.db_path()),
    }
}

/// Opens the database of the servers [`spawn_tasklane`] started on `path`.
pub async fn db_at(path: &Path) -> TestDb {
    match pg_for_path(path) {
        Some(pg) => TestDb::Postgres(pg_connect(&pg.url).await),
        None => TestDb::sqlite(path),
    }
}

/// A direct connection to a server's database, SQLite or PostgreSQL. SQL is written
/// once for both: `?1`-style parameters (rewritten to `$1` for PostgreSQL), `TRUE` and
/// `FALSE` for booleans.
pub enum TestDb {
    Sqlite(rusqlite::Connection),
    Postgres(tokio_postgres::Client),
}

/// A parameter of a [`TestDb`] statement.
pub trait SqlArg: Sync {
    fn sqlite(&self) -> rusqlite::types::Value;
    fn pg(&self) -> &(dyn tokio_postgres::types::ToSql + Sync);
}

impl SqlArg for i64 {
    fn sqlite(&self) -> rusqlite::types::Value {
        rusqlite::types::Value::Integer(*self)
    }
    fn pg(&self) -> &(dyn tokio_postgres::types::ToSql + Sync) {
        self
    }
}

impl SqlArg for &str {
    fn sqlite(&self) -> rusqlite::types::Value {
        rusqlite::types::Value::Text((*self).to_owned())
    }
    fn pg(&self) -> &(dyn tokio_postgres::types::ToSql + Sync) {
        self
    }
}

impl SqlArg for String {
    fn sqlite(&self) -> rusqlite::types::Value {
        rusqlite::types::Value::Text(self.clone())
    }
    fn pg(&self) -> &(dyn tokio_postgres::types::ToSql + Sync) {
        self
    }
}

impl TestDb {
    fn sqlite(path: &Path) -> TestDb {
        let c = rusqlite::Connection::open(path).expect("open db");
        c.busy_timeout(Duration::from_secs(5))
            .expect("busy timeout");
        TestDb::Sqlite(c)
    }

    /// `?1` → `$1`.
    fn pg_sql(sql: &str) -> String {
        let mut out = String::with_capacity(sql.len());
        let mut chars = sql.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) {
                out.push('$');
            } else {
                out.push(c);
            }
        }
        out
    }

    /// Runs a statement: how many rows it changed.
    pub async fn execute(&self, sql: &str, args: &[&dyn SqlArg]) -> u64 {
        match self {
            TestDb::Sqlite(c) => {
                let values: Vec<_> = args.iter().map(|a| a.sqlite()).collect();
                c.execute(sql, rusqlite::params_from_iter(values))
                    .unwrap_or_else(|e| panic!("{sql}: {e}")) as u64
            }
            TestDb::Postgres(c) => {
                let params: Vec<_> = args.iter().map(|a| a.pg()).collect();
                c.execute(&Self::pg_sql(sql), &params)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
            }
        }
    }

    /// The rows of a query, every column read as text (NULL as `None`).
    pub async fn rows(&self, sql: &str, args: &[&dyn SqlArg]) -> Vec<Vec<Option<String>>> {
        match self {
            TestDb::Sqlite(c) => {
                let values: Vec<_> = args.iter().map(|a| a.sqlite()).collect();
                let mut stmt = c.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
                let n = stmt.column_count();
                stmt.query_map(rusqlite::params_from_iter(values), |r| {
                    (0..n)
                        .map(|i| {
                            Ok(match r.get_ref(i)? {
                                rusqlite::types::ValueRef::Null => None,
                                rusqlite::types::ValueRef::Integer(v) => Some(v.to_string()),
                                rusqlite::types::ValueRef::Real(v) => Some(v.to_string()),
                                rusqlite::types::ValueRef::Text(t) => {
                                    Some(String::from_utf8_lossy(t).into_owned())
                                }
                                rusqlite::types::ValueRef::Blob(b) => Some(hex::encode(b)),
                            })
                        })
                        .collect()
                })
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                .collect::<Result<_, _>>()
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
            }
            TestDb::Postgres(c) => {
                let params: Vec<_> = args.iter().map(|a| a.pg()).collect();
                let rows = c
                    .query(&Self::pg_sql(sql), &params)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
                rows.iter()
                    .map(|r| {
                        (0..r.len())
                            .map(|i| pg_text(r, i))
                            .collect::<Vec<Option<String>>>()
                    })
                    .collect()
            }
        }
    }

    /// The first column of the one row a query returns, as text.
    pub async fn text(&self, sql: &str, args: &[&dyn SqlArg]) -> String {
        let rows = self.rows(sql, args).await;
        assert_eq!(rows.len(), 1, "{sql}: {} rows", rows.len());
        rows[0][0].clone().unwrap_or_else(|| panic!("{sql}: NULL"))
    }

    /// The first column of the one row a query returns, as an integer (SQLite's and
    /// PostgreSQL's booleans too: 1 or 0).
    pub async fn int(&self, sql: &str, args: &[&dyn SqlArg]) -> i64 {
        match self.text(sql, args).await.as_str() {
            "true" => 1,
            "false" => 0,
            n => n
                .parse()
                .unwrap_or_else(|_| panic!("{sql}: {n} is not a number")),
        }
    }

    /// The names of the tables.
    pub async fn tables(&self) -> Vec<String> {
        let sql = match self {
            TestDb::Sqlite(_) => "SELECT name FROM sqlite_schema WHERE type = 'table'",
            TestDb::Postgres(_) => {
                "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'"
            }
        };
        self.rows(sql, &[])
            .await
            .into_iter()
            .filter_map(|mut r| r.remove(0))
            .collect()
    }

    /// Whether the database is intact: SQLite's `integrity_check`; on PostgreSQL (whose
    /// pages the server checks itself) whether it answers.
    pub async fn intact(&self) -> bool {
        match self {
            TestDb::Sqlite(_) => self.text("PRAGMA integrity_check", &[]).await == "ok",
            TestDb::Postgres(_) => self.int("SELECT 1", &[]).await == 1,
        }
    }
}

/// Column `i` of a PostgreSQL row as text, whatever its type.
fn pg_text(r: &tokio_postgres::Row, i: usize) -> Option<String> {
    use tokio_postgres::types::Type;
    let t = r.columns()[i].type_().clone();
    if t == Type::BOOL {
        r.get::<_, Option<bool>>(i).map(|b| b.to_string())
    } else if t == Type::INT8 {
        r.get::<_, Option<i64>>(i).map(|v| v.to_string())
    } else if t == Type::INT4 {
        r.get::<_, Option<i32>>(i).map(|v| v.to_string())
    } else if t == Type::FLOAT8 {
        r.get::<_, Option<f64>>(i).map(|v| v.to_string())
    } else if t == Type::BYTEA {
        r.get::<_, Option<Vec<u8>>>(i).map(hex::encode)
    } else {
        r.get::<_, Option<String>>(i)
    }
}

/// Gives user `user_id` `n` personal tasks straight in the database, in one statement on
/// either backend (the API makes 1-3k a second in a debug build; this, 100,000 in about
/// a second): `Task 000001` to `Task {n}`, created a second apart from 2026-01-01 (so
/// the newest is the last), every third one done. No events: no client has seen them
/// change. Run it before the user's first list (a list cache holds nothing yet).
pub async fn seed_tasks(c: &TestDb, user_id: i64, n: i64) {
    let sql = match c {
        TestDb::Sqlite(_) => {
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2),
                  t(i, at) AS (SELECT i, strftime('%Y-%m-%dT%H:%M:%S', '2026-01-01', '+' || i || ' seconds')
                                         || '.000000Z' FROM n)
             INSERT INTO tasks (user_id, title, completed, created_at, updated_at)
             SELECT ?1, printf('Task %06d', i), i % 3 = 0, at, at FROM t"
        }
        TestDb::Postgres(_) => {
            "WITH t(i, at) AS (
                 SELECT i, to_char(timestamp '2026-01-01' + i * interval '1 second',
                                   'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')
                 FROM generate_series(1, ?2::bigint) AS i)
             INSERT INTO tasks (user_id, title, completed, created_at, updated_at)
             SELECT ?1, 'Task ' || lpad(i::text, 6, '0'), i % 3 = 0, at, at FROM t"
        }
    };
    assert_eq!(c.execute(sql, &[&user_id, &n]).await, n as u64);
}
