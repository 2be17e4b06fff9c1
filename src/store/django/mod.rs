//! The original Django app's database, a source the store reads for
//! `tasklane import-django`: its accounts (`auth_user`) and tasks (`tasks_task`) as typed
//! rows, read in one snapshot from SQLite (`db.sqlite3`, [`read_sqlite`]) or PostgreSQL
//! ([`read_postgres`]), with the last id each table handed out.
//!
//! Rows come as the original holds them, but for times, which come as the API writes
//! them (`2026-11-25T11:42:56.437485Z`). Nothing here writes or judges: the import plans
//! from these rows, then writes through [`super::copy`]'s import.

mod postgres;
mod sqlite;

pub use postgres::read_postgres;
pub use sqlite::read_sqlite;

/// An `auth_user` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DjangoUser {
    pub id: i64,
    /// Django's password hash (`algorithm$…`; `!…` or empty: unusable).
    pub password: String,
    pub username: String,
    pub email: String,
    pub is_active: bool,
    /// An API timestamp.
    pub date_joined: String,
    /// As the database gives it: only whether there is one is read.
    pub last_login: Option<String>,
}

/// A `tasks_task` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DjangoTask {
    pub id: i64,
    pub title: String,
    pub description: Option<String>,
    pub completed: bool,
    /// An API timestamp.
    pub created_at: String,
    /// An API timestamp.
    pub updated_at: String,
    pub user_id: i64,
}

/// What the original's database holds, read in one snapshot.
#[derive(Debug, Clone, Default)]
pub struct Original {
    /// In id order.
    pub users: Vec<DjangoUser>,
    /// In id order.
    pub tasks: Vec<DjangoTask>,
    /// The last id each table handed out (deleted rows included).
    pub users_seq: i64,
    pub tasks_seq: i64,
}

impl Original {
    /// The last user id and task id handed out: the sequence's, or the largest id when
    /// that is past it. tasklane hands out ids after these.
    pub fn high_water(&self) -> (i64, i64) {
        (
            self.users_seq
                .max(self.users.iter().map(|u| u.id).max().unwrap_or(0)),
            self.tasks_seq
                .max(self.tasks.iter().map(|t| t.id).max().unwrap_or(0)),
        )
    }
}

/// Why the original's database could not be read: a sentence that names it (a URL with
/// its password redacted).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ReadError(pub String);

/// The original's two tables.
const TABLES: [&str; 2] = ["auth_user", "tasks_task"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_high_water_is_past_every_id_read() {
        let user = |id| DjangoUser {
            id,
            password: String::new(),
            username: format!("u{id}"),
            email: String::new(),
            is_active: true,
            date_joined: String::new(),
            last_login: None,
        };
        let o = Original {
            users: vec![user(3), user(9)],
            tasks: Vec::new(),
            users_seq: 12,
            tasks_seq: 0,
        };
        assert_eq!(o.high_water(), (12, 0));
        let o = Original { users_seq: 4, ..o };
        assert_eq!(o.high_water(), (9, 0));
    }
}
