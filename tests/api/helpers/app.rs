//! Spawns the real server on 127.0.0.1:0 with a fresh database, and speaks its API.
//!
//! The database is a SQLite file in a temporary folder, or, when
//! `TASKLANE_TEST_DATABASE_URL` names a PostgreSQL server (e.g.
//! `postgres://postgres@127.0.0.1:5432/postgres`), a new database created on it for the
//! test (`tasklane_t_<random>`) and dropped when the test is done: the whole suite then
//! runs against PostgreSQL. Tests that look at SQLite files themselves skip on
//! PostgreSQL with [`skip_on_postgres`], saying why.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::{Method, StatusCode, header::HeaderMap};
use serde_json::{Value, json};
use tasklane::{AppState, config::ServeArgs};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The signing secret the tests' servers use, so tests can forge tokens.
pub const TEST_SECRET: &str = "test-secret-test-secret-test-secret-0123456789";

/// A strong password that passes every validator.
pub const PASSWORD: &str = "S3cure-Passw0rd!x";

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub dir: Arc<TestDir>,
    pub args: ServeArgs,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<std::io::Result<()>>>,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?} {}", self.status, self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

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

/// A test's temporary folder and, when the suite runs on PostgreSQL, its database.
pub struct TestDir {
    tmp: TempDir,
    pub pg: Option<PgDatabase>,
}

impl TestDir {
    pub async fn new() -> TestDir {
        let pg = match suite_postgres() {
            Some(admin) => Some(PgDatabase::create(&admin).await),
            None => None,
        };
        TestDir {
            tmp: tempfile::tempdir().expect("temp dir"),
            pg,
        }
    }

    pub fn path(&self) -> &Path {
        self.tmp.path()
    }
}

pub fn test_args(dir: &TestDir) -> ServeArgs {
    let mut args = ServeArgs::defaults(dir.path().join("tasklane.db"));
    args.database_url = dir
        .pg
        .as_ref()
        .map(|pg| pg.url.parse().expect("database url"));
    args.jwt_secret = Some(TEST_SECRET.parse().expect("secret"));
    // Every test client comes from 127.0.0.1; throttle tests lower these again.
    args.registrations_per_address = 100_000;
    args.login_failures_per_address = 100_000;
    // Failed logins answer at once (no calibration at each start); the timing tests
    // turn the floor back on.
    args.failed_login_floor = tasklane::config::FailedLoginFloor::Fixed(Duration::ZERO);
    args
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(tweak: impl FnOnce(&mut ServeArgs)) -> TestApp {
    let dir = Arc::new(TestDir::new().await);
    let mut args = test_args(&dir);
    tweak(&mut args);
    start(dir, args).await
}

/// Starts a server on `args` (its database in `dir`).
pub async fn start(dir: Arc<TestDir>, args: ServeArgs) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    start_on(dir, args, listener).await
}

/// Like [`spawn_app_with`], listening on `bind` (e.g. `[::1]:0`); `None` when this
/// machine can't bind it.
pub async fn spawn_app_on(bind: &str, tweak: impl FnOnce(&mut ServeArgs)) -> Option<TestApp> {
    let dir = Arc::new(TestDir::new().await);
    let mut args = test_args(&dir);
    tweak(&mut args);
    let listener = tokio::net::TcpListener::bind(bind).await.ok()?;
    Some(start_on(dir, args, listener).await)
}

async fn start_on(
    dir: Arc<TestDir>,
    args: ServeArgs,
    listener: tokio::net::TcpListener,
) -> TestApp {
    let state = AppState::build(&args).await.expect("state");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(tasklane::serve(state, listener, async {
        let _ = rx.await;
    }));
    TestApp {
        addr,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client"),
        dir,
        args,
        shutdown: Some(tx),
        handle: Some(handle),
    }
}

