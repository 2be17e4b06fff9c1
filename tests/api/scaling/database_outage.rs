//! A PostgreSQL server that goes away: requests get 503s with `Retry-After`, then the
//! processes reconnect by themselves, through a TCP proxy the test takes down and brings
//! back.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

use super::hosts::send;

/// A TCP proxy on loopback to PostgreSQL: the database "host" a test can take down (its
/// connections cut, new ones refused) and bring back on the same port.
struct PgProxy {
    port: u16,
    upstream: std::net::SocketAddr,
    tasks: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl PgProxy {
    async fn start(upstream: std::net::SocketAddr, port: u16) -> PgProxy {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind proxy");
        let port = listener.local_addr().unwrap().port();
        let tasks = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = tasks.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let conn = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                kept.lock().unwrap().push(conn.abort_handle());
            }
        });
        tasks.lock().unwrap().push(accept.abort_handle());
        PgProxy {
            port,
            upstream,
            tasks,
        }
    }

    /// The database host goes away: every connection is cut, new ones are refused.
    async fn down(&self) {
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    /// It comes back on the same address.
    async fn up(&self) -> PgProxy {
        PgProxy::start(self.upstream, self.port).await
    }
}

impl Drop for PgProxy {
    fn drop(&mut self) {
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }
}

// Multi-threaded: the proxy must keep serving while this thread waits for the process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_goes_away_gets_503s_with_retry_after_then_reconnects() {
    let Some(db) = fresh_pg().await else { return };
    let config: tokio_postgres::Config = db.url.parse().unwrap();
    let host = match &config.get_hosts()[0] {
        tokio_postgres::config::Host::Tcp(h) => h.clone(),
        #[allow(unreachable_patterns)]
        _ => return,
    };
    let upstream = tokio::net::lookup_host((host.as_str(), config.get_ports()[0]))
        .await
        .unwrap()
        .next()
        .unwrap();
    let proxy = PgProxy::start(upstream, 0).await;
    // The same database, reached through the proxy.
    let url = db.url.replacen(
        &format!("{host}:{}", config.get_ports()[0]),
        &format!("127.0.0.1:{}", proxy.port),
        1,
    );
    assert_ne!(url, db.url, "the test URL names no host:port to replace");
    let p = spawn_tasklane_on_url(&url, &[]);
    let client = reqwest::Client::new();
    let token = user_on(&client, &p, "alice").await;
    let r = send(
        &client,
        &p,
        "/api/tasks/",
        Some(&token),
        None,
        json!({"title": "Before the outage"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);

    // The database host goes away (its connections cut, as in a failover).
    proxy.down().await;
    let create = send(
        &client,
        &p,
        "/api/tasks/",
        Some(&token),
        Some("during-1"),
        json!({"title": "During the outage"}),
    )
    .await;
    let list = read(
        client
            .get(p.url("/api/tasks/"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let login = send(
        &client,
        &p,
        "/api/token/",
        None,
        None,
        json!({"username": "alice", "password": PASSWORD}),
    )
    .await;
    let health = read(client.get(p.url("/healthz")).send().await.unwrap()).await;
    for (what, r) in [("create", &create), ("list", &list), ("login", &login)] {
        assert_eq!(
            r.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{what}: {}\n{}",
            r.text,
            p.log()
        );
        assert_eq!(r.header("retry-after"), Some("1"), "{what}");
        assert_eq!(
            r.json()["code"],
            "database_unavailable",
            "{what}: {}",
            r.text
        );
        assert!(
            !r.text.contains("127.0.0.1"),
            "{what} leaks detail: {}",
            r.text
        );
    }
    assert_eq!(health.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(health.json()["database"], "unavailable");

    // It comes back: the server reconnects by itself; the retried create (same key) is
    // made once, and nothing acknowledged before is lost.
    let _proxy = proxy.up().await;
    let mut again = None;
    for _ in 0..100 {
        let r = send(
            &client,
            &p,
            "/api/tasks/",
            Some(&token),
            Some("during-1"),
            json!({"title": "During the outage"}),
        )
        .await;
        if r.status != StatusCode::SERVICE_UNAVAILABLE {
            again = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let again = again.expect("the server never reconnected");
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.text);
    let titles: Vec<String> = read(
        client
            .get(p.url("/api/tasks/?ordering=id"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await
    .json()
    .as_array()
    .unwrap()
    .iter()
    .map(|t| t["title"].as_str().unwrap().to_owned())
    .collect();
    assert_eq!(titles, ["Before the outage", "During the outage"]);
    assert!(
        !p.log().contains("internal error"),
        "an outage is not a server error:\n{}",
        p.log()
    );
}
