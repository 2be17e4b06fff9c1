//! Real nginx in front of two real processes on one database and one Redis, configured
//! with the nginx block `docs/scaling-out.md` shows (its ports changed), so the docs and
//! this test cannot drift apart: WebSocket events, SSE resume with `Last-Event-ID`, and
//! the absolute URLs of `GET /api/` all go through it.
//!
//! Needs `/usr/sbin/nginx` (Debian: `apt-get install nginx`) and Redis; each skips loudly
//! without it, unless `REQUIRE_NGINX=1` / `REQUIRE_REDIS=1` (CI).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

const NGINX: &str = "/usr/sbin/nginx";

/// The nginx binary, or None (skip, loudly) when it is absent and not required.
fn nginx_binary() -> Option<PathBuf> {
    let path = PathBuf::from(NGINX);
    if path.exists() {
        return Some(path);
    }
    let why = format!("no nginx at {NGINX} (Debian: apt-get install nginx)");
    if std::env::var("REQUIRE_NGINX").as_deref() == Ok("1") {
        panic!("{why}, and REQUIRE_NGINX=1");
    }
    eprintln!("\n*** SKIPPED: {why}; REQUIRE_NGINX=1 makes this fail ***\n");
    None
}

/// The first nginx block under `## nginx in front` in docs/scaling-out.md.
fn documented_block() -> String {
    let page =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/scaling-out.md"))
            .expect("docs/scaling-out.md");
    page.split("\n## nginx in front\n")
        .nth(1)
        .and_then(|s| s.split("```nginx\n").nth(1))
        .and_then(|s| s.split("\n```").next())
        .expect("docs/scaling-out.md has an nginx block under `## nginx in front`")
        .to_owned()
}

/// `block` with the documented addresses replaced by the test's: the two upstreams, and a
/// loopback port to listen on. Each documented address must be there to be replaced.
fn with_ports(block: &str, upstreams: [&str; 2], listen: u16) -> String {
    let mut out = block.to_owned();
    for (documented, real) in [
        (
            "server 127.0.0.1:8001;",
            format!("server {};", upstreams[0]),
        ),
        (
            "server 127.0.0.1:8002;",
            format!("server {};", upstreams[1]),
        ),
        ("listen 80;", format!("listen 127.0.0.1:{listen};")),
    ] {
        assert!(
            out.contains(documented),
            "the documented nginx block no longer has `{documented}`: update this test"
        );
        out = out.replace(documented, &real);
    }
    out
}

