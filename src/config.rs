//! Command-line and environment configuration, parsed once in `main` with clap.
//! Every flag has a `TASKLANE_*` environment twin; the doc comments are the `--help`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "tasklane",
    version,
    about = "Task-management API server in one binary"
)]
#[command(args_conflicts_with_subcommands = true)]
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
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "TASKLANE_BIND", default_value = "127.0.0.1:8000")]
    pub bind: SocketAddr,

    /// SQLite database file; created on first start.
    #[arg(long, env = "TASKLANE_DB", default_value = "tasklane.db")]
    pub db: PathBuf,

    /// Secret for signing JWTs (HS256). When absent, one is generated on first start and
    /// kept in the database, so restarts don't log anyone out.
    #[arg(long, env = "TASKLANE_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<Secret>,

    /// Lifetime of access tokens, e.g. `5m`, `1h`.
    #[arg(long, env = "TASKLANE_ACCESS_TTL", default_value = "5m", value_parser = humantime::parse_duration)]
    pub access_ttl: Duration,

    /// Lifetime of refresh tokens, e.g. `1d`.
    #[arg(long, env = "TASKLANE_REFRESH_TTL", default_value = "1d", value_parser = humantime::parse_duration)]
    pub refresh_ttl: Duration,

    /// How long a just-rotated refresh token may be presented again and get the same new
    /// pair (two tabs, or a retried request), before reuse counts as theft.
    #[arg(long, env = "TASKLANE_REFRESH_GRACE", default_value = "10s", value_parser = humantime::parse_duration)]
    pub refresh_grace: Duration,

    /// How long task events are kept for streams to resume from (`since`). Older
    /// events are pruned; resuming from before them gets a `reset`.
    #[arg(long, env = "TASKLANE_EVENT_RETENTION", default_value = "7d", value_parser = humantime::parse_duration)]
    pub event_retention: Duration,

    /// How many events a stream may fall behind before it is closed as too slow (4008).
    #[arg(long, env = "TASKLANE_STREAM_BUFFER", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub stream_buffer: u32,

    /// Redis URL (`redis://127.0.0.1:6379`): fan task events out to every process sharing
    /// the database. Without it the server runs single-node and never contacts Redis.
    #[arg(long, env = "TASKLANE_REDIS_URL")]
    pub redis_url: Option<String>,

    /// Prefix of the Redis channel (`<prefix>:events`), so deployments can share a Redis.
    #[arg(long, env = "TASKLANE_REDIS_CHANNEL", default_value = "tasklane")]
    pub redis_channel: String,

    /// Largest request body accepted, in bytes.
    #[arg(long, env = "TASKLANE_MAX_BODY", default_value_t = 1 << 20)]
    pub max_body: usize,

    /// Tasks per page when the list is called without `limit`.
    #[arg(long, env = "TASKLANE_PAGE_SIZE", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub page_size: u32,

    /// SQLite connections in the pool.
    #[arg(long, env = "TASKLANE_POOL_SIZE", default_value_t = 8)]
    pub pool_size: u32,

    /// Log filter: a level (`info`, `debug`…) or a tracing directive list.
    #[arg(long, env = "TASKLANE_LOG", default_value = "info")]
    pub log: String,
}

/// A secret string whose `Debug` never shows it.
#[derive(Clone)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::str::FromStr for Secret {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.len() < 32 {
            return Err("must be at least 32 characters".into());
        }
        Ok(Secret(s.to_owned()))
    }
}

impl ServeArgs {
    /// The defaults, as `tasklane serve` with no flags and no environment would have them,
    /// for tests and tools that build a server in-process.
    pub fn defaults(db: PathBuf) -> ServeArgs {
        let mut args = Cli::parse_from(["tasklane", "serve"]).serve_args();
        args.db = db;
        args
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
