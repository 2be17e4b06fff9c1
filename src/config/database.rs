//! The database a command works on, as given: a SQLite file or a PostgreSQL URL, the
//! URL never shown with its password.

use std::path::PathBuf;

use crate::redact::redact;

/// A PostgreSQL URL (`postgres://` or `postgresql://`). Its `Debug` and `Display` hide
/// the password ([`redact`]); [`DatabaseUrl::expose`] gives the
/// real thing to the one place that connects.
#[derive(Clone)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// The URL with its password, to connect with. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({})", redact(&self.0))
    }
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact(&self.0))
    }
}

/// Taken as given: a malformed URL is refused when connecting, by an error that shows it
/// without its password (clap's own error would print the value whole).
impl std::str::FromStr for DatabaseUrl {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(DatabaseUrl(s.trim().to_owned()))
    }
}

/// The database a command works on: `--db` or `--database-url`; or, for `copy`, one
/// argument that is a PostgreSQL URL (`postgres://…`, `postgresql://…`) or else a SQLite
/// file's path.
#[derive(Clone, Debug)]
pub enum Database {
    Sqlite(PathBuf),
    Postgres(DatabaseUrl),
}

impl std::str::FromStr for Database {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("give a SQLite file's path or a postgres:// URL".into());
        }
        let lower = s.to_ascii_lowercase();
        Ok(
            if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
                Database::Postgres(DatabaseUrl(s.to_owned()))
            } else {
                Database::Sqlite(PathBuf::from(s))
            },
        )
    }
}

impl Database {
    pub(super) fn of(db: &std::path::Path, url: &Option<DatabaseUrl>) -> Database {
        match url {
            Some(url) => Database::Postgres(url.clone()),
            None => Database::Sqlite(db.to_owned()),
        }
    }
}

/// The file's path, or the URL without its password.
impl std::fmt::Display for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Database::Sqlite(path) => write!(f, "{}", path.display()),
            Database::Postgres(url) => write!(f, "{url}"),
        }
    }
}
