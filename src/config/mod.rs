//! Command-line and environment configuration, parsed once in `main` with clap.
//! Every `serve` flag, the operator commands' `--db` and `--database-url`, and the
//! databases `copy` and `import-django` read from (`TASKLANE_COPY_FROM`,
//! `TASKLANE_COPY_TO`, `TASKLANE_IMPORT_FROM`) have a `TASKLANE_*` environment twin (the
//! other operator-command flags are command-line only); the doc comments are the
//! `--help`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::store::Synchronous;

pub mod commands;
mod public_url;
pub mod reference;
mod secret;
mod synchronous;

/// The database the flags name: the store defines it, and opens it.
pub use crate::store::Database;
pub use crate::store::DatabaseUrl;
pub use public_url::{PublicUrl, normal_origin, valid_host};
pub use secret::{Secret, SecretParser};

#[derive(Parser, Debug)]
#[command(
    name = "tasklane",
    version,
    about = "Task-management API server in one binary"
)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Exit status: 0 on success; 1 when the command failed (the reason is on \
                  stderr); 2 for a usage error (an unknown or invalid flag)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Flags for `serve`, the default command.
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the HTTP server (the default when no command is given).
    Serve(Box<ServeArgs>),
    /// Print the OpenAPI document (JSON) to stdout, or write it to a file.
    Openapi {
        /// Write to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Manage accounts: create, list, set-password, deactivate, activate. Works while the
    /// server runs on the same database.
    User(commands::UserArgs),
    /// Copy the database to a new file while the server keeps running (SQLite online
    /// backup), then check the copy's integrity.
    Backup(commands::BackupArgs),
    /// Manage personal API tokens: create (prints the secret once), list, revoke.
    Token(commands::TokenArgs),
    /// Shared projects: list a user's, transfer one to another member.
    Project(commands::ProjectArgs),
    /// Copy a whole deployment between SQLite and PostgreSQL (either way, or file to
    /// file): accounts, tasks, event history, tokens and settings, into an empty target,
    /// then read the target back and check it.
    Copy(commands::CopyArgs),
    /// Print a shell completion script: `tasklane completions bash > /etc/bash_completion.d/tasklane`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `tasklane man | man -l -`, or save it as
    /// `/usr/local/share/man/man1/tasklane.1`.
    Man,
    /// Import the original Django app's accounts (with their password hashes) and tasks,
    /// ids and timestamps kept, into a database holding no accounts yet.
    ImportDjango(commands::ImportDjangoArgs),
    /// Apply pending schema migrations (the server also does on start) and print the
    /// schema version before and after.
    Migrate(commands::DbArgs),
    /// Print reference documentation generated from this binary's own definition.
    Docs(commands::DocsArgs),
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(
        help_heading = "Server",
        long,
        env = "TASKLANE_BIND",
        default_value = "127.0.0.1:8000"
    )]
    pub bind: SocketAddr,

    /// SQLite database file; created on first start.
    #[arg(
        help_heading = "Server",
        long,
        env = "TASKLANE_DB",
        default_value = "tasklane.db"
    )]
    pub db: PathBuf,

    /// PostgreSQL instead of the SQLite file, for several hosts on one database:
    /// `postgres://user:password@host:5432/tasklane?sslmode=verify-full`. `sslmode` is
    /// libpq's: `disable`, `prefer` (the default; unverified), `require` (unverified),
    /// `verify-ca`, `verify-full`; `sslrootcert=FILE` names the trusted roots (the
    /// system's by default). The schema is created or migrated on start. Not with `--db`.
    #[arg(
        help_heading = "Server",
        long,
        env = "TASKLANE_DATABASE_URL",
        hide_env_values = true,
        conflicts_with = "db"
    )]
    pub database_url: Option<DatabaseUrl>,

    /// When a write is acknowledged (SQLite): `full` (the default) syncs each commit to
    /// stable storage before answering, so no acknowledged write is lost even to a power
    /// cut; `normal` answers once the OS has the write, faster but a power cut or kernel
    /// crash can lose the last writes (a crash of tasklane itself loses nothing). On
    /// PostgreSQL every commit waits for its WAL flush (`synchronous_commit=on`).
    #[arg(help_heading = "Server", long, env = "TASKLANE_SYNCHRONOUS", value_parser = synchronous::parser(), default_value = "full")]
    pub synchronous: Synchronous,

    /// Secret for signing JWTs (HS256). When absent, one is generated on first start and
    /// kept in the database, so restarts don't log anyone out.
    #[arg(
        help_heading = "Auth",
        long,
        env = "TASKLANE_JWT_SECRET",
        hide_env_values = true,
        value_parser = SecretParser
    )]
    pub jwt_secret: Option<Secret>,

    /// Lifetime of access tokens, e.g. `5m`, `1h`.
    #[arg(help_heading = "Auth", long, env = "TASKLANE_ACCESS_TTL", default_value = "5m", value_parser = humantime::parse_duration)]
    pub access_ttl: Duration,

    /// Lifetime of refresh tokens, e.g. `1d`.
    #[arg(help_heading = "Auth", long, env = "TASKLANE_REFRESH_TTL", default_value = "1d", value_parser = humantime::parse_duration)]
    pub refresh_ttl: Duration,

    /// How long a just-rotated refresh token may be presented again and get the same new
    /// pair (two tabs, or a retried request), before reuse counts as theft.
    #[arg(help_heading = "Auth", long, env = "TASKLANE_REFRESH_GRACE", default_value = "10s", value_parser = humantime::parse_duration)]
    pub refresh_grace: Duration,

    /// How long after a password login a session may mint API tokens or change the
    /// username or email without sending `current_password` again. Refreshing a session
    /// does not extend it. `0s`: always ask for the password.
    #[arg(help_heading = "Auth", long, env = "TASKLANE_REAUTH_AFTER", default_value = "10m", value_parser = humantime::parse_duration)]
    pub reauth_after: Duration,

    /// How long task events are kept for streams to resume from (`since`). Older
    /// events are pruned; resuming from before them gets a `reset`.
    #[arg(help_heading = "Streams", long, env = "TASKLANE_EVENT_RETENTION", default_value = "7d", value_parser = humantime::parse_duration)]
    pub event_retention: Duration,

    /// How long an `Idempotency-Key` is remembered.
    #[arg(help_heading = "Limits", long, env = "TASKLANE_IDEMPOTENCY_RETENTION", default_value = "24h", value_parser = humantime::parse_duration)]
    pub idempotency_retention: Duration,

    /// How often an open stream re-checks that its credential still stands (account
    /// active, password unchanged since the token was issued, API token live); otherwise
    /// it closes with 4003. Checks go through a one-second account cache.
    #[arg(help_heading = "Streams", long, env = "TASKLANE_STREAM_RECHECK", default_value = "1s", value_parser = humantime::parse_duration)]
    pub stream_recheck: Duration,

    /// How many events a stream may fall behind before it is closed as too slow (4008).
    #[arg(help_heading = "Streams", long, env = "TASKLANE_STREAM_BUFFER", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub stream_buffer: u32,

    /// Open event streams (WebSockets and SSE together) allowed per user in this
    /// process; past it, a new stream gets 429 with `Retry-After` before any upgrade.
    #[arg(help_heading = "Streams", long, env = "TASKLANE_MAX_STREAMS_PER_USER", default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_streams_per_user: u32,

    /// How long a write to a client may make no progress (the client stopped reading)
    /// before its connection is closed and its buffers freed; the same deadline applies
    /// to each frame of a stream.
    #[arg(help_heading = "Streams", long, env = "TASKLANE_SEND_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration, hide = true)]
    pub send_timeout: Duration,

    /// Redis URL (`redis://127.0.0.1:6379`): tell every process sharing the database when
    /// events are committed, so their streams read them. Without it the server runs
    /// single-node and never contacts Redis.
    #[arg(
        help_heading = "Streams",
        long,
        env = "TASKLANE_REDIS_URL",
        hide_env_values = true
    )]
    pub redis_url: Option<String>,

    /// Prefix of the Redis channel (`<prefix>:events`). Deployments sharing a Redis ignore
    /// each other's messages whatever the prefix; a separate one spares them the traffic.
    #[arg(
        help_heading = "Streams",
        long,
        env = "TASKLANE_REDIS_CHANNEL",
        default_value = "tasklane"
    )]
    pub redis_channel: String,

    /// Login attempts per client address and username that may reach the password check
    /// within `--throttle-window` (counted before hashing, however many arrive at once);
    /// past it, 429 with `Retry-After`. A successful login clears the count. IPv6 clients
    /// count per /64.
    #[arg(
        help_heading = "Auth",
        long,
        env = "TASKLANE_LOGIN_FAILURES",
        default_value_t = 5
    )]
    pub login_failures: u32,

    /// Login attempts per client address (any username) that may reach the password
    /// check within the window; successful ones don't count.
    #[arg(
        help_heading = "Auth",
        long,
        env = "TASKLANE_LOGIN_FAILURES_PER_ADDRESS",
        default_value_t = 30
    )]
    pub login_failures_per_address: u32,

    /// Registration attempts per client address within the window, whether they succeed
    /// or fail (so taken usernames and emails can't be probed without limit).
    #[arg(
        help_heading = "Auth",
        long,
        env = "TASKLANE_REGISTRATIONS_PER_ADDRESS",
        default_value_t = 20
    )]
    pub registrations_per_address: u32,

    /// Project invitations one user may send within `--throttle-window`; past it, 429
    /// with `Retry-After`.
    #[arg(
        help_heading = "Limits",
        long,
        env = "TASKLANE_INVITATIONS_PER_USER",
        default_value_t = 100
    )]
    pub invitations_per_user: u32,

    /// Members a shared project may have, its owner included; an invitation or an
    /// acceptance past it is refused (409).
    #[arg(help_heading = "Limits", long, env = "TASKLANE_MAX_PROJECT_MEMBERS", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_project_members: u32,

    /// Projects one user may own; creating or receiving one more is refused (409).
    #[arg(
        help_heading = "Limits",
        long,
        env = "TASKLANE_MAX_OWNED_PROJECTS",
        default_value_t = 100
    )]
    pub max_owned_projects: u32,

    /// Pending (not accepted, not expired) invitations a project may have at once; past
    /// it, 409 until one is accepted, declined, withdrawn or expires.
    #[arg(
        help_heading = "Limits",
        long,
        env = "TASKLANE_MAX_PENDING_INVITATIONS",
        default_value_t = 100
    )]
    pub max_pending_invitations: u32,

    /// Password hashes (logins, registrations) that may run or wait at once; past it, a
    /// request is answered 503 with `Retry-After` at once instead of queueing. Hashes run
    /// one per core (up to 8); one account takes at most `--login-failures` of these
    /// places, however many addresses it is attacked from.
    #[arg(help_heading = "Limits", long, env = "TASKLANE_HASH_QUEUE", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub hash_queue: u32,

    /// Failed logins answer no sooner than this after they arrive, so their timing does
    /// not tell an unknown username, a native account and one with a hash imported from
    /// the Django app apart. `auto`: measured at start-up, 1.5 times the dearest hash a
    /// login may verify, at least 250 ms; it rises with the load. `0s` turns it off.
    #[arg(help_heading = "Auth", long, env = "TASKLANE_FAILED_LOGIN_FLOOR", default_value = "auto", value_parser = parse_floor)]
    pub failed_login_floor: FailedLoginFloor,

    /// The window the login and registration limits count in.
    #[arg(help_heading = "Auth", long, env = "TASKLANE_THROTTLE_WINDOW", default_value = "15m", value_parser = humantime::parse_duration)]
    pub throttle_window: Duration,

    /// Take the client address from the right-most `X-Forwarded-For` address, across
    /// every `X-Forwarded-For` line (only behind a reverse proxy that appends it;
    /// otherwise clients could pick their own address), and, without `--public-url`, the
    /// scheme and host of absolute URLs from the right-most `X-Forwarded-Proto` and
    /// `X-Forwarded-Host`.
    #[arg(help_heading = "Server", long, env = "TASKLANE_TRUST_X_FORWARDED_FOR")]
    pub trust_x_forwarded_for: bool,

    /// The URL clients reach the server at, e.g. `https://tasks.example.com` (scheme, host
    /// and port; no path). Every absolute URL the server writes (the API root's links,
    /// the task list's `Link`) is built from it, whatever `Host` or `X-Forwarded-*` a
    /// request carries, and its origin is the server's own, always allowed past
    /// `--cors-origin`. Without it, URLs follow the request's `Host` (with
    /// `--trust-x-forwarded-for`, the proxy's right-most `X-Forwarded-Host` and `-Proto`).
    #[arg(help_heading = "Server", long, env = "TASKLANE_PUBLIC_URL")]
    pub public_url: Option<PublicUrl>,

    /// Deprecated, off by default, and to be removed in the next minor release: accept an
    /// access token in `?token=` on `/ws/tasks/` and `/api/events/`, for clients not yet
    /// moved to stream tickets (`POST /api/stream-tickets/`, then `?ticket=`). URLs end up
    /// in proxy logs and browser history, and an access token is a whole session. A
    /// personal API token in a URL is refused even so.
    #[arg(help_heading = "Streams", long, env = "TASKLANE_ALLOW_TOKEN_IN_URL")]
    pub allow_token_in_url: bool,

    /// Allow browser pages from this origin to call the API (CORS), e.g.
    /// `https://app.example.com`; repeat for several. Off by default; never `*`.
    #[arg(help_heading = "Server", long = "cors-origin", env = "TASKLANE_CORS_ORIGINS", value_delimiter = ',', value_parser = parse_origin)]
    pub cors_origins: Vec<String>,

    /// Serve Prometheus metrics at `/metrics` on the main address.
    #[arg(help_heading = "Operations", long, env = "TASKLANE_METRICS")]
    pub metrics: bool,

    /// Serve Prometheus metrics at `/metrics` on this separate address instead (keep it
    /// private, e.g. `127.0.0.1:9100`).
    #[arg(help_heading = "Operations", long, env = "TASKLANE_METRICS_BIND")]
    pub metrics_bind: Option<SocketAddr>,

    /// Largest request body accepted, in bytes.
    #[arg(help_heading = "Limits", long, env = "TASKLANE_MAX_BODY", default_value_t = 1 << 20)]
    pub max_body: usize,

    /// Tasks per page when the list is called without `limit`.
    #[arg(help_heading = "Limits", long, env = "TASKLANE_PAGE_SIZE", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub page_size: u32,

    /// Memory for rendered task-list pages, in MiB (0: render every list). A kept page
    /// is served only after a point read shows the user's tasks unchanged since.
    #[arg(help_heading = "Limits", long, env = "TASKLANE_LIST_CACHE_MB", default_value_t = 32, value_parser = clap::value_parser!(u64).range(0..=65_536))]
    pub list_cache_mb: u64,

    /// Database connections in the pool (SQLite readers, or PostgreSQL connections).
    #[arg(
        help_heading = "Server",
        long,
        env = "TASKLANE_POOL_SIZE",
        default_value_t = 8
    )]
    pub pool_size: u32,

    /// Log filter: a level (`info`, `debug`…) or a tracing directive list.
    #[arg(
        help_heading = "Operations",
        long,
        env = "TASKLANE_LOG",
        default_value = "info"
    )]
    pub log: String,

    /// Log format: `text` for people, `json` (one object per line) for machines.
    #[arg(help_heading = "Operations", long, env = "TASKLANE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// `--failed-login-floor`: measured at start-up, or given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailedLoginFloor {
    Auto,
    Fixed(Duration),
}