impl TestApp {
    /// Stops the server gracefully; the database stays in `dir`.
    pub async fn stop(mut self) -> (Arc<TestDir>, ServeArgs) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            let _ = tokio::time::timeout(Duration::from_secs(15), h).await;
        }
        (self.dir.clone(), self.args.clone())
    }

    /// Stops this server and starts another on the same database file.
    pub async fn restart(self) -> TestApp {
        let (dir, args) = self.stop().await;
        start(dir, args).await
    }

    pub fn db_path(&self) -> PathBuf {
        self.args.db.clone()
    }

    /// The flags that point an operator command at this server's database.
    pub fn db_flags(&self) -> Vec<String> {
        match &self.args.database_url {
            Some(url) => vec!["--database-url".into(), url.expose().to_owned()],
            None => vec!["--db".into(), self.db_path().display().to_string()],
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Any request: `body` is sent as JSON when it is `Some`.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        read(req.send().await.expect("request")).await
    }

    /// A request with a raw body and content type.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Resp {
        let mut req = self
            .client
            .request(method, self.url(path))
            .header("content-type", content_type)
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        read(req.send().await.expect("request")).await
    }

    /// A GET with an arbitrary `Authorization` header (or none).
    pub async fn get_with_auth(&self, path: &str, authorization: Option<&str>) -> Resp {
        let mut req = self.client.get(self.url(path));
        if let Some(a) = authorization {
            req = req.header("authorization", a);
        }
        read(req.send().await.expect("request")).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn register(&self, username: &str, email: &str, password: &str) -> Resp {
        self.call(
            Method::POST,
            "/api/register/",
            None,
            Some(json!({"username": username, "email": email, "password": password})),
        )
        .await
    }

    pub async fn login(&self, username: &str, password: &str) -> Resp {
        self.call(
            Method::POST,
            "/api/token/",
            None,
            Some(json!({"username": username, "password": password})),
        )
        .await
    }

    pub async fn refresh(&self, refresh: &str) -> Resp {
        self.call(
            Method::POST,
            "/api/token/refresh/",
            None,
            Some(json!({ "refresh": refresh })),
        )
        .await
    }

    /// Registers `name` (email `name@example.com`) and logs in: `(access, refresh)`.
    pub async fn user(&self, name: &str) -> (String, String) {
        let r = self
            .register(name, &format!("{name}@example.com"), PASSWORD)
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "register {name}: {}", r.text);
        let r = self.login(name, PASSWORD).await;
        assert_eq!(r.status, StatusCode::OK, "login {name}: {}", r.text);
        let v = r.json();
        (
            v["access"].as_str().expect("access").to_owned(),
            v["refresh"].as_str().expect("refresh").to_owned(),
        )
    }

    pub async fn create_task(&self, token: &str, body: Value) -> Resp {
        self.call(Method::POST, "/api/tasks/", Some(token), Some(body))
            .await
    }

    /// Creates a valid task and returns its JSON.
    pub async fn new_task(&self, token: &str, title: &str) -> Value {
        let r = self.create_task(token, json!({ "title": title })).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r.json()
    }

    /// How many tasks the user's (default) list holds.
    pub async fn task_count(&self, token: &str) -> usize {
        let list = self.list_tasks(token, "").await.json();
        list.as_array().expect("a JSON array").len()
    }

    pub async fn list_tasks(&self, token: &str, query: &str) -> Resp {
        self.get(&format!("/api/tasks/{query}"), token).await
    }
}

/// A single-use stream ticket from the server at `base` (`http://host:port`), minted with
/// `token` in the `Authorization` header.
pub async fn stream_ticket(client: &reqwest::Client, base: &str, token: &str) -> String {
    let r = client
        .post(format!("{base}/api/stream-tickets/"))
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    let r = read(r).await;
    assert_eq!(r.status, StatusCode::CREATED, "stream ticket: {}", r.text);
    r.json()["ticket"].as_str().expect("ticket").to_owned()
}

