//! The tables that `tasklane copy` and `tasklane import-django` move, as both backends
//! hold them ([`TABLES`]), and the named builders of the rows an import makes
//! ([`SettingRow`], [`UserRow`], [`TaskRow`]).
//!
//! A builder hands each cell to its column by name ([`Table::row`]), so its fields and the
//! table's column order cannot disagree: a builder that names a column the table lacks,
//! or leaves one out, panics on its first row, and the tests build one row of each.

use super::chunk::Cell;

/// The type of a column, as both backends store it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// SQLite `INTEGER`, PostgreSQL `BIGINT`.
    Int,
    /// SQLite `INTEGER`, PostgreSQL `INTEGER`.
    Int4,
    /// SQLite `INTEGER` 0/1, PostgreSQL `BOOLEAN`.
    Bool,
    /// SQLite `REAL`, PostgreSQL `DOUBLE PRECISION`.
    Real,
    Text,
    /// SQLite `BLOB`, PostgreSQL `BYTEA`.
    Bytes,
}

/// A table that is copied.
#[derive(Debug)]
pub struct Table {
    pub name: &'static str,
    pub columns: &'static [(&'static str, Kind)],
    /// The order rows are read in (a unique key, so both sides read the same order).
    pub order_by: &'static str,
    /// The table's `id` is handed out by the database (AUTOINCREMENT / identity), whose
    /// high-water mark must move past the copied ids.
    pub generated_id: bool,
}

impl Table {
    pub fn column_list(&self) -> String {
        let names: Vec<&str> = self.columns.iter().map(|(n, _)| *n).collect();
        names.join(", ")
    }

    /// A row of this table from cells named by their column, in the table's column order.
    /// Panics unless the names are exactly the table's columns, each once: a builder out
    /// of step with [`TABLES`] is a bug.
    pub fn row<const N: usize>(&self, named: [(&str, Cell); N]) -> Vec<Cell> {
        assert_eq!(
            N,
            self.columns.len(),
            "{}: {N} cells for {} columns",
            self.name,
            self.columns.len()
        );
        let mut named = named.map(|(name, cell)| (name, Some(cell)));
        self.columns
            .iter()
            .map(|(column, _)| {
                named
                    .iter_mut()
                    .find(|(name, _)| name == column)
                    .and_then(|(_, cell)| cell.take())
                    .unwrap_or_else(|| panic!("{}: no cell for column {column}", self.name))
            })
            .collect()
    }
}

use Kind::{Bool, Bytes, Int, Int4, Real, Text};

/// Every table of the schema, parents before the tables that refer to them.
pub const TABLES: &[Table] = &[
    Table {
        name: "settings",
        columns: &[("key", Text), ("value", Text)],
        order_by: "key",
        generated_id: false,
    },
    Table {
        name: "users",
        columns: &[
            ("id", Int),
            ("username", Text),
            ("email", Text),
            ("password_hash", Text),
            ("is_active", Bool),
            ("created_at", Text),
            ("event_seq", Int),
            ("events_pruned_through", Int),
            ("credentials_generation", Int),
            // Set on a deleted account still being purged: the target's housekeeping
            // finishes the purge.
            ("deleted_at", Real),
            // The list cache's second validator (a co-member's new username moves it).
            ("list_epoch", Int),
        ],
        order_by: "id",
        generated_id: true,
    },
    Table {
        name: "projects",
        columns: &[
            ("id", Int),
            ("name", Text),
            ("owner_id", Int),
            ("created_at", Text),
            ("updated_at", Text),
            ("version", Int),
        ],
        order_by: "id",
        generated_id: true,
    },
    Table {
        name: "project_members",
        columns: &[
            ("project_id", Int),
            ("user_id", Int),
            ("role", Text),
            ("created_at", Text),
        ],
        order_by: "project_id, user_id",
        generated_id: false,
    },
    Table {
        name: "project_invitations",
        columns: &[
            ("id", Int),
            ("project_id", Int),
            ("inviter_id", Int),
            ("invitee_id", Int),
            ("role", Text),
            ("created_at", Text),
            ("expires_at", Text),
        ],
        order_by: "id",
        generated_id: true,
    },
    Table {
        name: "tasks",
        columns: &[
            ("id", Int),
            ("user_id", Int),
            ("title", Text),
            ("description", Text),
            ("completed", Bool),
            ("created_at", Text),
            ("updated_at", Text),
            ("version", Int),
            ("due_at", Text),
            ("assignee_id", Int),
            // NULL for a personal task.
            ("project_id", Int),
        ],
        order_by: "id",
        generated_id: true,
    },
    Table {
        name: "events",
        columns: &[
            ("user_id", Int),
            ("seq", Int),
            ("action", Text),
            ("task_id", Int),
            ("task", Text),
            ("at", Text),
        ],
        // In the order they were written: SQLite keeps them so, and prunes them so.
        order_by: "at, user_id, seq",
        generated_id: false,
    },
    Table {
        name: "refresh_tokens",
        columns: &[
            ("jti", Text),
            ("family", Text),
            ("user_id", Int),
            ("expires_at", Int),
            ("spent_at", Real),
            ("successor", Text),
            ("revoked_at", Real),
        ],
        order_by: "jti",
        generated_id: false,
    },
    Table {
        name: "idempotency_keys",
        columns: &[
            ("user_id", Int),
            ("key", Text),
            ("request_hash", Text),
            ("status", Int4),
            ("body", Text),
            ("created_at", Real),
        ],
        order_by: "user_id, key",
        generated_id: false,
    },
    Table {
        name: "api_tokens",
        columns: &[
            ("id", Int),
            ("user_id", Int),
            ("name", Text),
            ("token_hash", Text),
            ("prefix", Text),
            ("scopes", Text),
            ("created_at", Text),
            ("expires_at", Text),
            ("expires_unix", Int),
            ("last_used_at", Text),
            ("revoked_at", Text),
        ],
        order_by: "id",
        generated_id: true,
    },
    Table {
        name: "throttle_hits",
        columns: &[("scope", Text), ("key", Bytes), ("at", Real)],
        // Not unique, but equal keys mean equal rows: the order of the copies doesn't
        // change what is read.
        order_by: "scope, key, at",
        generated_id: false,
    },
    Table {
        name: "stream_tickets",
        columns: &[
            ("ticket_hash", Text),
            ("user_id", Int),
            ("api_token_id", Int),
            ("scopes", Text),
            ("generation", Int),
            ("credential_expires_at", Int),
            ("expires_at", Real),
        ],
        order_by: "ticket_hash",
        generated_id: false,
    },
];

