//! The flags of the commands other than `serve`: `user`, `token`, `backup`, `copy`,
//! `import-django`, `migrate` and `docs`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};

/// `--db` or `--database-url`, shared by every operator command.
#[derive(Args, Debug, Clone)]
pub struct DbArgs {
    /// SQLite database file: the server's `--db`.
    #[arg(
        long,
        env = "TASKLANE_DB",
        default_value = "tasklane.db",
        global = true
    )]
    pub db: PathBuf,
    /// PostgreSQL database URL instead: the server's `--database-url`. Not with `--db`.
    #[arg(
        long,
        env = "TASKLANE_DATABASE_URL",
        hide_env_values = true,
        global = true,
        conflicts_with = "db"
    )]
    pub database_url: Option<super::DatabaseUrl>,
}

/// `tasklane user …`.
#[derive(Args, Debug)]
pub struct UserArgs {
    #[command(subcommand)]
    pub command: UserCommand,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create an account, validated exactly like `POST /api/register/`.
    Create {
        /// Letters, digits and `@.+-_`; at most 150 characters; stored NFKC-normalised
        /// (`ａｌｉｃｅ` is `alice`), as every command and the API read it.
        #[arg(long)]
        username: String,
        /// A valid email address, not used by another account (ignoring case).
        #[arg(long)]
        email: String,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// List every account: id, username, email, active.
    List {
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Set a user's password (validated like registration) and revoke their refresh
    /// tokens, so every session ends at its next refresh.
    SetPassword {
        #[arg(long)]
        username: String,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Deactivate an account: no more logins, refreshes or API calls; revokes its
    /// refresh tokens.
    Deactivate {
        #[arg(long)]
        username: String,
    },
    /// Reactivate a deactivated account.
    Activate {
        #[arg(long)]
        username: String,
    },
    /// Delete an account with its tasks, events and tokens; its username and email are
    /// free again. Asks for confirmation on a terminal.
    Delete {
        #[arg(long)]
        username: String,
        /// Do not ask (needed when stdin is not a terminal).
        #[arg(long)]
        yes: bool,
    },
}

/// Where the password comes from. Without either flag it is asked for on the terminal
/// (not echoed, typed twice), or read from standard input when that is not a terminal.
#[derive(Args, Debug)]
#[group(multiple = false)]
pub struct PasswordArgs {
    /// Read the password from the first line of standard input. Without this flag or
    /// `--password`, it is asked for on the terminal (not echoed, typed twice).
    #[arg(long)]
    pub password_stdin: bool,
    /// The password. Other local users can see it in the process list: prefer
    /// `--password-stdin`.
    #[arg(long)]
    pub password: Option<String>,
}

/// `tasklane backup PATH`.
#[derive(Args, Debug)]
pub struct BackupArgs {
    /// The file to write: a complete, self-contained copy of the database.
    pub path: PathBuf,
    /// Replace PATH if it already exists.
    #[arg(long)]
    pub force: bool,
    /// Database pages (4 KiB by default) copied per step.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(i32).range(1..))]
    pub pages_per_step: i32,
    /// Pause between steps, leaving the disk to the live server (e.g. `10ms`).
    #[arg(long, default_value = "5ms", value_parser = humantime::parse_duration)]
    pub step_pause: Duration,
    /// Never draw the progress bar (it is drawn only when stderr is a terminal and the
    /// database is larger than 8 MiB).
    #[arg(long)]
    pub no_progress: bool,
    #[command(flatten)]
    pub db: DbArgs,
}

/// `tasklane copy --from SRC --to DST`.
#[derive(Args, Debug)]
pub struct CopyArgs {
    /// What to copy: a SQLite file, or a PostgreSQL URL (`postgres://…`). Read in one
    /// snapshot; servers may keep running on it, and what they write after the snapshot
    /// is not copied. Give a URL with a password through the environment (or leave the
    /// password to `PGPASSWORD` or `~/.pgpass`): arguments are visible to every local user.
    #[arg(
        long,
        value_name = "SRC",
        env = "TASKLANE_COPY_FROM",
        hide_env_values = true
    )]
    pub from: super::Database,
    /// Where to: a SQLite file (created if missing) or a PostgreSQL URL, holding no data
    /// yet (its schema is created or migrated first).
    #[arg(
        long,
        value_name = "DST",
        env = "TASKLANE_COPY_TO",
        hide_env_values = true
    )]
    pub to: super::Database,
    /// Never print progress (it is printed to stderr as tables are copied).
    #[arg(long)]
    pub no_progress: bool,
}

/// `tasklane import-django --from SOURCE`.
#[derive(Args, Debug)]
pub struct ImportDjangoArgs {
    /// The original's database: its SQLite file (`db.sqlite3`) or a PostgreSQL URL.
    /// Read only, in one snapshot. Give a URL with a password through the environment (or
    /// leave the password to `PGPASSWORD` or `~/.pgpass`): arguments are visible to every
    /// local user.
    #[arg(
        long,
        value_name = "SOURCE",
        env = "TASKLANE_IMPORT_FROM",
        hide_env_values = true
    )]
    pub from: super::Database,
    /// Read and check everything, print the counts, conflicts and warnings, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Never print the progress line (shown on a terminal for long imports).
    #[arg(long)]
    pub no_progress: bool,
    /// The target: tasklane's database, which must hold no accounts yet.
    #[command(flatten)]
    pub db: DbArgs,
}

/// `tasklane token …`.
#[derive(Args, Debug)]
pub struct TokenArgs {
    #[command(subcommand)]
    pub command: TokenCommand,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create a personal API token for a user; prints the secret once.
    Create {
        /// The user the token acts for.
        #[arg(long)]
        user: String,
        /// What the token is for.
        #[arg(long)]
        name: String,
        /// Comma-separated: account:read, projects:read, projects:write, tasks:read,
        /// tasks:write.
        #[arg(long, default_value = "tasks:read")]
        scopes: String,
        /// Days until it expires (1 to 3650); never, when absent.
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// List a user's tokens (never their secrets).
    List {
        #[arg(long)]
        user: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke one of a user's tokens.
    Revoke {
        #[arg(long)]
        user: String,
        /// The token's id (from `token list`).
        #[arg(long)]
        id: i64,
    },
}

/// `tasklane project …`.
#[derive(Args, Debug)]
pub struct ProjectArgs {
    #[command(subcommand)]
    pub command: ProjectCommand,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Subcommand, Debug)]
pub enum ProjectCommand {
    /// List the projects a user belongs to, with their role in each.
    List {
        #[arg(long)]
        username: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Make a member the owner of a project (the old owner becomes an admin): for when an
    /// owner is gone. Any member may receive it, whatever their role.
    Transfer {
        /// The project's id.
        #[arg(long)]
        project: i64,
        /// The member who becomes the owner.
        #[arg(long)]
        to: String,
    },
}

/// `tasklane docs …`.
#[derive(Args, Debug)]
pub struct DocsArgs {
    #[command(subcommand)]
    pub command: DocsCommand,
}

#[derive(Subcommand, Debug)]
pub enum DocsCommand {
    /// Every command's flags with their environment variables, defaults and help, as
    /// Markdown: the repository's `docs/configuration.md`.
    Config {
        /// Write to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}
