//! `tasklane-bench`: starts a release tasklane on a temporary database (or targets
//! `--base`), loads it over loopback and prints a table and a JSON summary.
//!
//! `--backend sqlite` (the default) serves a temporary SQLite file, `postgres` a fresh
//! PostgreSQL database made and dropped through `--postgres-url`, and `both` runs every
//! selected scenario on each (a fresh server each), in one table with PostgreSQL's
//! throughput over SQLite's; the JSON then has `backends.sqlite`, `backends.postgres`
//! and a `comparison`.
//!
//! Scenarios, in this order: `healthz` (the stack's ceiling), `list` (GET a 50-task list),
//! `list-shapes` (every list shape at 50 tasks and at `--list-tasks`, with their ratio;
//! only when asked with `--only`, see `shapes`), `project-list` (GET the list of a member of 10 projects × 200 tasks), `create` (POST
//! tasks), `project-create` (POST tasks into a 20-member project, every member listening
//! on a WebSocket, each of whom must hear every create once), `login` (POST /api/token/,
//! argon2id), `fanout` (WebSocket delivery latency and loss while writes run) and `idle`
//! (server memory with many idle authenticated WebSockets). Every phase is bounded in
//! time, and the whole run by `--max-time`.
//!
//! The HTTP scenarios (all but fanout and idle) run closed-loop: each connection
//! sends its next request when the previous answer arrives. With `--open-loop FRACTION`
//! (or `--open-loop-rate`) each also runs open-loop right after, at a constant arrival
//! rate, with latency counted from each request's intended send time, so queueing shows
//! (see `load`). The table and the JSON label each run `closed` or `open`.

mod api;
mod args;
mod backend;
mod http;
mod load;
mod pg;
mod projects;
mod report;
mod run;
mod scenarios;
mod seed;
mod server;
mod shapes;
mod soak;
mod ws;

use std::process::{ExitCode, Stdio};
use std::time::Duration;

use clap::Parser;
use serde_json::{Value, json};

use crate::args::Args;
use crate::run::run;

/// Users the create and login scenarios spread over.
const LOAD_USERS: usize = 8;

fn main() -> ExitCode {
    let args = Args::parse();
    let machine = server::machine();
    let nofile = rlimit::increase_nofile_limit(u64::MAX).ok();
    // Before the runtime exists, so every thread it starts inherits the affinity.
    let client_cpus = pin_self(&args.client_cpus);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tasklane-bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let env = json!({
        "command": shown_command(),
        "started_at": chrono::Utc::now().to_rfc3339(),
        "machine": machine,
        "client": {
            "cpus": client_cpus,
            "worker_threads": std::thread::available_parallelism().map(|n| n.get()).ok(),
            "nofile_limit": nofile,
        },
    });
    let result = runtime.block_on(run(&args, env));
    // Don't wait for sockets or connection tasks left behind.
    runtime.shutdown_timeout(Duration::from_secs(1));
    match result {
        Ok(summary) => {
            let text = serde_json::to_string_pretty(&summary).unwrap_or_default();
            println!("{text}");
            let passed = summary["checks"]["passed"].as_bool().unwrap_or(true);
            if let Some(path) = &args.json
                && let Err(e) = std::fs::write(path, format!("{text}\n"))
            {
                eprintln!("tasklane-bench: cannot write {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
            if passed {
                ExitCode::SUCCESS
            } else {
                eprintln!(
                    "tasklane-bench: WebSocket events were lost or duplicated (see checks: fanout, project-create)"
                );
                ExitCode::from(2)
            }
        }
        Err(e) => {
            eprintln!("tasklane-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// This process's arguments, with any password in `--postgres-url` hidden.
fn shown_command() -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for arg in std::env::args() {
        let shown = if out.last().is_some_and(|a| a == "--postgres-url") {
            pg::redact(&arg)
        } else if let Some(url) = arg.strip_prefix("--postgres-url=") {
            format!("--postgres-url={}", pg::redact(url))
        } else {
            arg
        };
        out.push(shown);
    }
    out
}

/// Pins this process (its only thread, so far) to `cpus` with `taskset`.
fn pin_self(cpus: &str) -> Value {
    if cpus == "all" {
        return json!("all");
    }
    let status = std::process::Command::new("taskset")
        .args(["-pc", cpus, &std::process::id().to_string()])
        .stdout(Stdio::null())
        .status();
    match status {
        Ok(s) if s.success() => json!(cpus),
        other => {
            eprintln!("tasklane-bench: could not pin to CPUs {cpus} ({other:?}); running unpinned");
            json!("all")
        }
    }
}

fn progress(msg: impl AsRef<str>) {
    eprintln!("[bench] {}", msg.as_ref());
}