/// The index in [`TABLES`] of the table `name`; used in a constant, a name that is not
/// there fails the build.
pub const fn table_index(name: &str) -> usize {
    let mut i = 0;
    while i < TABLES.len() {
        if same(TABLES[i].name.as_bytes(), name.as_bytes()) {
            return i;
        }
        i += 1;
    }
    panic!("no such table in TABLES");
}

const fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Indexes in [`TABLES`] (and in the counts per table) of the tables an import writes.
pub const SETTINGS: usize = table_index("settings");
pub const USERS: usize = table_index("users");
pub const TASKS: usize = table_index("tasks");

/// "3 settings, 1 users" for the tables that hold rows.
pub fn describe(counts: &[u64]) -> String {
    let parts: Vec<String> = TABLES
        .iter()
        .zip(counts)
        .filter(|(_, n)| **n > 0)
        .map(|(t, n)| format!("{n} {}", t.name))
        .collect();
    parts.join(", ")
}

/// A `settings` row.
pub struct SettingRow {
    pub key: String,
    pub value: String,
}

impl SettingRow {
    pub const TABLE: usize = SETTINGS;

    pub fn into_cells(self) -> Vec<Cell> {
        TABLES[Self::TABLE].row([
            ("key", Cell::Text(self.key)),
            ("value", Cell::Text(self.value)),
        ])
    }
}

/// A `users` row.
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub password_hash: String,
    pub is_active: bool,
    pub created_at: String,
    /// The account's last event id.
    pub event_seq: i64,
    pub events_pruned_through: i64,
    pub credentials_generation: i64,
    /// Set while a deleted account is being purged.
    pub deleted_at: Option<f64>,
    /// Moves when a co-member's username changes (the list cache checks it).
    pub list_epoch: i64,
}

impl UserRow {
    pub const TABLE: usize = USERS;

    pub fn into_cells(self) -> Vec<Cell> {
        TABLES[Self::TABLE].row([
            ("id", Cell::Int(self.id)),
            ("username", Cell::Text(self.username)),
            ("email", Cell::Text(self.email)),
            ("password_hash", Cell::Text(self.password_hash)),
            ("is_active", Cell::Bool(self.is_active)),
            ("created_at", Cell::Text(self.created_at)),
            ("event_seq", Cell::Int(self.event_seq)),
            (
                "events_pruned_through",
                Cell::Int(self.events_pruned_through),
            ),
            (
                "credentials_generation",
                Cell::Int(self.credentials_generation),
            ),
            ("deleted_at", self.deleted_at.map_or(Cell::Null, Cell::Real)),
            ("list_epoch", Cell::Int(self.list_epoch)),
        ])
    }
}

/// A `tasks` row.
pub struct TaskRow {
    pub id: i64,
    pub user_id: i64,
    pub title: String,
    pub description: Option<String>,
    pub completed: bool,
    pub created_at: String,
    pub updated_at: String,
    pub version: i64,
    pub due_at: Option<String>,
    pub assignee_id: Option<i64>,
}

impl TaskRow {
    pub const TABLE: usize = TASKS;

