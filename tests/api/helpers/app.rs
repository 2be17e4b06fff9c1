//! Spawns the real server in-process on 127.0.0.1:0 with a fresh database, and speaks
//! its API.
//!
//! The database is a SQLite file in a temporary folder, or, when
//! `TASKLANE_TEST_DATABASE_URL` names a PostgreSQL server (e.g.
//! `postgres://postgres@127.0.0.1:5432/postgres`), a new database created on it for the
//! test (`tasklane_t_<random>`) and dropped when the test is done: the whole suite then
//! runs against PostgreSQL. Tests that look at SQLite files themselves skip on
//! PostgreSQL with [`skip_on_postgres`], saying why.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode, header::HeaderMap};
use serde_json::{Value, json};
use tasklane::{AppState, config::ServeArgs};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::*;

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
}

/// The value of the metric line starting with `name ` (or `name{`) on `/metrics`.
pub async fn metric(app: &TestApp, name: &str) -> f64 {
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find(|l| l.starts_with(&format!("{name} ")))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no metric {name} in:\n{text}"))
}
