//! tasklane: a task-management API server in one binary.
//!
//! Code tour: start at `schema.sql`, then `main.rs`, then follow the modules below.
//! Dependencies point one way: `api` → `auth`, `store`, `hub` → `model`.

/// The OpenAPI operations, one struct per tag.
pub mod api;
/// Passwords, JWTs and the Bearer security scheme.
pub mod auth;
/// The operator commands: `user …`, `backup`, `migrate`.
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
/// Login and registration throttles, and the count of open streams per user (per process).
pub mod limits;
/// Prometheus metrics.
pub mod metrics;
/// Users, tasks and events: the nouns every other module shares.
pub mod model;
/// The only code that speaks SQL.
pub mod store;
/// Logging set-up and process signals.
pub mod telemetry;
/// Everything HTTP outside the OpenAPI operations: docs pages, health, middleware.
pub mod web;

use std::sync::Arc;
use std::time::Duration;

use poem::{Endpoint, listener::TcpAcceptor};

use crate::auth::jwt::Jwt;
use crate::clock::new_secret;
use crate::config::ServeArgs;
use crate::hub::Hub;
use crate::store::Store;

/// Limits and knobs the handlers read.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub page_size: u32,
    pub refresh_grace: Duration,
    pub event_retention: Duration,
    pub trust_x_forwarded_for: bool,
    pub cors_origins: Vec<String>,
    pub idempotency_retention: Duration,
    /// Serve `/metrics` on the main address.
    pub metrics_on_main: bool,
    pub stream_recheck: Duration,
    /// Open streams (WebSocket and SSE together) per user in this process.
    pub max_streams_per_user: u32,
    /// How long a write to a client may make no progress before the connection (or the
    /// stream) is closed as stalled.
    pub send_timeout: Duration,
}

/// What every handler can reach, passed as `Data<&AppState>`.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub jwt: Arc<Jwt>,
    pub hub: Hub,
    pub limits: Arc<Limits>,
    pub throttles: Arc<limits::Throttles>,
    /// Open streams per user, against `limits.max_streams_per_user`.
    pub streams: Arc<limits::StreamSlots>,
    pub metrics: Arc<metrics::Metrics>,
    /// Admission to password hashing: bounded, at most `--login-failures` places per
    /// account.
    pub hash_queue: auth::password::HashQueue,
    /// Recently authenticated accounts (one second).
    pub accounts: Arc<auth::AccountCache>,
    /// Flips to `true` when the server starts shutting down; streams close with 1001.
    pub shutdown: Arc<tokio::sync::watch::Sender<bool>>,
}

impl AppState {
    /// What the Bearer scheme needs to check a token.
    pub fn authenticator(&self) -> auth::Authenticator {
        auth::Authenticator {
            store: self.store.clone(),
            jwt: self.jwt.clone(),
            accounts: self.accounts.clone(),
        }
    }

    /// Opens the database and loads (or creates) the signing secret.
    pub async fn build(args: &ServeArgs) -> Result<AppState, Box<dyn std::error::Error>> {
        let db = args.db.clone();
        let pool_size = args.pool_size;
        let store = tokio::task::spawn_blocking(move || Store::open(&db, pool_size)).await??;
        let secret = match &args.jwt_secret {
            Some(s) => s.0.clone(),
            None => store.setting_or_insert("jwt_secret", new_secret).await?,
        };
        // Made on the database's first start, so every database has one.
        let database_id = store.database_id().await?;
        let redis = args.redis_url.clone().map(|url| hub::redis::Config {
            url,
            prefix: args.redis_channel.clone(),
            database_id,
            key: hub::redis::HintKey::from_secret(secret.as_bytes()),
        });
        let metrics = Arc::new(metrics::Metrics::new());
        let hub = Hub::new(
            store.clone(),
            args.stream_buffer as usize,
            redis,
            metrics.events_published.clone(),
        )
        .map_err(|e| format!("--redis-url: {e}"))?;
        Ok(AppState {
            store: store.clone(),
            jwt: Arc::new(Jwt::new(
                secret.as_bytes(),
                args.access_ttl,
                args.refresh_ttl,
            )),
            hub,
            limits: Arc::new(Limits {
                max_body_bytes: args.max_body,
                page_size: args.page_size,
                refresh_grace: args.refresh_grace,
                event_retention: args.event_retention,
                trust_x_forwarded_for: args.trust_x_forwarded_for,
                cors_origins: args.cors_origins.clone(),
                idempotency_retention: args.idempotency_retention,
                metrics_on_main: args.metrics,
                stream_recheck: args.stream_recheck,
                max_streams_per_user: args.max_streams_per_user,
                send_timeout: args.send_timeout,
            }),
            metrics,
            // One account takes at most the places one address could use on it.
            hash_queue: auth::password::HashQueue::new(
                args.hash_queue as usize,
                args.login_failures as usize,
            ),
            accounts: Arc::default(),
            streams: Arc::new(limits::StreamSlots::new(args.max_streams_per_user)),
            throttles: Arc::new(limits::Throttles {
                login: limits::Throttle::new(args.login_failures, args.throttle_window),
                login_address: limits::Throttle::new(
                    args.login_failures_per_address,
                    args.throttle_window,
                ),
                register: limits::Throttle::new(
                    args.registrations_per_address,
                    args.throttle_window,
                ),
            }),
            shutdown: Arc::new(tokio::sync::watch::channel(false).0),
        })
    }
}

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
    let pruner = tokio::spawn(prune_events(state.clone()));
    let sweeper = tokio::spawn(forget_rotated_pairs(state.clone()));
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
    result
}

/// Clears the pair kept for each rotated refresh token once its grace window has passed
/// (within two seconds of it), so the database never holds a usable JWT for long.
async fn forget_rotated_pairs(state: AppState) {
    let grace = state.limits.refresh_grace;
    let every = (grace / 4).clamp(Duration::from_millis(250), Duration::from_secs(2));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let before = clock::now_secs_f64() - grace.as_secs_f64();
        if let Err(e) = state.store.forget_successors(before).await {
            tracing::warn!(error = %e, "forgetting rotated token pairs failed");
        }
    }
}

/// Deletes events and idempotency keys older than their retention windows, now and then.
async fn prune_events(state: AppState) {
    let retention = state.limits.event_retention;
    let every = (retention / 10).clamp(Duration::from_secs(1), Duration::from_secs(3600));
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let cutoff = clock::timestamp_ago(retention);
        match state.store.prune_events(cutoff).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(events = n, "pruned events past the retention window"),
            Err(e) => tracing::warn!(error = %e, "pruning events failed"),
        }
        let keys_before = clock::now_secs_f64() - state.limits.idempotency_retention.as_secs_f64();
        if let Err(e) = state.store.prune_idempotency_keys(keys_before).await {
            tracing::warn!(error = %e, "pruning idempotency keys failed");
        }
    }
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
    tracing::info!(
        "tasklane listening on http://{} (database {}); docs at http://{}/swagger/",
        listener.local_addr()?,
        args.db.display(),
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
