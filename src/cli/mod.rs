//! The operator commands: `tasklane user …`, `tasklane token …`, `tasklane backup`,
//! `tasklane project …`, `tasklane copy`, `tasklane import-django`, `tasklane migrate`.
//!
//! They open the database directly (`--db` or `--database-url`, as `serve` does) and work
//! while servers run on it: writes are short transactions (on SQLite they queue on the
//! busy timeout), and the backup copies one consistent snapshot of a SQLite file while
//! the server keeps writing. Each command
//! prints its result to stdout, its errors to stderr, and exits non-zero on failure. The
//! rules are the domain's, the same the API applies; nothing here speaks HTTP.

mod backup;
mod copy;
mod import_django;
mod migrate;
mod project;
pub mod show;
mod token;
mod user;

use std::process::ExitCode;

use crate::config::commands::{
    BackupArgs, CopyArgs, DbArgs, ImportDjangoArgs, ProjectArgs, TokenArgs, UserArgs,
};
use crate::domain::{DomainError, FieldErrors};
use crate::store::{Database, Options, Store, StoreError, Synchronous};

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
            // Messages may quote the database (a name, a server's error about a row).
            eprintln!("tasklane: {}", show::escape_lines(&message));
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

/// Runs `tasklane project …`.
pub async fn project(args: ProjectArgs) -> ExitCode {
    finish(project::run(args).await)
}

/// Runs `tasklane backup …`.
pub async fn backup(args: BackupArgs) -> ExitCode {
    finish(backup::run(args).await)
}

/// Runs `tasklane copy`.
pub async fn copy(args: CopyArgs) -> ExitCode {
    finish(copy::run(args).await)
}

/// Runs `tasklane import-django`.
pub async fn import_django(args: ImportDjangoArgs) -> ExitCode {
    finish(import_django::run(args).await)
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
/// but `user create` refuses to create a missing SQLite file: a mistyped `--db` would
/// otherwise leave an empty database behind and report "no such user". (A PostgreSQL
/// database is never created: a missing one is the server's "does not exist" error.)
async fn open_store(db: &Database, create: bool) -> Result<Store, Fail> {
    let options = Options {
        pool_size: 2,
        synchronous: Synchronous::Full,
        create,
    };
    Store::open(db, options).await.map_err(|e| match e {
        StoreError::NotFound => Fail(format!(
            "database {db} does not exist (set --db or TASKLANE_DB)"
        )),
        // A server's errors name the database by its URL without the password.
        StoreError::Other(m) | StoreError::Unavailable(m) if db.file().is_none() => {
            Fail(format!("cannot open {m}"))
        }
        e => Fail(format!("cannot open {db}: {e}")),
    })
}

/// A plain table: columns padded to their widest cell (in characters), two spaces apart,
/// the first (numeric) column right-aligned. Cells are [`show::escape`]d.
fn table<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    let rows: Vec<[String; N]> = rows
        .iter()
        .map(|row| row.clone().map(|cell| show::escape(&cell).into_owned()))
        .collect();
    let rows = rows.as_slice();
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

    #[test]
    fn table_cells_are_escaped_and_padded_as_shown() {
        let rows = [
            ["1".into(), "a\u{1b}[2Jb".into()],
            ["2".into(), "\u{202e}x".into()],
        ];
        assert_eq!(
            table(["ID", "NAME"], &rows),
            "ID  NAME\n 1  a\\u{1b}[2Jb\n 2  \\u{202e}x\n"
        );
    }
}
