//! `tasklane import-django --from SOURCE`: the original Django app's accounts and tasks,
//! read from its database (SQLite `db.sqlite3` or PostgreSQL), written into tasklane's in
//! one transaction, ids, password hashes and timestamps kept.
//!
//! Accounts that cannot coexist in tasklane (emails equal ignoring case, usernames equal
//! after NFKC) stop the import, listed by group; nothing is merged or dropped. So do
//! fields longer than the API accepts (a 3 MB title), listed by row. Rows that break the
//! softer rules new writes follow (a 3-character title) are imported unchanged and
//! listed as warnings; so are accounts whose password hash costs more than a login
//! verifies, imported with an unusable password to be reset. Imported tasks carry no
//! events: each user's history starts at the import.

mod plan;

use std::io::{IsTerminal, Write};

use tokio::sync::mpsc;

use super::show;
use super::{Fail, open_store};
use crate::config::Database;
use crate::config::commands::ImportDjangoArgs;
use crate::domain::validators::normalize_username;
use crate::store::copy::{Cell, Chunk, Chunker, TABLES, Target};
use crate::store::{Store, StoreError};

use crate::store::tokens::IMPORTED_AT;
use crate::store::users::FIRST_GENERATION;
use plan::{Plan, cap_hashes};

/// An `auth_user` row.
pub(super) struct User {
    id: i64,
    password: String,
    username: String,
    email: String,
    is_active: bool,
    date_joined: String,
    last_login: Option<String>,
}

/// A `tasks_task` row.
pub(super) struct Task {
    id: i64,
    title: String,
    description: Option<String>,
    completed: bool,
    created_at: String,
    updated_at: String,
    user_id: i64,
}

/// What the original's database holds.
pub(super) struct Original {
    users: Vec<User>,
    tasks: Vec<Task>,
    /// The last id each table handed out (deleted rows included).
    users_seq: i64,
    tasks_seq: i64,
}

pub(super) async fn run(args: ImportDjangoArgs) -> Result<(), Fail> {
    let source = args.from;
    let mut original = match &source {
        Database::Sqlite(path) => {
            if !path.is_file() {
                return Err(Fail(format!("{} does not exist", path.display())));
            }
            let path = path.clone();
            tokio::task::spawn_blocking(move || read_sqlite(&path))
                .await
                .map_err(|e| Fail(format!("reading failed: {e}")))??
        }
        Database::Postgres(url) => read_postgres(url.expose()).await?,
    };

    let capped = cap_hashes(&mut original.users);
    let plan = Plan::of(&original);
    for w in capped.iter().chain(&plan.warnings) {
        eprintln!("warning: {}", show::escape(w));
    }
    if let Some(refusal) = plan.refusal(&source) {
        return Err(Fail(refusal));
    }

    let inactive = original.users.iter().filter(|u| !u.is_active).count();
    let unusable = original
        .users
        .iter()
        .filter(|u| u.password.starts_with('!') || u.password.is_empty())
        .count();
    let never = original
        .users
        .iter()
        .filter(|u| u.last_login.is_none())
        .count();
    let counts = format!(
        "{} accounts ({inactive} inactive, {unusable} without a usable password, {never} never \
         logged in), {} tasks, {} warnings",
        original.users.len(),
        original.tasks.len(),
        capped.len() + plan.warnings.len()
    );
    if args.dry_run {
        println!(
            "dry run: would import from {source} into {}: {counts}",
            args.db.database()
        );
        println!("nothing was written");
        return Ok(());
    }

    let target_db = args.db.database();
    let target = open_store(&target_db, true).await?;
    let held = target.copy_counts().await?;
    if let Some(why) = Target::NoAccounts.refusal(&held) {
        return Err(Fail(format!(
            "{why} in {target_db}: import into a new database (a second import would \
             collide with the first); nothing was written"
        )));
    }
    let (users_seq, tasks_seq) = (
        original
            .users_seq
            .max(original.users.iter().map(|u| u.id).max().unwrap_or(0)),
        original
            .tasks_seq
            .max(original.tasks.iter().map(|t| t.id).max().unwrap_or(0)),
    );
    let (n_users, n_tasks) = (original.users.len() as u64, original.tasks.len() as u64);
    write(&target, original, users_seq, tasks_seq, !args.no_progress).await?;
    let after = target.copy_counts().await?;
    if after[1] != n_users || after[2] != n_tasks {
        return Err(Fail(format!(
            "check failed: {target_db} holds {} accounts and {} tasks after importing {n_users} \
             and {n_tasks}",
            after[1], after[2]
        )));
    }
    println!("imported from {source} into {target_db}: {counts}");
    println!("next ids: users {}, tasks {}", users_seq + 1, tasks_seq + 1);
    println!(
        "each user's event history starts now: streams begin at event 1. Start tasklane \
         with --jwt-secret set to the original's SECRET_KEY to keep its tokens working"
    );
    Ok(())
}

