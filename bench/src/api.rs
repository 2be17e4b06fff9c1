//! The few tasklane calls the set-up needs: register, log in, create tasks and
//! projects, invite and accept, list task ids, read `/healthz`.

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

/// A task created in `project`.
pub fn create_project_task_req(token: &Arc<str>, title: &str, project: i64) -> Req {
    Req::post_json(
        "/api/tasks/",
        Some(token.clone()),
        &json!({ "title": title, "project": project }),
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
    page_len(addr, user, "/api/tasks/").await
}

/// How many tasks `GET path` (a task list, perhaps with a query) returns for `user`.
pub async fn page_len(addr: SocketAddr, user: &User, path: &str) -> anyhow::Result<usize> {
    let (status, body) = Conn::new(addr)
        .send(&Req::get(path.to_owned(), Some(user.token.clone())))
        .await?;
    if status != StatusCode::OK {
        bail!("list tasks: {status} {}", excerpt(&body));
    }
    let v: Value = serde_json::from_slice(&body)?;
    Ok(v.as_array().map_or(0, Vec::len))
}

/// Sends `req` on a new connection and reads its JSON answer, which must have `status`.
async fn call(addr: SocketAddr, req: &Req, status: StatusCode) -> anyhow::Result<Value> {
    let (got, body) = Conn::new(addr).send(req).await?;
    if got != status {
        bail!("{} {}: {got} {}", req.method, req.path, excerpt(&body));
    }
    serde_json::from_slice(&body).with_context(|| format!("{} {}", req.method, req.path))
}

/// Creates a project owned by `owner`: its id.
pub async fn create_project(addr: SocketAddr, owner: &User, name: &str) -> anyhow::Result<i64> {
    let req = Req::post_json(
        "/api/projects/",
        Some(owner.token.clone()),
        &json!({ "name": name }),
    );
    let v = call(addr, &req, StatusCode::CREATED).await?;
    v["id"].as_i64().context("a project without `id`")
}

/// Makes `member` a member of `project` with `role`: `by` invites, `member` accepts.
pub async fn join(
    addr: SocketAddr,
    by: &User,
    project: i64,
    member: &User,
    role: &str,
) -> anyhow::Result<()> {
    let invite = Req::post_json(
        format!("/api/projects/{project}/invitations/"),
        Some(by.token.clone()),
        &json!({ "username": member.name, "role": role }),
    );
    let v = call(addr, &invite, StatusCode::CREATED).await?;
    let id = v["id"].as_i64().context("an invitation without `id`")?;
    let accept = Req::post_json(
        format!("/api/invitations/{id}/accept/"),
        Some(member.token.clone()),
        &json!({}),
    );
    call(addr, &accept, StatusCode::OK).await?;
    Ok(())
}

/// The ids of every task `user` lists with the filter `query` (e.g. `project=3`, or
/// empty), page after page, in id order.
pub async fn task_ids(addr: SocketAddr, user: &User, query: &str) -> anyhow::Result<Vec<i64>> {
    const PAGE: usize = 1000;
    let mut conn = Conn::new(addr);
    let mut ids = Vec::new();
    loop {
        let path = format!(
            "/api/tasks/?{query}{}limit={PAGE}&offset={}",
            if query.is_empty() { "" } else { "&" },
            ids.len()
        );
        let (status, body) = conn.send(&Req::get(path, Some(user.token.clone()))).await?;
        if status != StatusCode::OK {
            bail!("list tasks ({query}): {status} {}", excerpt(&body));
        }
        let page: Vec<Value> = serde_json::from_slice(&body).context("a task list")?;
        for task in &page {
            ids.push(task["id"].as_i64().context("a task without `id`")?);
        }
        if page.len() < PAGE {
            return Ok(ids);
        }
    }
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
