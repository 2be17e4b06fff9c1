//! Several real processes ringing each other through a real Redis: the fan-out, what is
//! published on it never trusted, and Redis going away.

mod fanout;
mod faults;
mod trust;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

async fn health(client: &reqwest::Client, p: &Proc) -> Value {
    client
        .get(p.url("/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn wait_for_redis(client: &reqwest::Client, p: &Proc, want: &str) {
    // Reconnecting waits up to 5 s of backoff plus a 5 s connect timeout; allow for a
    // loaded machine.
    for _ in 0..600 {
        if health(client, p).await["redis"] == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{} never reported redis {want}: {}\n{}",
        p.addr,
        health(client, p).await,
        p.log()
    );
}

async fn create_on(client: &reqwest::Client, p: &Proc, token: &str, title: &str) -> StatusCode {
    client
        .post(p.url("/api/tasks/"))
        .bearer_auth(token)
        .json(&json!({ "title": title }))
        .send()
        .await
        .map(|r| r.status())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn channel_prefix() -> String {
    format!("tasklane-test-{}", rand::random::<u64>())
}
