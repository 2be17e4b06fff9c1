//! tasklane: a task-management API server in one binary.
//!
//! Code tour: start at `schema.sql`, then `main.rs`, then follow the modules below.
//!
//! Imports point down only. From the bottom, each module names only these of the crate:
//!
//! - `clock`, `model`, `redact`: nothing.
//! - `store`: `clock`, `model`, `redact`.
//! - `auth`, `hub`: `clock`, `model`, `store`. `throttle`: `clock`, `store`.
//!   `metrics`: `store`.
//! - `domain`: `auth`, `clock`, `hub`, `model`, `store`, `throttle`.
//! - `config`: `redact`, and of `store` only the types its flags name (`Database`,
//!   `DatabaseUrl`, `Synchronous`). `telemetry`: `config`.
//! - `state`: `auth`, `clock`, `config`, `domain`, `hub`, `metrics`, `store`, `throttle`
//!   (the one place they are put together). `housekeeping`: `clock`, `state`.
//! - `error`: `auth`, `domain`, `store` (it maps their errors to HTTP).
//! - `cli`: `clock`, `config`, `domain`, `redact`, `store`.
//! - `api`: all of the above but `cli`, `housekeeping`, `telemetry`.
//! - `web`: `api`, `clock`, `error`, `hub`, `metrics`, `model`, `state`.
//! - `lib` (`app`, `serve`, `run`) and `main`: anything.
//!
//! And below HTTP and the command line: `auth`, `clock`, `domain`, `hub`, `redact`,
//! `store` and `throttle` never name poem, poem-openapi or clap; `model` uses only
//! poem-openapi's schema traits (`Object`, `Enum`, `types`, `registry`), nothing of
//! requests, responses or operations; clap is `config`'s (and `main`'s). `store` is the
//! only code that speaks SQL: no other module names a database driver (the Django
//! import reads the original's database through `store::django`).
//!
//! `tests/api/layering.rs` checks all of this on every `cargo test` (comments aside),
//! and names the file, line and rule of any import that climbs.

#![forbid(unsafe_code)]

/// The OpenAPI operations, one struct per tag or group of paths; the security schemes.
pub mod api;
/// Passwords, JWTs, API tokens and stream tickets, and the check of a credential.
pub mod auth;
/// The operator commands: `user …`, `token …`, `backup`, `copy`, `import-django`,
/// `migrate`.
pub mod cli;
/// Time and random identifiers.
pub mod clock;
/// Command-line and environment configuration (clap).
pub mod config;
/// Account, token and task rules and operations, below HTTP and the command line.
pub mod domain;
/// The single error type and its DRF-shaped HTTP bodies.
pub mod error;
/// Fan-out of task events: in-process, and (with Redis) hints to other processes.
pub mod hub;
/// Prometheus metrics.
pub mod metrics;
/// Users, tasks and events: the nouns every other module shares.
pub mod model;
/// A database URL as it may be shown: its password hidden.
pub mod redact;
/// What every handler can reach (`AppState`) and the knobs they read (`Limits`).
pub mod state;
/// The only code that speaks SQL.
pub mod store;
/// Logging set-up and process signals.
pub mod telemetry;
/// Login and registration throttles (counted in the database, shared by every process),
/// what a client address counts as, and open streams per user (per process).
pub mod throttle;
/// Everything HTTP outside the OpenAPI operations: docs pages, health, middleware.
pub mod web;

/// Pruning old events and keys, forgetting rotated token pairs.
mod housekeeping;

pub use state::{AppState, Limits};

use std::time::Duration;

use poem::{Endpoint, listener::TcpAcceptor};

use crate::config::ServeArgs;

/// The whole HTTP application: `main` and the tests build the same thing.
pub fn app(state: AppState) -> impl Endpoint {
    web::routes(state)
}

/// Serves `app(state)` on an already-bound listener until `shutdown` resolves: then it
/// stops accepting, closes streams with 1001 and finishes in-flight requests (up to 10 s).
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let acceptor = web::deadline::DeadlineAcceptor::new(
        TcpAcceptor::from_tokio(listener)?,
        state.limits.send_timeout,
    );
    let pruner = tokio::spawn(housekeeping::prune_events(state.clone()));
    let sweeper = tokio::spawn(housekeeping::forget_rotated_pairs(state.clone()));
    let throttles = tokio::spawn(housekeeping::prune_throttles(state.clone()));
    let purges = tokio::spawn(housekeeping::purge_deleted_accounts(state.clone()));
    let streams = state.shutdown.clone();
    let signal = async move {
        shutdown.await;
        streams.send_replace(true);
    };
    let result = poem::Server::new_with_acceptor(acceptor)
        .name("tasklane")
        .idle_timeout(Duration::from_secs(120))
        .run_with_graceful_shutdown(app(state), signal, Some(Duration::from_secs(10)))
        .await;
    pruner.abort();
    sweeper.abort();
    throttles.abort();
    purges.abort();
    result
}

/// Builds the state from `args`, binds, and serves until SIGINT or SIGTERM.
pub async fn run(args: ServeArgs) -> Result<(), Box<dyn std::error::Error>> {
    // Every socket is a file descriptor; the usual soft limit of 1024 would cap streams.
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => tracing::debug!(limit = n, "open file limit"),
        Err(e) => tracing::warn!(error = %e, "could not raise the open file limit"),
    }
    let state = AppState::build(&args).await?;
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.bind))?;
    // Before the "listening" line, which tells watchers the start is over.
    if !state.store.any_account().await? {
        let at = listener.local_addr()?;
        tracing::info!(
            "no account yet: open http://{at}/real_data/#signup to sign up, or create one \
             here with `tasklane user create --username NAME --email EMAIL`"
        );
    }
    tracing::info!(
        "tasklane listening on http://{} (database {}); docs at http://{}/swagger/",
        listener.local_addr()?,
        args.database(),
        listener.local_addr()?
    );
    if let Some(addr) = args.metrics_bind {
        let metrics_listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr} (--metrics-bind): {e}"))?;
        tracing::info!(
            "metrics at http://{}/metrics",
            metrics_listener.local_addr()?
        );
        let app = web::metrics_only(state.clone());
        tokio::spawn(async move {
            let acceptor = TcpAcceptor::from_tokio(metrics_listener)?;
            poem::Server::new_with_acceptor(acceptor).run(app).await
        });
    }
    serve(state, listener, telemetry::shutdown_signal()).await?;
    tracing::info!("tasklane stopped");
    Ok(())
}
