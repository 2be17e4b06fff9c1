//! The few tasklane calls the set-up needs: register, log in, create tasks, read
//! `/healthz`.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, bail};
use futures_util::{StreamExt, TryStreamExt};
use hyper::StatusCode;
use serde_json::{Value, json};

use crate::http::{Conn, Req, excerpt};

/// A strong password that passes the server's validators.
pub const PASSWORD: &str = "S3cure-Passw0rd!x";

/// Registrations and logins in flight at once during set-up (each one hashes with
/// argon2 on the server).
const SETUP_CONCURRENCY: usize = 8;

/// A registered, logged-in user.
#[derive(Clone, Debug)]
pub struct User {
    pub name: String,
    pub token: Arc<str>,
}

pub fn login_req(name: &str) -> Req {
    Req::post_json(
        "/api/token/",
        None,
        &json!({"username": name, "password": PASSWORD}),
    )
}

pub fn create_task_req(token: &Arc<str>, title: &str) -> Req {
    Req::post_json(
        "/api/tasks/",
        Some(token.clone()),
        &json!({ "title": title }),
    )
}

/// Registers `{prefix}{i}` for `i` in `0..n` and logs each in, a few at a time.
pub async fn users(addr: SocketAddr, prefix: &str, n: usize) -> anyhow::Result<Vec<User>> {
    futures_util::stream::iter(0..n)
        .map(|i| user(addr, format!("{prefix}{i}")))
        .buffered(SETUP_CONCURRENCY)
        .try_collect()
        .await
}

async fn user(addr: SocketAddr, name: String) -> anyhow::Result<User> {
    let mut conn = Conn::new(addr);
    let register = Req::post_json(
        "/api/register/",
        None,
        &json!({"username": name, "email": format!("{name}@example.com"), "password": PASSWORD}),
    );
    let (status, body) = conn.send(&register).await?;
    if status == StatusCode::TOO_MANY_REQUESTS {
        bail!(
            "register {name}: 429 — the server throttles registrations per address; \
             start it with --registrations-per-address 1000000 ({})",
            excerpt(&body)
        );
    }
    if status != StatusCode::CREATED {
        bail!("register {name}: {status} {}", excerpt(&body));
    }
    let (status, body) = conn.send(&login_req(&name)).await?;
    if status != StatusCode::OK {
        bail!("login {name}: {status} {}", excerpt(&body));
    }
    let v: Value = serde_json::from_slice(&body).context("login response")?;
    let token = v["access"]
        .as_str()
        .context("login response without `access`")?;
    Ok(User {
        name,
        token: token.into(),
    })
}

/// Creates `n` tasks for `user`, several at a time.
pub async fn tasks(addr: SocketAddr, user: &User, n: usize) -> anyhow::Result<()> {
    futures_util::stream::iter(0..n)
        .map(|i| async move {
            let mut conn = Conn::new(addr);
            let (status, body) = conn
                .send(&create_task_req(
                    &user.token,
                    &format!("Listed task number {i}"),
                ))
                .await?;
            if status != StatusCode::CREATED {
                bail!("create task: {status} {}", excerpt(&body));
            }
            Ok(())
        })
        .buffer_unordered(SETUP_CONCURRENCY)
        .try_collect()
        .await
}

/// How many tasks `GET /api/tasks/` returns for `user`.
pub async fn count_tasks(addr: SocketAddr, user: &User) -> anyhow::Result<usize> {
    let (status, body) = Conn::new(addr)
        .send(&Req::get("/api/tasks/", Some(user.token.clone())))
        .await?;
    if status != StatusCode::OK {
        bail!("list tasks: {status} {}", excerpt(&body));
    }
    let v: Value = serde_json::from_slice(&body)?;
    Ok(v.as_array().map_or(0, Vec::len))
}

/// Whether `/healthz` answers 200.
pub async fn healthy(addr: SocketAddr) -> bool {
    matches!(
        Conn::new(addr).send(&Req::get("/healthz", None)).await,
        Ok((StatusCode::OK, _))
    )
}

/// The number of open streams `/healthz` reports.
pub async fn open_streams(addr: SocketAddr) -> anyhow::Result<u64> {
    let (status, body) = Conn::new(addr).send(&Req::get("/healthz", None)).await?;
    if status != StatusCode::OK {
        bail!("healthz: {status} {}", excerpt(&body));
    }
    let v: Value = serde_json::from_slice(&body)?;
    v["streams"].as_u64().context("healthz without `streams`")
}