fn parse_floor(s: &str) -> Result<FailedLoginFloor, String> {
    if s.trim() == "auto" {
        return Ok(FailedLoginFloor::Auto);
    }
    let d = humantime::parse_duration(s.trim())
        .map_err(|e| format!("expected `auto` or a duration such as 300ms: {e}"))?;
    if d > Duration::from_secs(10) {
        return Err("at most 10s".into());
    }
    Ok(FailedLoginFloor::Fixed(d))
}

/// An origin: `scheme://host[:port]`, nothing else (and never `*`).
fn parse_origin(s: &str) -> Result<String, String> {
    let s = s.trim().trim_end_matches('/');
    let ok = (s.starts_with("http://") || s.starts_with("https://"))
        && s.split_once("://")
            .is_some_and(|(_, host)| !host.is_empty() && !host.contains(['/', '*', '?', '#', ' ']));
    if ok {
        Ok(s.to_owned())
    } else {
        Err("expected an origin like https://app.example.com (no path, no wildcard)".into())
    }
}

impl ServeArgs {
    /// The settings of `tasklane serve` with no flags, for tests and tools that build a
    /// server in-process. Like `serve`, it reads `TASKLANE_*` variables: set in the
    /// environment, they apply here too.
    pub fn defaults(db: PathBuf) -> ServeArgs {
        let mut args = Cli::parse_from(["tasklane", "serve"]).serve_args();
        args.db = db;
        args
    }
}

impl ServeArgs {
    /// The database to serve: `--database-url` when given, else the `--db` file.
    pub fn database(&self) -> Database {
        Database::chosen(&self.db, &self.database_url)
    }
}

impl commands::DbArgs {
    /// The database to work on: `--database-url` when given, else the `--db` file.
    pub fn database(&self) -> Database {
        Database::chosen(&self.db, &self.database_url)
    }
}

impl Cli {
    /// The serve flags, wherever they were given.
    pub fn serve_args(self) -> ServeArgs {
        match self.command {
            Some(Command::Serve(args)) => *args,
            _ => self.serve,
        }
    }
}