    pub fn into_cells(self) -> Vec<Cell> {
        TABLES[Self::TABLE].row([
            ("id", Cell::Int(self.id)),
            ("user_id", Cell::Int(self.user_id)),
            ("title", Cell::Text(self.title)),
            (
                "description",
                self.description.map_or(Cell::Null, Cell::Text),
            ),
            ("completed", Cell::Bool(self.completed)),
            ("created_at", Cell::Text(self.created_at)),
            ("updated_at", Cell::Text(self.updated_at)),
            ("version", Cell::Int(self.version)),
            ("due_at", self.due_at.map_or(Cell::Null, Cell::Text)),
            (
                "assignee_id",
                self.assignee_id.map_or(Cell::Null, Cell::Int),
            ),
            // The original had no projects: every task is personal.
            ("project_id", Cell::Null),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `cell` can be stored in a column of `kind`.
    fn fits(cell: &Cell, kind: Kind) -> bool {
        matches!(
            (cell, kind),
            (Cell::Null, _)
                | (Cell::Int(_), Kind::Int | Kind::Int4)
                | (Cell::Bool(_), Kind::Bool)
                | (Cell::Real(_), Kind::Real)
                | (Cell::Text(_), Kind::Text)
                | (Cell::Bytes(_), Kind::Bytes)
        )
    }

    fn assert_fits(table: usize, cells: &[Cell]) {
        let t = &TABLES[table];
        assert_eq!(cells.len(), t.columns.len(), "{}", t.name);
        for (cell, (column, kind)) in cells.iter().zip(t.columns) {
            assert!(fits(cell, *kind), "{}.{column}: {cell:?}", t.name);
        }
    }

    #[test]
    fn the_indexes_name_their_tables() {
        assert_eq!(TABLES[SETTINGS].name, "settings");
        assert_eq!(TABLES[USERS].name, "users");
        assert_eq!(TABLES[TASKS].name, "tasks");
    }

    #[test]
    fn each_builder_puts_each_cell_in_its_column() {
        let setting = SettingRow {
            key: "k".into(),
            value: "v".into(),
        }
        .into_cells();
        assert_fits(SettingRow::TABLE, &setting);
        assert_eq!(setting, [Cell::Text("k".into()), Cell::Text("v".into())]);

        let user = UserRow {
            id: 7,
            username: "ann".into(),
            email: "ann@example.com".into(),
            password_hash: "hash".into(),
            is_active: true,
            created_at: "2026-01-01T00:00:00.000000Z".into(),
            event_seq: 11,
            events_pruned_through: 12,
            credentials_generation: 13,
            deleted_at: Some(14.5),
            list_epoch: 15,
        }
        .into_cells();
        assert_fits(UserRow::TABLE, &user);
        let column = |name: &str| {
            let i = TABLES[USERS].columns.iter().position(|(c, _)| *c == name);
            user[i.unwrap()].clone()
        };
        assert_eq!(column("id"), Cell::Int(7));
        assert_eq!(column("username"), Cell::Text("ann".into()));
        assert_eq!(column("email"), Cell::Text("ann@example.com".into()));
        assert_eq!(column("password_hash"), Cell::Text("hash".into()));
        assert_eq!(column("event_seq"), Cell::Int(11));
        assert_eq!(column("events_pruned_through"), Cell::Int(12));
        assert_eq!(column("credentials_generation"), Cell::Int(13));
        assert_eq!(column("deleted_at"), Cell::Real(14.5));

        let task = TaskRow {
            id: 3,
            user_id: 7,
            title: "A title".into(),
            description: None,
            completed: false,
            created_at: "2026-01-01T00:00:00.000000Z".into(),
            updated_at: "2026-01-02T00:00:00.000000Z".into(),
            version: 1,
            due_at: Some("2026-01-03T00:00:00.000000Z".into()),
            assignee_id: None,
        }
        .into_cells();
        assert_fits(TaskRow::TABLE, &task);
        let column = |name: &str| {
            let i = TABLES[TASKS].columns.iter().position(|(c, _)| *c == name);
            task[i.unwrap()].clone()
        };
        assert_eq!(column("id"), Cell::Int(3));
        assert_eq!(column("user_id"), Cell::Int(7));
        assert_eq!(column("description"), Cell::Null);
        assert_eq!(
            column("created_at"),
            Cell::Text("2026-01-01T00:00:00.000000Z".into())
        );
        assert_eq!(
            column("updated_at"),
            Cell::Text("2026-01-02T00:00:00.000000Z".into())
        );
        assert_eq!(
            column("due_at"),
            Cell::Text("2026-01-03T00:00:00.000000Z".into())
        );
        assert_eq!(column("assignee_id"), Cell::Null);
    }

    #[test]
    #[should_panic(expected = "no cell for column value")]
    fn a_builder_naming_another_column_is_caught() {
        TABLES[SETTINGS].row([("key", Cell::Null), ("val", Cell::Null)]);
    }

    #[test]
    #[should_panic(expected = "1 cells for 2 columns")]
    fn a_builder_leaving_a_column_out_is_caught() {
        TABLES[SETTINGS].row([("key", Cell::Null)]);
    }
}