/// Creates an API token with `scopes` from `session`: the secret.
pub async fn api_token(app: &TestApp, session: &str, scopes: &[&str]) -> String {
    let r = app
        .call(
            Method::POST,
            "/api/tokens/",
            Some(session),
            Some(json!({"name": "script", "scopes": scopes})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.json()["token"].as_str().expect("token").to_owned()
}

pub async fn read(resp: reqwest::Response) -> Resp {
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    Resp {
        status,
        headers,
        text,
    }
}

/// Signs arbitrary claims with the test secret (HS256), for forged-token tests.
pub fn sign(claims: &Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(TEST_SECRET.as_bytes()),
    )
    .expect("sign")
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

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

/// The PostgreSQL databases of the servers [`spawn_tasklane`] started, by the path it
/// was given: processes started on one path share one database, as on one file. Kept
/// while a [`Proc`] on it lives.
static PG_BY_PATH: Mutex<Vec<(PathBuf, std::sync::Weak<PgDatabase>)>> = Mutex::new(Vec::new());

/// On PostgreSQL, the database standing for the SQLite file `path`.
fn pg_for_path(path: &Path) -> Option<Arc<PgDatabase>> {
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

/// A WebSocket client of `/ws/tasks/`.
pub struct Ws {
    pub inner: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

/// What the server sent next.
#[derive(Debug)]
pub enum WsNext {
    Json(Value),
    Closed(Option<u16>, String),
    Timeout,
}

impl TestApp {
    pub fn ws_url(&self, path_and_query: &str) -> String {
        format!("ws://{}{}", self.addr, path_and_query)
    }

    /// A single-use stream ticket minted with `token` (`POST /api/stream-tickets/`).
    pub async fn ticket(&self, token: &str) -> String {
        stream_ticket(&self.client, &self.url(""), token).await
    }

    /// Opens `/ws/tasks/?ticket=…[&since=…]` with a ticket minted with `token`, as a
    /// browser does; panics unless the upgrade succeeds.
    pub async fn ws(&self, token: &str, since: Option<i64>) -> Ws {
        let ticket = self.ticket(token).await;
        let mut url = self.ws_url(&format!("/ws/tasks/?ticket={ticket}"));
        if let Some(s) = since {
            url.push_str(&format!("&since={s}"));
        }
        let (inner, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("ws connect");
        Ws { inner }
    }
}

impl TestApp {
    /// A request with one extra header (and a JSON body when given).
    pub async fn with_header(
        &self,
        method: Method,
        path: &str,
        token: &str,
        name: &str,
        value: &str,
        body: Option<Value>,
    ) -> Resp {
        let mut req = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token)
            .header(name, value);
        if let Some(b) = body {
            req = req.json(&b);
        }
        read(req.send().await.unwrap()).await
    }

    /// Opens `/ws/tasks/` with `Authorization: Bearer <token>` (how non-browser clients
    /// send API tokens, which never go in URLs).
    pub async fn ws_bearer(&self, token: &str) -> Ws {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut req = self
            .ws_url("/ws/tasks/")
            .into_client_request()
            .expect("ws request");
        req.headers_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("header"),
        );
        let (inner, _) = tokio_tungstenite::connect_async(req)
            .await
            .expect("ws connect");
        Ws { inner }
    }
}

impl Ws {
    /// The next text message as JSON (pings/pongs skipped), a close, or a timeout.
    pub async fn next_within(&mut self, wait: Duration) -> WsNext {
        use futures_util::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let msg = match tokio::time::timeout_at(deadline, self.inner.next()).await {
                Err(_) => return WsNext::Timeout,
                Ok(None) => return WsNext::Closed(None, String::new()),
                Ok(Some(Err(e))) => return WsNext::Closed(None, e.to_string()),
                Ok(Some(Ok(m))) => m,
            };
            match msg {
                Message::Text(t) => {
                    return WsNext::Json(serde_json::from_str(&t).expect("json frame"));
                }
                Message::Close(Some(f)) => {
                    return WsNext::Closed(Some(f.code.into()), f.reason.to_string());
                }
                Message::Close(None) => return WsNext::Closed(None, String::new()),
                _ => continue,
            }
        }
    }

    /// The next message, which must be JSON, within 10 s.
    pub async fn next_json(&mut self) -> Value {
        match self.next_within(Duration::from_secs(10)).await {
            WsNext::Json(v) => v,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    /// Collects events until one with `event_id == last`, failing after 20 s.
    pub async fn events_through(&mut self, last: i64) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            match self.next_within(Duration::from_secs(20)).await {
                WsNext::Json(v) => {
                    let id = v["event_id"].as_i64().expect("event_id");
                    out.push(v);
                    if id >= last {
                        return out;
                    }
                }
                other => panic!(
                    "expected events through {last}, got {other:?} after {} events",
                    out.len()
                ),
            }
        }
    }

    pub async fn send_text(&mut self, text: &str) {
        use futures_util::SinkExt;
        self.inner
            .send(tokio_tungstenite::tungstenite::Message::text(text))
            .await
            .expect("send");
    }
}

/// Event ids of a list of stream messages.
pub fn ids(events: &[Value]) -> Vec<i64> {
    events
        .iter()
        .map(|e| e["event_id"].as_i64().expect("event_id"))
        .collect()
}

/// A running `tasklane` binary.
pub struct Proc {
    pub child: Child,
    pub addr: SocketAddr,
    log: Arc<Mutex<String>>,
    /// Its database, on PostgreSQL: kept while the process runs.
    _pg: Option<Arc<PgDatabase>>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

pub fn spawn_tasklane(db: &Path, extra: &[&str]) -> Proc {
    spawn_tasklane_in(Command::new(env!("CARGO_BIN_EXE_tasklane")), db, extra)
}

/// Like [`spawn_tasklane`], with the process's umask set to `umask` first.
pub fn spawn_tasklane_with_umask(db: &Path, extra: &[&str], umask: &str) -> Proc {
    let mut sh = Command::new("sh");
    sh.args(["-c", &format!("umask {umask} && exec \"$@\""), "sh"])
        .arg(env!("CARGO_BIN_EXE_tasklane"));
    spawn_tasklane_in(sh, db, extra)
}

/// Runs `cmd` (the binary, or a wrapper that execs it) with the server's arguments: on
/// the SQLite file `db`, or on PostgreSQL, the database standing for it.
fn spawn_tasklane_in(mut cmd: Command, db: &Path, extra: &[&str]) -> Proc {
    let pg = pg_for_path(db);
    cmd.args(["serve", "--bind", "127.0.0.1:0", "--log", "info"]);
    match &pg {
        Some(pg) => cmd.args(["--database-url", &pg.url]),
        None => cmd.arg("--db").arg(db),
    };
    run_server(cmd, pg, extra)
}

/// Starts `cmd` (`serve` and its database flag given) with the tests' flags and `extra`,
/// and waits for it to listen.
fn run_server(mut cmd: Command, pg: Option<Arc<PgDatabase>>, extra: &[&str]) -> Proc {
    cmd.args(["--jwt-secret", TEST_SECRET])
        .args(["--registrations-per-address", "100000"])
        .args(extra);
    run_command(cmd, pg)
}

/// Starts `cmd` (a whole `tasklane serve …` command line, none of the tests' defaults
/// added) with no `TASKLANE_*` database or Redis variables, and waits for it to listen.
pub fn run_command(mut cmd: Command, pg: Option<Arc<PgDatabase>>) -> Proc {
    let mut child = cmd
        .env_remove("TASKLANE_REDIS_URL")
        .env_remove("TASKLANE_DB")
        .env_remove("TASKLANE_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tasklane");
    let stderr = child.stderr.take().expect("stderr");
    let log = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    {
        let log = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                // Logged before the address is announced, so the log the caller reads
                // once started always holds the "listening" line.
                {
                    let mut l = log.lock().unwrap();
                    l.push_str(&line);
                    l.push('\n');
                }
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let addr = rest
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned();
                    let _ = tx.send(addr);
                }
            }
        });
    }
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("tasklane did not start")
        .parse()
        .expect("address");
    Proc {
        child,
        addr,
        log,
        _pg: pg,
    }
}