/// Writes the accounts and tasks in one transaction on the target.
async fn write(
    target: &Store,
    o: Original,
    users_seq: i64,
    tasks_seq: i64,
    progress: bool,
) -> Result<(), Fail> {
    let (tx, rx) = mpsc::channel(4);
    let writer = {
        let target = target.clone();
        tokio::spawn(async move { target.import(rx, Target::NoAccounts).await })
    };
    let total = o.users.len() + o.tasks.len();
    let terminal = progress && std::io::stderr().is_terminal() && total > 20_000;
    let mut sent = 0;
    let send = async {
        let table = |name| TABLES.iter().position(|t| t.name == name).expect("table");
        let settings = vec![vec![
            Cell::Text(IMPORTED_AT.into()),
            Cell::Text(crate::clock::now_secs().to_string()),
        ]];
        tx.send(Chunk::Rows {
            table: table("settings"),
            rows: settings,
        })
        .await?;
        let mut chunker = Chunker::new(table("users"));
        for u in o.users {
            let row = vec![
                Cell::Int(u.id),
                Cell::Text(normalize_username(&u.username)),
                Cell::Text(u.email),
                Cell::Text(u.password),
                Cell::Bool(u.is_active),
                Cell::Text(u.date_joined),
                Cell::Int(0),
                Cell::Int(0),
                // The generation the original's tokens are held to.
                Cell::Int(FIRST_GENERATION),
                // Not deleted.
                Cell::Null,
            ];
            if let Some(chunk) = chunker.push(row) {
                tx.send(chunk).await?;
            }
        }
        if let Some(chunk) = chunker.take() {
            tx.send(chunk).await?;
        }
        let mut chunker = Chunker::new(table("tasks"));
        for t in o.tasks {
            let row = vec![
                Cell::Int(t.id),
                Cell::Int(t.user_id),
                Cell::Text(t.title),
                t.description.map_or(Cell::Null, Cell::Text),
                Cell::Bool(t.completed),
                Cell::Text(t.created_at),
                Cell::Text(t.updated_at),
                Cell::Int(1),
            ];
            if let Some(chunk) = chunker.push(row) {
                if let Chunk::Rows { rows, .. } = &chunk {
                    sent += rows.len();
                }
                tx.send(chunk).await?;
                if terminal {
                    let _ = write!(
                        std::io::stderr(),
                        "\r\x1b[2Kimporting tasks: {sent}/{total}"
                    );
                }
            }
        }
        if let Some(chunk) = chunker.take() {
            tx.send(chunk).await?;
        }
        tx.send(Chunk::HighWater(vec![
            (table("users"), users_seq),
            (table("tasks"), tasks_seq),
        ]))
        .await?;
        Ok::<_, mpsc::error::SendError<Chunk>>(())
    }
    .await;
    if terminal {
        eprintln!();
    }
    drop(tx);
    let written = writer
        .await
        .map_err(|e| Fail(format!("import task failed: {e}")))?;
    match (written, send) {
        (Err(e), _) => Err(Fail(format!(
            "import failed, nothing was written: {}",
            match e {
                StoreError::Other(m) | StoreError::Unavailable(m) => m,
                e => e.to_string(),
            }
        ))),
        (Ok(()), Err(_)) => Err(Fail("import failed, nothing was written".into())),
        (Ok(()), Ok(())) => Ok(()),
    }
}

