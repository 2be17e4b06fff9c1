//! The database a run is served from (`--backend sqlite|postgres|both`), the server it
//! targets, and the comparison of two backends' results.

use std::net::SocketAddr;

use anyhow::{Context, bail};
use clap::ValueEnum;
use serde_json::{Map, Value, json};

use crate::args::Args;
use crate::scenarios::Memory;
use crate::server::{Server, round1};
use crate::{progress, report, server};

/// Which database the started server runs on.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BackendChoice {
    Sqlite,
    Postgres,
    Both,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// The server under test: one we started, or one at `--base`.
pub(crate) struct Target {
    pub(crate) addr: SocketAddr,
    pub(crate) pid: Option<u32>,
    pub(crate) server: Option<Server>,
}

pub(crate) async fn target(args: &Args, db: &server::Db<'_>) -> anyhow::Result<Target> {
    if let Some(base) = &args.base {
        let authority = base
            .strip_prefix("http://")
            .context("--base must be an http:// URL")?
            .split('/')
            .next()
            .unwrap_or_default();
        let addr = tokio::net::lookup_host(authority)
            .await
            .with_context(|| format!("resolve {authority}"))?
            .next()
            .with_context(|| format!("{authority} has no address"))?;
        if !addr.ip().is_loopback() {
            bail!("--base must be a loopback address (127.0.0.0/8 or [::1]), not {addr}");
        }
        return Ok(Target {
            addr,
            pid: args.server_pid,
            server: None,
        });
    }
    let cpus = (args.server_cpus != "all").then_some(args.server_cpus.as_str());
    let server = Server::start(&args.server_bin, cpus, db, &args.serve_options()).await?;
    progress(format!(
        "server pid {} listening on {} ({})",
        server.pid,
        server.addr,
        server.command.join(" ")
    ));
    Ok(Target {
        addr: server.addr,
        pid: Some(server.pid),
        server: Some(server),
    })
}

/// What one backend's run gave.
pub(crate) struct BackendRun {
    pub(crate) backend: Backend,
    pub(crate) rows: Vec<report::Row>,
    pub(crate) scenarios: Map<String, Value>,
    pub(crate) memory: Memory,
    pub(crate) target: Value,
    pub(crate) server_log: Option<Value>,
}

impl BackendRun {
    /// The one invariant: a subscriber gets every event of its user exactly once (in
    /// the fan-out), and every member every create of its project (in project-create).
    pub(crate) fn checks(&self) -> Value {
        let fan = self.scenarios.get("fanout");
        let count = |k: &str| fan.and_then(|f| f[k].as_u64()).unwrap_or(0);
        let (lost, duplicates) = (count("lost"), count("duplicates"));
        let project = self
            .scenarios
            .get("project-create")
            .map(|p| &p["deliveries"]);
        let project_passed = project.is_none_or(|d| d["passed"].as_bool() == Some(true));
        json!({
            "events_lost": fan.map(|_| lost),
            "events_duplicated": fan.map(|_| duplicates),
            "project_create": project.map(|d| json!({
                "expected": d["expected"],
                "lost": d["lost"],
                "duplicated": d["duplicated"],
                "unexpected": d["unexpected"],
                "event_id_gaps": d["event_id_gaps"],
                "passed": project_passed,
            })),
            "passed": lost == 0 && duplicates == 0 && project_passed,
        })
    }
}

/// Each scenario and mode run on both backends: rates, latencies and PostgreSQL's rate
/// over SQLite's, from the compared table's rows.
pub(crate) fn comparison(rows: &[report::Row]) -> Value {
    let side = |r: &report::Row| {
        json!({
            "rate_per_s": r.rate.map(round1),
            "p50_ms": r.p50_ms,
            "p99_ms": r.p99_ms,
            "errors": r.errors,
        })
    };
    let items: Vec<Value> = rows
        .windows(2)
        .filter(|w| w[0].backend == Some("sqlite") && w[1].backend == Some("postgres"))
        .filter(|w| w[0].scenario == w[1].scenario && w[0].mode == w[1].mode)
        .map(|w| {
            json!({
                "scenario": w[0].scenario,
                "mode": if w[0].mode.is_empty() { Value::Null } else { json!(w[0].mode) },
                "sqlite": side(&w[0]),
                "postgres": side(&w[1]),
                "rate_ratio_postgres_to_sqlite": w[1].ratio.map(|x| (x * 1000.0).round() / 1000.0),
            })
        })
        .collect();
    Value::Array(items)
}
