//! The operator commands: `tasklane user …`, `tasklane token …`, `tasklane backup`,
//! `tasklane migrate`.
//!
//! They open the database file directly (`--db`, as `serve` does) and work while a server
//! runs on it: writes are short transactions that queue on SQLite's busy timeout, and the
//! backup copies one consistent snapshot while the server keeps writing. Each command
//! prints its result to stdout, its errors to stderr, and exits non-zero on failure.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};

use crate::api::auth::{create_account, find_account, password_field};
use crate::auth::jwt::now_secs_f64;
use crate::auth::password::hash_password;
use crate::error::{ApiError, FieldErrors};
use crate::store::admin::{
    self, AccountChange, BackupPacing, BackupProgress, latest_schema_version,
};
use crate::store::users::Account;
use crate::store::{Store, StoreError};

/// `--db`, shared by every operator command.
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

/// A failure already worth a line on stderr.
struct Fail(String);

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        Fail(e.to_string())
    }
}

fn finish(result: Result<(), Fail>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail(message)) => {
            eprintln!("tasklane: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `tasklane user …`.
pub async fn user(args: UserArgs) -> ExitCode {
    finish(user_command(args).await)
}

/// Runs `tasklane backup …`.
pub async fn backup(args: BackupArgs) -> ExitCode {
    finish(backup_command(args).await)
}

/// Runs `tasklane migrate`.
pub async fn migrate(args: DbArgs) -> ExitCode {
    finish(migrate_command(args).await)
}

/// Opens the database as the server does (applying pending migrations). Every command
/// but `user create` refuses to create a missing file: a mistyped `--db` would
/// otherwise leave an empty database behind and report "no such user".
async fn open_store(db: &Path, create: bool) -> Result<Store, Fail> {
    if !create && !db.exists() {
        return Err(Fail(format!(
            "database {} does not exist (set --db or TASKLANE_DB)",
            db.display()
        )));
    }
    let path = db.to_owned();
    tokio::task::spawn_blocking(move || Store::open(&path, 2))
        .await
        .map_err(|e| Fail(format!("opening the database failed: {e}")))?
        .map_err(|e| Fail(format!("cannot open {}: {e}", db.display())))
}

async fn user_command(args: UserArgs) -> Result<(), Fail> {
    let db = args.db.db;
    match args.command {
        UserCommand::Create {
            username,
            email,
            password,
        } => {
            let password = read_password(&password)?;
            let store = open_store(&db, true).await?;
            create_user(&store, username, email, password).await
        }
        UserCommand::List { json } => {
            let store = open_store(&db, false).await?;
            list_users(&store, json).await
        }
        UserCommand::SetPassword { username, password } => {
            let password = read_password(&password)?;
            let store = open_store(&db, false).await?;
            set_password(&store, username, password).await
        }
        UserCommand::Deactivate { username } => {
            let store = open_store(&db, false).await?;
            set_active(&store, username, false).await
        }
        UserCommand::Activate { username } => {
            let store = open_store(&db, false).await?;
            set_active(&store, username, true).await
        }
    }
}

/// Registration's rules and messages, exactly as `POST /api/register/` applies them.
async fn create_user(
    store: &Store,
    username: String,
    email: String,
    password: String,
) -> Result<(), Fail> {
    let data = as_body(json!({"username": username, "email": email, "password": password}));
    let user = create_account(store, &data, None).await.map_err(invalid)?;
    println!(
        "created user {} (id {}, email {})",
        user.username, user.id, user.email
    );
    Ok(())
}

/// The `password` of `data`, checked like registration checks it against the account's
/// username and email; failures go to `errors`.
fn checked_password(
    data: &Map<String, Value>,
    username: &str,
    email: &str,
    errors: &mut FieldErrors,
) -> Option<String> {
    password_field(data, username, email, errors)
}

fn as_body(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Prints field errors as `field: message` lines on stderr, and fails when there are any.
fn report_invalid(errors: FieldErrors) -> Result<(), Fail> {
    errors.into_result().map_err(invalid)
}

/// An API error as a command-line failure: field errors as `field: message` lines.
fn invalid(err: ApiError) -> Fail {
    let lines = match err {
        ApiError::BadRequest(body) => match body.0 {
            Value::Object(fields) => fields
                .iter()
                .flat_map(|(f, messages)| {
                    let messages = messages.as_array().cloned().unwrap_or_default();
                    messages.into_iter().map(move |m| match m {
                        Value::String(s) => format!("  {f}: {s}"),
                        other => format!("  {f}: {other}"),
                    })
                })
                .collect::<Vec<_>>(),
            other => vec![format!("  {other}")],
        },
        ApiError::Internal(_) => return Fail("internal error (see the log above)".into()),
        _ => vec!["  invalid input".to_owned()],
    };
    Fail(format!("invalid input:\n{}", lines.join("\n")))
}

async fn list_users(store: &Store, as_json: bool) -> Result<(), Fail> {
    let accounts = store.list_accounts().await?;
    if as_json {
        let rows: Vec<Value> = accounts
            .iter()
            .map(|a| json!({"id": a.id, "username": a.username, "email": a.email, "active": a.is_active}))
            .collect();
        let text = serde_json::to_string_pretty(&rows).map_err(|e| Fail(e.to_string()))?;
        println!("{text}");
        return Ok(());
    }
    let rows: Vec<[String; 4]> = accounts
        .iter()
        .map(|a| {
            [
                a.id.to_string(),
                a.username.clone(),
                a.email.clone(),
                if a.is_active { "yes" } else { "no" }.to_owned(),
            ]
        })
        .collect();
    print!("{}", table(["ID", "USERNAME", "EMAIL", "ACTIVE"], &rows));
    Ok(())
}

/// A plain table: columns padded to their widest cell (in characters), two spaces apart,
/// the first (numeric) column right-aligned.
fn table<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header = header.map(str::to_owned);
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
            let pad = " ".repeat(w - cell.chars().count());
            if i > 0 {
                line.push_str("  ");
            }
            if i == 0 {
                line.push_str(&pad);
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&pad);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The account `username` names, NFKC-normalised as the API does.
async fn account_named(store: &Store, username: &str) -> Result<Account, Fail> {
    find_account(store, username)
        .await?
        .ok_or_else(|| no_such_user(username))
}

async fn set_password(store: &Store, username: String, password: String) -> Result<(), Fail> {
    let account = account_named(store, &username).await?;
    let username = account.user.username.clone();
    let mut errors = FieldErrors::default();
    let password = checked_password(
        &as_body(json!({ "password": password })),
        &account.user.username,
        &account.user.email,
        &mut errors,
    );
    report_invalid(errors)?;
    let Some(password) = password else {
        return Err(Fail("validated password missing".into()));
    };
    let hash = hash_password(password)
        .await
        .map_err(|e| Fail(e.to_string()))?;
    let change = store
        .set_password_hash(username.clone(), hash, now_secs_f64())
        .await
        .map_err(|e| not_found_as_user(e, &username))?;
    println!(
        "password of {username} changed; {}",
        revoked(change.revoked_tokens, change.revoked_api_tokens)
    );
    Ok(())
}

async fn set_active(store: &Store, username: String, active: bool) -> Result<(), Fail> {
    let username = account_named(store, &username).await?.user.username;
    let AccountChange {
        changed,
        revoked_tokens,
        revoked_api_tokens,
        ..
    } = store
        .set_account_active(username.clone(), active, now_secs_f64())
        .await
        .map_err(|e| not_found_as_user(e, &username))?;
    match (active, changed) {
        (true, true) => println!("{username} activated"),
        (true, false) => println!("{username} was already active"),
        (false, true) => println!(
            "{username} deactivated; {}",
            revoked(revoked_tokens, revoked_api_tokens)
        ),
        (false, false) => println!(
            "{username} was already inactive; {}",
            revoked(revoked_tokens, revoked_api_tokens)
        ),
    }
    Ok(())
}

/// "2 refresh tokens and 1 API token revoked; older access tokens refused"
fn revoked(refresh: usize, api: usize) -> String {
    let plural = |n: usize, what: &str| match n {
        1 => format!("1 {what}"),
        n => format!("{n} {what}s"),
    };
    format!(
        "{} and {} revoked; older access tokens refused",
        plural(refresh, "refresh token"),
        plural(api, "API token")
    )
}

fn no_such_user(username: &str) -> Fail {
    Fail(format!("no user named {username:?}"))
}

fn not_found_as_user(e: StoreError, username: &str) -> Fail {
    match e {
        StoreError::NotFound => no_such_user(username),
        e => e.into(),
    }
}

/// The password from the flag, from stdin, or typed on the terminal.
fn read_password(args: &PasswordArgs) -> Result<String, Fail> {
    if let Some(p) = &args.password {
        return Ok(p.clone());
    }
    let stdin = std::io::stdin();
    if !args.password_stdin && stdin.is_terminal() {
        let first = prompt_hidden("Password: ")?;
        let second = prompt_hidden("Password (again): ")?;
        if first != second {
            return Err(Fail("the passwords do not match".into()));
        }
        return Ok(first);
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| Fail(format!("cannot read the password from stdin: {e}")))?;
    Ok(strip_newline(line))
}

/// Only the line ending goes: passwords are never trimmed.
fn strip_newline(mut line: String) -> String {
    if line.ends_with('\n') {
        line.pop();
        if line.ends_with('\r') {
            line.pop();
        }
    }
    line
}

/// Reads one line from the terminal with echo off (via `stty`; echoed if that fails).
fn prompt_hidden(prompt: &str) -> Result<String, Fail> {
    struct Echo(bool);
    impl Drop for Echo {
        fn drop(&mut self) {
            if self.0 {
                let _ = stty("echo");
            }
        }
    }
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let echo_off = Echo(stty("-echo"));
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    drop(echo_off);
    eprintln!();
    read.map_err(|e| Fail(format!("cannot read the password: {e}")))?;
    Ok(strip_newline(line))
}

fn stty(setting: &str) -> bool {
    std::process::Command::new("stty")
        .arg(setting)
        .stdin(std::process::Stdio::inherit())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

async fn backup_command(args: BackupArgs) -> Result<(), Fail> {
    let src = args.db.db;
    if !src.is_file() {
        return Err(Fail(format!(
            "database {} does not exist (set --db or TASKLANE_DB)",
            src.display()
        )));
    }
    let dest = args.path;
    if let (Ok(a), Ok(b)) = (src.canonicalize(), dest.canonicalize())
        && a == b
    {
        return Err(Fail(format!(
            "{} is the database itself; back up to another file",
            dest.display()
        )));
    }
    if dest.is_dir() {
        return Err(Fail(format!("{} is a directory", dest.display())));
    }
    if dest.exists() && !args.force {
        return Err(Fail(format!(
            "{} already exists (use --force to replace it)",
            dest.display()
        )));
    }
    let file_name = dest
        .file_name()
        .ok_or_else(|| Fail(format!("{} is not a file name", dest.display())))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = dest.with_file_name(tmp_name);

    let pacing = BackupPacing {
        pages_per_step: args.pages_per_step,
        pause: args.step_pause,
    };
    let show_bar = !args.no_progress && std::io::stderr().is_terminal();
    let (src2, tmp2) = (src.clone(), tmp.clone());
    let copied = tokio::task::spawn_blocking(move || {
        let mut bar = ProgressBar::new(show_bar);
        let copied = admin::backup_database(&src2, &tmp2, pacing, |p| bar.update(p));
        bar.finish();
        copied?;
        let problems = admin::integrity_check(&tmp2)?;
        Ok::<_, Fail>(problems)
    })
    .await
    .map_err(|e| Fail(format!("backup task failed: {e}")));
    let problems = match copied.and_then(|r| r) {
        Ok(problems) => problems,
        Err(e) => {
            remove_quietly(&tmp);
            return Err(Fail(format!("backup failed: {}", e.0)));
        }
    };
    if problems != ["ok"] {
        remove_quietly(&tmp);
        return Err(Fail(format!(
            "the copy failed its integrity check, nothing written:\n  {}",
            problems.join("\n  ")
        )));
    }
    if let Err(e) = put_in_place(&tmp, &dest, args.force) {
        remove_quietly(&tmp);
        return Err(e);
    }
    let size = std::fs::metadata(&dest)
        .map_err(|e| Fail(format!("cannot stat {}: {e}", dest.display())))?
        .len();
    println!(
        "backup written to {}: {} bytes ({}), integrity check ok",
        dest.display(),
        size,
        human_size(size)
    );
    Ok(())
}

/// Moves the finished copy to `dest`: atomically replacing it with `--force`, else
/// without ever overwriting a file that appeared meanwhile (a hard link fails if the
/// name is taken).
fn put_in_place(tmp: &Path, dest: &Path, force: bool) -> Result<(), Fail> {
    let placed = if force {
        std::fs::rename(tmp, dest)
    } else {
        match std::fs::hard_link(tmp, dest) {
            Ok(()) => std::fs::remove_file(tmp),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Fail(format!(
                    "{} already exists (use --force to replace it)",
                    dest.display()
                )));
            }
            // Filesystems without hard links: the existence check above must do.
            Err(_) if !dest.exists() => std::fs::rename(tmp, dest),
            Err(e) => Err(e),
        }
    };
    placed.map_err(|e| Fail(format!("cannot write {}: {e}", dest.display())))?;
    if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

fn remove_quietly(tmp: &Path) {
    let _ = std::fs::remove_file(tmp);
    for suffix in ["-journal", "-wal", "-shm"] {
        let mut p = tmp.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// A one-line progress bar on stderr, redrawn in place, for databases over 8 MiB.
struct ProgressBar {
    enabled: bool,
    drawn: bool,
    last_percent: Option<u64>,
}

impl ProgressBar {
    const MIN_BYTES: u64 = 8 << 20;
    const WIDTH: u64 = 30;

    fn new(enabled: bool) -> ProgressBar {
        ProgressBar {
            enabled,
            drawn: false,
            last_percent: None,
        }
    }

    fn update(&mut self, p: BackupProgress) {
        let total_bytes = p.total_pages * p.page_size;
        if !self.enabled || total_bytes < Self::MIN_BYTES || p.total_pages == 0 {
            return;
        }
        let percent = p.copied_pages * 100 / p.total_pages;
        if self.last_percent == Some(percent) {
            return;
        }
        self.last_percent = Some(percent);
        let filled = p.copied_pages * Self::WIDTH / p.total_pages;
        let bar: String = (0..Self::WIDTH)
            .map(|i| if i < filled { '#' } else { '-' })
            .collect();
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\rbackup [{bar}] {percent:>3}%  {} / {}",
            human_size(p.copied_pages * p.page_size),
            human_size(total_bytes)
        );
        let _ = err.flush();
        self.drawn = true;
    }

    fn finish(&mut self) {
        if self.drawn {
            eprintln!();
        }
    }
}

async fn migrate_command(args: DbArgs) -> Result<(), Fail> {
    let db = args.db;
    let before = {
        let path = db.clone();
        tokio::task::spawn_blocking(move || admin::schema_version_of(&path))
            .await
            .map_err(|e| Fail(format!("reading the schema version failed: {e}")))??
    };
    let latest = latest_schema_version();
    if let Some(v) = before
        && v > latest
    {
        return Err(Fail(format!(
            "{}: schema version {v} is newer than this binary knows ({latest}); upgrade tasklane",
            db.display()
        )));
    }
    let store = open_store(&db, true).await?;
    let after = store.schema_version().await?;
    let (from, note) = match before {
        None => (0, "new database created"),
        Some(v) if v == after => (v, "up to date"),
        Some(v) => (v, "migrated"),
    };
    println!(
        "{}: schema version {from} -> {after} ({note})",
        db.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_pad_columns_to_the_widest_cell() {
        let rows = [
            ["1".into(), "alice".into(), "a@example.com".into()],
            ["12".into(), "bo".into(), "b@x.io".into()],
        ];
        assert_eq!(
            table(["ID", "USERNAME", "EMAIL"], &rows),
            "ID  USERNAME  EMAIL\n 1  alice     a@example.com\n12  bo        b@x.io\n"
        );
    }

    #[test]
    fn only_the_line_ending_is_stripped_from_a_password() {
        assert_eq!(strip_newline(" pass word \r\n".into()), " pass word ");
        assert_eq!(strip_newline("secret\n".into()), "secret");
        assert_eq!(strip_newline("secret".into()), "secret");
    }

    #[test]
    fn sizes_are_human() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(3 << 20), "3.0 MiB");
    }
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
        /// Comma-separated: tasks:read, tasks:write.
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

/// Runs `tasklane token …`.
pub async fn token(args: TokenArgs) -> ExitCode {
    finish(token_command(args).await)
}

async fn token_command(args: TokenArgs) -> Result<(), Fail> {
    let store = open_store(&args.db.db, false).await?;
    let user_of = |username: String| {
        let store = store.clone();
        async move {
            find_account(&store, &username)
                .await?
                .map(|a| a.user.id)
                .ok_or_else(|| Fail(format!("no user named {username}")))
        }
    };
    match args.command {
        TokenCommand::Create {
            user,
            name,
            scopes,
            expires_in_days,
        } => {
            let user_id = user_of(user).await?;
            let mut body = json!({ "name": name, "scopes": scopes });
            if let Some(d) = expires_in_days {
                body["expires_in_days"] = json!(d);
            }
            let created = crate::api::tokens::issue_api_token(&store, user_id, &as_body(body))
                .await
                .map_err(invalid)?;
            println!(
                "created token {} ({}; scopes {}; expires {})",
                created.info.id,
                created.info.name,
                created.info.scopes.join(" "),
                created.info.expires_at.as_deref().unwrap_or("never")
            );
            println!("{}", created.token);
            eprintln!("store the token now: it is kept only as a hash and cannot be shown again");
            Ok(())
        }
        TokenCommand::List { user, json } => {
            let user_id = user_of(user).await?;
            let rows = store.list_api_tokens(user_id).await?;
            if json {
                let list: Vec<Value> = rows
                    .iter()
                    .map(|r| {
                        json!({"id": r.id, "name": r.name, "prefix": r.prefix, "scopes": r.scopes,
                               "created_at": r.created_at, "expires_at": r.expires_at,
                               "last_used_at": r.last_used_at})
                    })
                    .collect();
                println!("{}", Value::Array(list));
            } else {
                println!(
                    "{:>5}  {:<24}  {:<12}  {:<22}  expires",
                    "id", "name", "prefix", "scopes"
                );
                for r in rows {
                    println!(
                        "{:>5}  {:<24}  {:<12}  {:<22}  {}",
                        r.id,
                        r.name,
                        r.prefix,
                        r.scopes.join(" "),
                        r.expires_at.as_deref().unwrap_or("never")
                    );
                }
            }
            Ok(())
        }
        TokenCommand::Revoke { user, id } => {
            let user_id = user_of(user).await?;
            if store.revoke_api_token(user_id, id).await? {
                println!("revoked token {id}");
                Ok(())
            } else {
                Err(Fail(format!("no live token {id} for that user")))
            }
        }
    }
}
