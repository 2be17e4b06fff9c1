//! What every handler can reach ([`AppState`]) and the knobs they read ([`Limits`]), built
//! once from the `serve` flags.

use std::sync::Arc;
use std::time::Duration;

use crate::auth::{self, jwt::Jwt};
use crate::clock::new_secret;
use crate::config::{FailedLoginFloor, PublicUrl, ServeArgs};
use crate::hub::{self, Hub};
use crate::metrics;
use crate::store::projects::ProjectLimits;
use crate::store::{self, Store};
use crate::throttle;

/// Limits and knobs the handlers read.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub page_size: u32,
    pub refresh_grace: Duration,
    /// How recent a session's password login must be for a sensitive action without
    /// `current_password` (`--reauth-after`).
    pub reauth_after: Duration,
    pub event_retention: Duration,
    pub trust_x_forwarded_for: bool,
    /// `--public-url`: where clients reach the server; when set, every absolute URL is
    /// built from it and no request header is read for one.
    pub public_url: Option<PublicUrl>,
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
    /// Accept `?token=<access>` on the streams (deprecated `--allow-token-in-url`).
    pub allow_token_in_url: bool,
    /// Members per project, projects owned per user, pending invitations per project.
    pub projects: ProjectLimits,
}

impl Limits {
    /// The knobs the `serve` flags set.
    pub fn from_args(args: &ServeArgs) -> Limits {
        Limits {
            max_body_bytes: args.max_body,
            page_size: args.page_size,
            refresh_grace: args.refresh_grace,
            reauth_after: args.reauth_after,
            event_retention: args.event_retention,
            trust_x_forwarded_for: args.trust_x_forwarded_for,
            public_url: args.public_url.clone(),
            cors_origins: args.cors_origins.clone(),
            idempotency_retention: args.idempotency_retention,
            metrics_on_main: args.metrics,
            stream_recheck: args.stream_recheck,
            max_streams_per_user: args.max_streams_per_user,
            send_timeout: args.send_timeout,
            allow_token_in_url: args.allow_token_in_url,
            projects: ProjectLimits {
                max_members: args.max_project_members,
                max_owned: args.max_owned_projects,
                max_pending_invitations: args.max_pending_invitations,
            },
        }
    }
}

/// What every handler can reach, passed as `Data<&AppState>`.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    /// Rendered task-list pages, checked against the database on every read.
    pub listing: crate::domain::listing::Listing,
    pub jwt: Arc<Jwt>,
    pub hub: Hub,
    pub limits: Arc<Limits>,
    pub throttles: Arc<throttle::Throttles>,
    /// Open streams per user, against `limits.max_streams_per_user`.
    pub streams: Arc<throttle::StreamSlots>,
    pub metrics: Arc<metrics::Metrics>,
    /// Admission to password hashing: bounded, at most `--login-failures` places per
    /// account.
    pub hash_queue: auth::password::HashQueue,
    /// Recently authenticated accounts (one second).
    pub accounts: Arc<auth::AccountCache>,
    /// Flips to `true` when the server starts shutting down; streams close with 1001.
    pub shutdown: Arc<tokio::sync::watch::Sender<bool>>,
    /// Ids of accounts that changed (password, deactivation, deletion), here or in another
    /// process: their open streams re-check their credential at once.
    pub account_changes: tokio::sync::broadcast::Sender<i64>,
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

    /// Opens the database (`--database-url`'s PostgreSQL, else the `--db` SQLite file) and
    /// loads (or creates) the signing secret.
    pub async fn build(args: &ServeArgs) -> Result<AppState, Box<dyn std::error::Error>> {
        let options = store::Options {
            pool_size: args.pool_size,
            synchronous: args.synchronous,
            create: true,
        };
        let store = Store::open(&args.database(), options).await?;
        let secret = match &args.jwt_secret {
            Some(s) => s.0.clone(),
            None => {
                store
                    .setting_or_insert("jwt_secret", Box::new(new_secret))
                    .await?
            }
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
        if args.allow_token_in_url {
            tracing::warn!(
                "--allow-token-in-url is deprecated and goes away in the next minor release: \
                 access tokens in stream URLs end up in proxy logs and browser history. Move \
                 clients to POST /api/stream-tickets/ and ?ticket="
            );
        }
        let accounts = Arc::new(auth::AccountCache::default());
        let account_changes = tokio::sync::broadcast::channel(256).0;
        {
            let (accounts, changes) = (accounts.clone(), account_changes.clone());
            hub.on_account_change(move |user_id| {
                accounts.forget(user_id);
                // No stream open: nobody to tell.
                let _ = changes.send(user_id);
            });
        }
        Ok(AppState {
            store: store.clone(),
            listing: crate::domain::listing::Listing::new(args.list_cache_mb * 1024 * 1024),
            jwt: Arc::new(Jwt::new(
                secret.as_bytes(),
                args.access_ttl,
                args.refresh_ttl,
            )),
            hub,
            limits: Arc::new(Limits::from_args(args)),
            metrics,
            // One account takes at most the places one address could use on it.
            hash_queue: auth::password::HashQueue::new(
                args.hash_queue as usize,
                args.login_failures as usize,
            )
            .with_floor(failure_floor(args.failed_login_floor).await?),
            accounts,
            streams: Arc::new(throttle::StreamSlots::new(args.max_streams_per_user)),
            throttles: Arc::new(throttle::Throttles {
                login: throttle::Throttle::new(
                    "login",
                    args.login_failures,
                    args.throttle_window,
                    store.clone(),
                ),
                login_address: throttle::Throttle::new(
                    "login_address",
                    args.login_failures_per_address,
                    args.throttle_window,
                    store.clone(),
                ),
                register: throttle::Throttle::new(
                    "register",
                    args.registrations_per_address,
                    args.throttle_window,
                    store.clone(),
                ),
                invite: throttle::Throttle::new(
                    "invite",
                    args.invitations_per_user,
                    args.throttle_window,
                    store.clone(),
                ),
            }),
            shutdown: Arc::new(tokio::sync::watch::channel(false).0),
            account_changes,
        })
    }
}

/// The floor failed logins answer at: `auto` measures the dearest hash a login may verify
/// (a quarter of a second or so of CPU, at start-up).
async fn failure_floor(
    arg: FailedLoginFloor,
) -> Result<auth::floor::FailureFloor, Box<dyn std::error::Error>> {
    let floor = match arg {
        FailedLoginFloor::Fixed(base) => auth::floor::FailureFloor::fixed(base),
        FailedLoginFloor::Auto => {
            let dearest = tokio::task::spawn_blocking(auth::password::dearest_verification).await?;
            let floor = auth::floor::FailureFloor::calibrated(dearest);
            tracing::info!(
                dearest_ms = dearest.as_millis() as u64,
                floor_ms = floor.base().as_millis() as u64,
                "failed logins answer no sooner than the floor (1.5 times the dearest hash a \
                 login may verify here, at least 250 ms)"
            );
            floor
        }
    };
    Ok(floor)
}
