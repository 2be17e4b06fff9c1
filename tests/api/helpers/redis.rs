//! Redis for the tests: the shared one (`REDIS_URL`), a `redis-server` of a test's own,
//! and free ports for it. Without Redis the tests skip loudly, unless `REQUIRE_REDIS=1`.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The shared Redis, or None (skip) when it is unreachable and not required.
pub async fn shared_redis() -> Option<String> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let reachable = async {
        let client = redis::Client::open(url.as_str()).ok()?;
        let mut conn = client.get_multiplexed_async_connection().await.ok()?;
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .ok()
    };
    match tokio::time::timeout(Duration::from_secs(3), reachable).await {
        Ok(Some(_)) => Some(url),
        _ => skip_or_fail(&format!("Redis at {url} is unreachable")),
    }
}

fn skip_or_fail<T>(why: &str) -> Option<T> {
    if std::env::var("REQUIRE_REDIS").as_deref() == Ok("1") {
        panic!("{why}, and REQUIRE_REDIS=1");
    }
    eprintln!(
        "\n*** SKIPPED: {why}; set REDIS_URL or start redis-server (REQUIRE_REDIS=1 makes this fail) ***\n"
    );
    None
}

/// A `redis-server` of the test's own on `port`.
pub struct RedisServer {
    child: Child,
}

impl RedisServer {
    pub fn start(port: u16) -> Option<RedisServer> {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match child {
            Ok(c) => c,
            Err(e) => return skip_or_fail(&format!("cannot run redis-server ({e})")),
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(RedisServer { child });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server did not start on {port}");
    }

    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free port below the kernel's ephemeral range (32768 and up here). A port from that
/// range (what binding port 0 gives) can be handed to the server's own outgoing connection
/// while nothing listens on it: a connect to 127.0.0.1:P from source port P is a TCP
/// self-connection, which echoes every command back and looks like a Redis that answers,
/// so a process never saw its dead Redis as gone (`scaling::redis::faults::redis_going_away…`
/// failed now and then).
pub fn free_port() -> u16 {
    let (lo, hi) = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| {
            let mut it = r.split_whitespace().map(|n| n.parse::<u16>().ok());
            Some((it.next()??, it.next()??))
        })
        .unwrap_or((32768, 60999));
    // Below the range if it leaves room, else above it.
    let candidates = if lo > 11000 {
        10000..lo
    } else {
        hi.saturating_add(1)..u16::MAX
    };
    for _ in 0..1000 {
        let port = candidates.start + rand::random::<u16>() % (candidates.end - candidates.start);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port outside the ephemeral range {lo}-{hi}");
}
