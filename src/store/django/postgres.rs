//! The original's PostgreSQL database, read in one read-only `REPEATABLE READ`
//! transaction on a connection of its own. Times are turned into the API's text in SQL.

use super::{DjangoTask, DjangoUser, Original, ReadError, TABLES};
use crate::redact::redact;
use crate::store::postgres::Postgres;

/// Reads the original's accounts and tasks from the PostgreSQL database at `url` (its
/// `sslmode` honoured), in one read-only `REPEATABLE READ` transaction.
pub async fn read_postgres(url: &str) -> Result<Original, ReadError> {
    let shown = redact(url);
    let fail = |e: tokio_postgres::Error| ReadError(format!("reading {shown}: {e}"));
    let mut c = Postgres::connect_client(url)
        .await
        .map_err(|e| ReadError(format!("cannot open {e}")))?;
    let tx = c
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(fail)?;
    for table in TABLES {
        let there: bool = tx
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
            .await
            .map_err(fail)?
            .get(0);
        if !there {
            return Err(ReadError(format!(
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
        .map(|r| DjangoUser {
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
        .map(|r| DjangoTask {
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
    for (i, table) in TABLES.into_iter().enumerate() {
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
