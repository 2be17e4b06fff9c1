//! The original's SQLite database (`db.sqlite3`), opened read-only and read in one
//! read transaction. Django stores times there as text in UTC (`2026-11-25 11:42:56.437485`),
//! read here as the API's.

use std::path::Path;

use super::{DjangoTask, DjangoUser, Original, ReadError, TABLES};

/// Reads the original's accounts and tasks from the SQLite file at `path`.
pub async fn read_sqlite(path: &Path) -> Result<Original, ReadError> {
    if !path.is_file() {
        return Err(ReadError(format!("{} does not exist", path.display())));
    }
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || read(&path))
        .await
        .map_err(|e| ReadError(format!("reading failed: {e}")))?
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

/// The whole read, in one read transaction.
fn read(path: &Path) -> Result<Original, ReadError> {
    use rusqlite::OpenFlags;
    let c = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| ReadError(format!("cannot open {}: {e}", path.display())))?;
    let fail = |e: rusqlite::Error| ReadError(format!("reading {}: {e}", path.display()));
    let tx = c.unchecked_transaction().map_err(fail)?;
    for table in TABLES {
        let there: i64 = tx
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1",
                [table],
                |r| r.get(0),
            )
            .map_err(fail)?;
        if there == 0 {
            return Err(ReadError(format!(
                "{} is not the original's database: it has no {table} table",
                path.display()
            )));
        }
    }
    let bad_time = |what: &str, id: i64, text: &str| {
        ReadError(format!(
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
        users.push(DjangoUser {
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
        tasks.push(DjangoTask {
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
    let seq = |name: &str| -> Result<i64, ReadError> {
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