/// Runs the binary on the SQLite file `db`, whatever database the suite runs on.
pub fn spawn_tasklane_on_file(db: &Path, extra: &[&str]) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tasklane"));
    cmd.args(["serve", "--bind", "127.0.0.1:0", "--log", "info"])
        .arg("--db")
        .arg(db);
    run_server(cmd, None, extra)
}

/// Runs the binary on the PostgreSQL database at `url`.
pub fn spawn_tasklane_on_url(url: &str, extra: &[&str]) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tasklane"));
    cmd.args(["serve", "--bind", "127.0.0.1:0", "--log", "info"])
        .args(["--database-url", url]);
    run_server(cmd, None, extra)
}

/// Registers `name` through `p` and logs in: the access token.
pub async fn user_on(client: &reqwest::Client, p: &Proc, name: &str) -> String {
    let r = client
        .post(p.url("/api/register/"))
        .json(&json!({"username": name, "email": format!("{name}@example.com"), "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let r: Value = client
        .post(p.url("/api/token/"))
        .json(&json!({"username": name, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["access"].as_str().unwrap().to_owned()
}

/// The python of a venv with the original's Django stack (`scripts/django-venv.sh`):
/// `TASKLANE_DJANGO_PYTHON`, else `target/django-venv/bin/python`. None (skip, loudly)
/// when there is none, unless `REQUIRE_DJANGO=1` (CI), where it fails.
pub fn django_python() -> Option<PathBuf> {
    let python = std::env::var_os("TASKLANE_DJANGO_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/django-venv/bin/python")
        });
    if python.exists() {
        return Some(python);
    }
    let why = format!(
        "no Django venv at {} (run scripts/django-venv.sh)",
        python.display()
    );
    if std::env::var("REQUIRE_DJANGO").as_deref() == Ok("1") {
        panic!("{why}, and REQUIRE_DJANGO=1");
    }
    eprintln!("\n*** SKIPPED: {why}; REQUIRE_DJANGO=1 makes this fail ***\n");
    None
}