/// nginx in the foreground, one process, everything it writes in its own folder.
struct Nginx {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Nginx {
    fn start(binary: &Path, http_block: &str, port: u16) -> Nginx {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path().display();
        let conf = format!(
            "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log info;\n\
             events {{ worker_connections 512; }}\n\
             http {{\n\
             access_log off;\n\
             client_body_temp_path {d}/body;\nproxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi;\nuwsgi_temp_path {d}/uwsgi;\nscgi_temp_path {d}/scgi;\n\
             {http_block}\n}}\n"
        );
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, &conf).expect("write nginx.conf");
        let child = Command::new(binary)
            .arg("-p")
            .arg(dir.path())
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn nginx");
        let mut nginx = Nginx { child, port, dir };
        for _ in 0..200 {
            if let Ok(Some(status)) = nginx.child.try_wait() {
                let mut stderr = String::new();
                if let Some(mut e) = nginx.child.stderr.take() {
                    let _ = e.read_to_string(&mut stderr);
                }
                panic!(
                    "nginx exited ({status}): {stderr}\n{}\nconfig:\n{conf}",
                    nginx.log()
                );
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return nginx;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("nginx did not listen on {port}: {}", nginx.log());
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A WebSocket through nginx from the first event on (`since=0`, so no event made just
/// after the upgrade can be missed), the access token in `Authorization` (which every
/// client but a browser can send).
async fn ws_through(nginx: &Nginx, token: &str) -> Ws {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = format!("ws://127.0.0.1:{}/ws/tasks/?since=0", nginx.port)
        .into_client_request()
        .expect("ws request");
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("header"),
    );
    let (inner, _) = tokio_tungstenite::connect_async(req)
        .await
        .unwrap_or_else(|e| panic!("ws upgrade through nginx: {e}\n{}", nginx.log()));
    Ws { inner }
}

async fn create_on(client: &reqwest::Client, p: &Proc, token: &str, title: &str) {
    let r = client
        .post(p.url("/api/tasks/"))
        .bearer_auth(token)
        .json(&json!({ "title": title }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn the_documented_nginx_block_serves_two_processes_as_one() {
    let Some(binary) = nginx_binary() else { return };
    let Some(redis) = shared_redis().await else {
        return;
    };
    let dir = TestDir::new().await;
    let db = dir.path().join("tasklane.db");
    let channel = format!("tasklane-proxy-{}", rand::random::<u64>());
    let flags = [
        "--redis-url",
        &redis,
        "--redis-channel",
        &channel,
        "--trust-x-forwarded-for",
    ];
    // One database for both: the same file, or on PostgreSQL the database standing for it.
    let a = spawn_tasklane(&db, &flags);
    let b = spawn_tasklane(&db, &flags);
    let port = free_port();
    let block = with_ports(
        &documented_block(),
        [&a.addr.to_string(), &b.addr.to_string()],
        port,
    );
    let nginx = Nginx::start(&binary, &block, port);
    let client = reqwest::Client::new();
    for p in [&a, &b] {
        wait_for_redis(&client, p).await;
    }

    // Register and log in through nginx, whichever process answers.
    let r = client
        .post(nginx.url("/api/register/"))
        .json(&json!({"username": "alice", "email": "alice@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{}", nginx.log());
    let login: Value = client
        .post(nginx.url("/api/token/"))
        .json(&json!({"username": "alice", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access"]
        .as_str()
        .expect("an access token")
        .to_owned();

    // Two sockets through nginx (round robin puts one on each process); events 1..10,
    // made straight through A and B in turn, reach both in order, once each.
    let mut sockets = [
        ws_through(&nginx, &token).await,
        ws_through(&nginx, &token).await,
    ];
    for i in 1..=10 {
        let p = if i % 2 == 1 { &a } else { &b };
        create_on(&client, p, &token, &format!("Task {i}")).await;
    }
    for ws in &mut sockets {
        let events = ws.events_through(10).await;
        assert_eq!(ids(&events), (1..=10).collect::<Vec<_>>());
        assert!(matches!(
            ws.next_within(Duration::from_millis(300)).await,
            WsNext::Timeout
        ));
    }

    // SSE through nginx resumes after Last-Event-ID, then carries live events unbuffered.
    let resp = client
        .get(nginx.url("/api/events/"))
        .bearer_auth(&token)
        .header("Last-Event-ID", "5")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "{}", nginx.log());
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let live = {
        let (client, token, url) = (client.clone(), token.clone(), b.url("/api/tasks/"));
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let r = client
                .post(url)
                .bearer_auth(&token)
                .json(&json!({"title": "Live task"}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::CREATED);
        })
    };
    let events = sse_events_through(resp, 11).await;
    live.await.unwrap();
    let got: Vec<i64> = events
        .iter()
        .map(|(id, _, v)| {
            assert_eq!(id, &v["event_id"].to_string());
            v["event_id"].as_i64().unwrap()
        })
        .collect();
    assert_eq!(got, (6..=11).collect::<Vec<_>>());

    // GET /api/ through nginx names nginx's own address, port included.
    for _ in 0..2 {
        let root: Value = client
            .get(nginx.url("/api/"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            root["tasks"],
            format!("http://127.0.0.1:{port}/api/tasks/"),
            "{root}"
        );
        assert_eq!(root["users"], format!("http://127.0.0.1:{port}/api/users/"));
    }
}

/// Waits until `p` reports Redis connected, so hints are heard before the writes start.
async fn wait_for_redis(client: &reqwest::Client, p: &Proc) {
    let mut last = Value::Null;
    for _ in 0..200 {
        last = client
            .get(p.url("/healthz"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if last["redis"] == "ok" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("Redis never connected: {last}\n{}", p.log());
}

#[test]
fn the_documented_block_has_every_address_the_test_replaces() {
    let block = with_ports(&documented_block(), ["127.0.0.1:1", "127.0.0.1:2"], 3);
    assert!(block.contains("listen 127.0.0.1:3;"));
    assert!(block.contains("map $http_upgrade $connection_upgrade"));
}
