//! The operator commands: `tasklane user …`, `tasklane token …`, `tasklane backup`,
//! `tasklane migrate`.
//!
//! They open the database file directly (`--db`, as `serve` does) and work while a server
//! runs on it: writes are short transactions that queue on SQLite's busy timeout, and the
//! backup copies one consistent snapshot while the server keeps writing. Each command
//! prints its result to stdout, its errors to stderr, and exits non-zero on failure. The
//! rules are the domain's, the same the API applies; nothing here speaks HTTP.

mod backup;
mod migrate;
mod token;
mod user;

use std::path::Path;
use std::process::ExitCode;

use crate::config::commands::{BackupArgs, DbArgs, TokenArgs, UserArgs};
use crate::domain::{DomainError, FieldErrors};
use crate::store::{Store, StoreError, Synchronous};

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

impl From<DomainError> for Fail {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid(errors) => invalid(&errors),
            other => Fail(other.to_string()),
        }
    }
}

/// Field errors as `  field: message` lines under "invalid input:".
fn invalid(errors: &FieldErrors) -> Fail {
    let lines: Vec<String> = errors
        .iter()
        .flat_map(|(f, messages)| messages.iter().map(move |m| format!("  {f}: {m}")))
        .collect();
    Fail(format!("invalid input:\n{}", lines.join("\n")))
}

/// Runs `tasklane user …`.
pub async fn user(args: UserArgs) -> ExitCode {
    finish(user::run(args).await)
}

/// Runs `tasklane backup …`.
pub async fn backup(args: BackupArgs) -> ExitCode {
    finish(backup::run(args).await)
}

/// Runs `tasklane migrate`.
pub async fn migrate(args: DbArgs) -> ExitCode {
    finish(migrate::run(args).await)
}

/// Runs `tasklane token …`.
pub async fn token(args: TokenArgs) -> ExitCode {
    finish(token::run(args).await)
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
    tokio::task::spawn_blocking(move || Store::open(&path, 2, Synchronous::Full))
        .await
        .map_err(|e| Fail(format!("opening the database failed: {e}")))?
        .map_err(|e| Fail(format!("cannot open {}: {e}", db.display())))
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
}
