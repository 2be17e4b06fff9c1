//! Login and registration throttling: per address and per username, the address a
//! throttle counts, and attempts counted across processes.

mod addresses;
mod login;
mod registration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

/// `POST /api/token/` with `X-Forwarded-For: <each of xff>` (one header line each).
async fn login_via(app: &TestApp, username: &str, password: &str, xff: &[&str]) -> Resp {
    let mut req = app
        .client
        .post(app.url("/api/token/"))
        .json(&json!({"username": username, "password": password}));
    for line in xff {
        req = req.header("x-forwarded-for", *line);
    }
    read(req.send().await.expect("request")).await
}

fn count(responses: &[Resp], status: StatusCode) -> usize {
    responses.iter().filter(|r| r.status == status).count()
}

/// Every 429 and 503 says when to come back and why, DRF-shaped.
fn assert_retry_after(responses: &[Resp]) {
    for r in responses {
        if r.status == StatusCode::TOO_MANY_REQUESTS || r.status == StatusCode::SERVICE_UNAVAILABLE
        {
            let retry: u64 = r
                .header("retry-after")
                .unwrap_or_else(|| panic!("no Retry-After: {r:?}"))
                .parse()
                .expect("seconds");
            assert!(retry >= 1, "{r:?}");
            assert!(r.json()["detail"].is_string(), "{r:?}");
        }
    }
}