/// Django's SQLite datetime text (`2026-11-25 11:42:56.437485`, UTC with `USE_TZ`; the
/// fraction is left out when zero) as the API's `2026-11-25T11:42:56.437485Z`.
fn api_time(text: &str) -> Option<String> {
    let t = text.trim();
    let parsed = chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f"))
        .ok()
        .or_else(|| {
            chrono::DateTime::parse_from_rfc3339(&t.replacen(' ', "T", 1))
                .ok()
                .map(|d| d.naive_utc())
        })?;
    Some(parsed.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
}

fn read_sqlite(path: &std::path::Path) -> Result<Original, Fail> {
    use rusqlite::OpenFlags;
    let c = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| Fail(format!("cannot open {}: {e}", path.display())))?;
    let fail = |e: rusqlite::Error| Fail(format!("reading {}: {e}", path.display()));
    let tx = c.unchecked_transaction().map_err(fail)?;
    for table in ["auth_user", "tasks_task"] {
        let there: i64 = tx
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1",
                [table],
                |r| r.get(0),
            )
            .map_err(fail)?;
        if there == 0 {
            return Err(Fail(format!(
                "{} is not the original's database: it has no {table} table",
                path.display()
            )));
        }
    }
    let bad_time = |what: &str, id: i64, text: &str| {
        Fail(format!(
            "{what} {id}: cannot read the time {text:?} in {}",
            path.display()
        ))
    };
    let mut users = Vec::new();
    let mut stmt = tx
        .prepare(
            "SELECT id, password, username, email, is_active, date_joined, last_login \
             FROM auth_user ORDER BY id",
        )
        .map_err(fail)?;
    let mut rows = stmt.query([]).map_err(fail)?;
    while let Some(r) = rows.next().map_err(fail)? {
        let id: i64 = r.get(0).map_err(fail)?;
        let joined: String = r.get(5).map_err(fail)?;
        let last: Option<String> = r.get(6).map_err(fail)?;
        users.push(User {
            id,
            password: r.get(1).map_err(fail)?,
            username: r.get(2).map_err(fail)?,
            email: r.get(3).map_err(fail)?,
            is_active: r.get::<_, i64>(4).map_err(fail)? != 0,
            date_joined: api_time(&joined).ok_or_else(|| bad_time("account", id, &joined))?,
            last_login: last,
        });
    }
    drop(rows);
    drop(stmt);
    let mut tasks = Vec::new();
    let mut stmt = tx
        .prepare(
            "SELECT id, title, description, completed, created_at, updated_at, user_id \
             FROM tasks_task ORDER BY id",
        )
        .map_err(fail)?;
    let mut rows = stmt.query([]).map_err(fail)?;
    while let Some(r) = rows.next().map_err(fail)? {
        let id: i64 = r.get(0).map_err(fail)?;
        let created: String = r.get(4).map_err(fail)?;
        let updated: String = r.get(5).map_err(fail)?;
        tasks.push(Task {
            id,
            title: r.get(1).map_err(fail)?,
            description: r.get(2).map_err(fail)?,
            completed: r.get::<_, i64>(3).map_err(fail)? != 0,
            created_at: api_time(&created).ok_or_else(|| bad_time("task", id, &created))?,
            updated_at: api_time(&updated).ok_or_else(|| bad_time("task", id, &updated))?,
            user_id: r.get(6).map_err(fail)?,
        });
    }
    drop(rows);
    drop(stmt);
    let seq = |name: &str| -> Result<i64, Fail> {
        tx.query_row(
            "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = ?1), 0)",
            [name],
            |r| r.get(0),
        )
        .map_err(fail)
    };
    Ok(Original {
        users_seq: seq("auth_user")?,
        tasks_seq: seq("tasks_task")?,
        users,
        tasks,
    })
}

async fn read_postgres(url: &str) -> Result<Original, Fail> {
    let shown = crate::redact::redact(url);
    let fail = |e: tokio_postgres::Error| Fail(format!("reading {shown}: {e}"));
    let mut c = crate::store::postgres::Postgres::connect_client(url)
        .await
        .map_err(|e| Fail(format!("cannot open {e}")))?;
    let tx = c
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(fail)?;
    for table in ["auth_user", "tasks_task"] {
        let there: bool = tx
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
            .await
            .map_err(fail)?
            .get(0);
        if !there {
            return Err(Fail(format!(
                "{shown} is not the original's database: it has no {table} table"
            )));
        }
    }
    let time = |col: &str| {
        format!("to_char({col} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
    };
    let users = tx
        .query(
            &format!(
                "SELECT id::bigint, password, username, email, is_active, {}, {} \
                 FROM auth_user ORDER BY id",
                time("date_joined"),
                time("last_login")
            ),
            &[],
        )
        .await
        .map_err(fail)?
        .iter()
        .map(|r| User {
            id: r.get(0),
            password: r.get(1),
            username: r.get(2),
            email: r.get(3),
            is_active: r.get(4),
            date_joined: r.get(5),
            last_login: r.get(6),
        })
        .collect();
    let tasks = tx
        .query(
            &format!(
                "SELECT id::bigint, title, description, completed, {}, {}, user_id::bigint \
                 FROM tasks_task ORDER BY id",
                time("created_at"),
                time("updated_at")
            ),
            &[],
        )
        .await
        .map_err(fail)?
        .iter()
        .map(|r| Task {
            id: r.get(0),
            title: r.get(1),
            description: r.get(2),
            completed: r.get(3),
            created_at: r.get(4),
            updated_at: r.get(5),
            user_id: r.get(6),
        })
        .collect();
    let mut seqs = [0i64; 2];
    for (i, table) in ["auth_user", "tasks_task"].into_iter().enumerate() {
        seqs[i] = tx
            .query_one(
                "SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence($1, 'id')::regclass), 0)",
                &[&table],
            )
            .await
            .map_err(fail)?
            .get(0);
    }
    Ok(Original {
        users,
        tasks,
        users_seq: seqs[0],
        tasks_seq: seqs[1],
    })
}

#[cfg(test)]
mod tests {
    use super::api_time;

    #[test]
    fn djangos_sqlite_times_become_the_apis() {
        assert_eq!(
            api_time("2026-11-25 11:42:56.437485").as_deref(),
            Some("2026-11-25T11:42:56.437485Z")
        );
        // Django leaves the fraction out when it is zero.
        assert_eq!(
            api_time("2026-11-25 11:42:56").as_deref(),
            Some("2026-11-25T11:42:56.000000Z")
        );
        assert_eq!(
            api_time("2026-11-25 11:42:56.5+00:00").as_deref(),
            Some("2026-11-25T11:42:56.500000Z")
        );
        assert_eq!(api_time("yesterday"), None);
    }
}
