//! The task list on PostgreSQL: every task the owner sees (their personal ones and
//! those of their projects), one page, its total and the owner's last event id from
//! one `REPEATABLE READ` snapshot, the array written straight from the rows by the same
//! function as SQLite's (so the bytes are the same on both).

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use tokio_postgres::{IsolationLevel, Row, types::ToSql};

use super::Postgres;
use crate::model::User;
use crate::store::keyset::{key_index, next_cursor};
use crate::store::tasks::{
    AssigneeFilter, ProjectFilter, TASK_COLUMNS, TaskPage, TaskQuery, TaskRow, creator_json,
    like_pattern, order_by, write_task,
};
use crate::store::tasks::{
    MAX_MERGED_PROJECTS, bounded_count_sql, capped, counted_by_counters, counters_sql,
};
use crate::store::{Result, StoreError};

/// Appends one task row (`TASK_COLUMNS`) as JSON, in `Task`'s key order.
fn write_row(out: &mut Vec<u8>, r: &Row, user_json: &[u8]) -> Result<()> {
    let row = TaskRow {
        id: r.try_get(0)?,
        title: r.try_get(1)?,
        description: r.try_get(2)?,
        completed: r.try_get(3)?,
        created_at: r.try_get(4)?,
        updated_at: r.try_get(5)?,
        version: r.try_get(6)?,
        project: r.try_get(10)?,
        assignee: match (r.try_get::<_, Option<i64>>(8)?, r.try_get(9)?) {
            (Some(id), Some(username)) => Some((id, username)),
            _ => None,
        },
        due_at: r.try_get(7)?,
    };
    write_task(out, &row, user_json)
}

// One `REPEATABLE READ` snapshot. The search is SQLite's `LIKE`: `ILIKE` on
// `COLLATE "C"` text folds ASCII letters only, `%`, `_` and `\` in the term are literal
// (`ESCAPE '\'`), and a missing description is searched as empty. It is written as
// `lower(…) LIKE lower(term)`, which is how PostgreSQL computes that `ILIKE`, so that
// the trigram indexes of `lower(title)` and `lower(coalesce(description, ''))` serve it
// (migration `0009_task_search`). The array is written
// straight from the rows by the same function as SQLite's, so the bytes are the same.
/// An argument of the list's statements, owned, so the statements can be built apart
/// from running them (and their plans checked: the `plans` tests).
#[derive(Clone, Debug)]
enum Arg {
    Int(i64),
    Bool(bool),
    Text(String),
}

impl Arg {
    fn sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Arg::Int(v) => v,
            Arg::Bool(v) => v,
            Arg::Text(v) => v,
        }
    }
}

/// The list's statements for `q` as `owner` sees it, who belongs to `projects` (read
/// in the same snapshot; empty when `q` names a project or none).
struct Statements {
    /// The visible tasks `q` keeps, for the count, over `args`.
    filter: String,
    args: Vec<Arg>,
    /// The page (one row more than asked), over `page_args`.
    page: String,
    page_args: Vec<Arg>,
}

fn statements(owner: i64, q: &TaskQuery, projects: &[i64]) -> Statements {
    let limit = i64::from(q.limit);
    let offset = i64::try_from(q.offset).unwrap_or(i64::MAX);
    let mut args = vec![Arg::Int(owner)];
    // Every task the owner sees: their personal ones, or those of a project they belong
    // to (each arm served by an index in id order).
    let mut filter = match q.project {
        Some(ProjectFilter::Personal) => String::from("user_id = $1 AND project_id IS NULL"),
        None => String::from(
            "((user_id = $1 AND project_id IS NULL) OR project_id IN \
             (SELECT project_id FROM project_members WHERE user_id = $1))",
        ),
        Some(ProjectFilter::Project(project)) => {
            args.push(Arg::Int(project));
            String::from(
                "project_id = $2 AND EXISTS (SELECT 1 FROM project_members \
                 WHERE project_id = $2 AND user_id = $1)",
            )
        }
    };
    // Where the filters but the sources begin.
    let rest_at = filter.len();
    if let Some(completed) = q.completed {
        args.push(Arg::Bool(completed));
        filter.push_str(&format!(" AND completed = ${}", args.len()));
    }
    if let Some(term) = &q.search {
        args.push(Arg::Text(like_pattern(term)));
        let n = args.len();
        filter.push_str(&format!(
            " AND (lower(title) LIKE lower(${n}::text COLLATE \"C\") ESCAPE E'\\\\' \
             OR lower(coalesce(description, '')) LIKE lower(${n}::text COLLATE \"C\") \
             ESCAPE E'\\\\')"
        ));
    }
    match q.assignee {
        Some(AssigneeFilter::User(id)) => {
            args.push(Arg::Int(id));
            filter.push_str(&format!(" AND assignee_id = ${}", args.len()));
        }
        Some(AssigneeFilter::Nobody) => filter.push_str(" AND assignee_id IS NULL"),
        None => {}
    }
    if let Some(before) = &q.due_before {
        args.push(Arg::Text(before.clone()));
        filter.push_str(&format!(
            " AND due_at <= ${}::text COLLATE \"C\"",
            args.len()
        ));
    }
    if let Some(after) = &q.due_after {
        args.push(Arg::Text(after.clone()));
        filter.push_str(&format!(
            " AND due_at >= ${}::text COLLATE \"C\"",
            args.len()
        ));
    }
    // The sources of the visible tasks, each its own arm walked in order from its index
    // and cut at the rows the page can need (see `sqlite::task_list`): the personal
    // tasks, then each project the owner belongs to, as of this snapshot.
    let mut page_args = args.clone();
    let mut rest = filter[rest_at..].to_owned();
    if let Some(after) = &q.after {
        page_args.push(Arg::Int(after.id));
        let id = format!("${}::bigint", page_args.len());
        let key = match &after.key {
            Some(key) => {
                page_args.push(Arg::Text(key.clone()));
                format!("${}::text COLLATE \"C\"", page_args.len())
            }
            None => String::new(),
        };
        rest.push_str(" AND ");
        rest.push_str(&after.after_sql(&key, &id));
    }
    let mut sources = Vec::new();
    match q.project {
        // Past this many projects, one arm over all the sources.
        None if projects.len() > MAX_MERGED_PROJECTS => sources.push(filter[..rest_at].to_owned()),
        None => {
            sources.push("user_id = $1 AND project_id IS NULL".to_owned());
            for p in projects {
                page_args.push(Arg::Int(*p));
                sources.push(format!("project_id = ${}::bigint", page_args.len()));
            }
        }
        Some(_) => sources.push(filter[..rest_at].to_owned()),
    }
    // One row more than the page tells whether another page follows.
    let limit = limit + 1;
    let arm_limit = limit.saturating_add(offset);
    page_args.push(Arg::Int(limit));
    page_args.push(Arg::Int(offset));
    page_args.push(Arg::Int(arm_limit));
    let order = order_by(q.ordering);
    let arms: Vec<String> = sources
        .iter()
        .map(|s| {
            format!(
                "(SELECT * FROM tasks WHERE {s}{rest} ORDER BY {order} LIMIT ${})",
                page_args.len()
            )
        })
        .collect();
    let page = format!(
        "SELECT {TASK_COLUMNS}, CASE WHEN user_id = $1 THEN NULL ELSE \
         (SELECT c.username FROM users c WHERE c.id = tasks.user_id) END \
         FROM ({}) AS tasks ORDER BY {order} LIMIT ${} OFFSET ${}",
        arms.join(" UNION ALL "),
        page_args.len() - 2,
        page_args.len() - 1,
    );
    Statements {
        filter,
        args,
        page,
        page_args,
    }
}

pub(super) async fn list(pg: &Postgres, owner: User, q: TaskQuery) -> Result<TaskPage> {
    let mut c = pg.client().await?;
    let tx = c
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let projects: Vec<i64> = match q.project {
        None => {
            let stmt = tx
                .prepare_cached(
                    "SELECT project_id FROM project_members WHERE user_id = $1 ORDER BY 1",
                )
                .await?;
            tx.query(&stmt, &[&owner.id])
                .await?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<std::result::Result<_, _>>()?
        }
        Some(_) => Vec::new(),
    };
    let statements = statements(owner.id, &q, &projects);
    let args: Vec<&(dyn ToSql + Sync)> = statements.args.iter().map(Arg::sql).collect();
    let page_args: Vec<&(dyn ToSql + Sync)> = statements.page_args.iter().map(Arg::sql).collect();
    let (filter, page_sql) = (&statements.filter, &statements.page);
    // A search is planned for its term each time: a generic plan knows nothing of the
    // term, and may walk the list in its order to "find the page soon" through every
    // task when nothing matches, where the trigram index answers at once.
    if q.search.is_some() {
        tx.batch_execute("SET LOCAL plan_cache_mode = force_custom_plan")
            .await?;
    }
    let page_stmt = tx.prepare_cached(page_sql).await?;
    let seq_stmt = tx
        .prepare_cached(
            "SELECT event_seq, list_epoch FROM users WHERE id = $1 AND deleted_at IS NULL",
        )
        .await?;
    // Sent together (pipelined): the page's statement takes the snapshot both read.
    let seq_args: [&(dyn ToSql + Sync); 1] = [&owner.id];
    let (rows, seq) = futures_util::try_join!(
        tx.query(&page_stmt, &page_args),
        tx.query_opt(&seq_stmt, &seq_args)
    )?;
    let seq = seq.ok_or(StoreError::NotFound)?;
    let last_event_id: i64 = seq.try_get(0)?;
    let epoch: i64 = seq.try_get(1)?;
    let own_json =
        serde_json::to_vec(&owner).map_err(|e| StoreError::Other(format!("json: {e}")))?;
    // Each creator's JSON, rendered once per page.
    let mut creators: HashMap<i64, Vec<u8>> = HashMap::new();
    let mut body = Vec::with_capacity(64 + 320 * rows.len());
    body.push(b'[');
    let page = rows.len().min(q.limit as usize);
    for (i, r) in rows[..page].iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        let creator: i64 = r.try_get(11)?;
        let user_json = if creator == owner.id {
            &own_json
        } else {
            match creators.entry(creator) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => {
                    let name: Option<&str> = r.try_get(12)?;
                    e.insert(creator_json(&owner, creator, name.unwrap_or(""))?)
                }
            }
        };
        write_row(&mut body, r, user_json)?;
    }
    body.push(b']');
    let count = page;
    let next = match rows.len() > page {
        false => None,
        true => {
            let last = &rows[page - 1];
            let key = match key_index(q.ordering) {
                Some(i) => last.try_get::<_, Option<String>>(i)?,
                None => None,
            };
            Some(next_cursor(q.ordering, Some((last.try_get(0)?, key)))?)
        }
    };
    // The count is only needed when the page might not be everything.
    let (total, total_capped) = if q.offset == 0 && q.after.is_none() && next.is_none() {
        (Some(count as u64), false)
    } else if counted_by_counters(&q) {
        let project = matches!(q.project, Some(ProjectFilter::Project(_)));
        let count_args = &args[..if project { 2 } else { 1 }];
        let stmt = tx.prepare_cached(&counters_sql(&q, "$1", "$2")).await?;
        let n: i64 = tx.query_one(&stmt, count_args).await?.try_get(0)?;
        (Some(u64::try_from(n).unwrap_or(0)), false)
    } else if !q.count {
        (None, false)
    } else {
        let stmt = tx.prepare_cached(&bounded_count_sql(filter)).await?;
        let n: i64 = tx.query_one(&stmt, &args).await?.try_get(0)?;
        let (n, capped) = capped(n);
        (Some(n), capped)
    };
    tx.commit().await?;
    Ok(TaskPage {
        json: body,
        count,
        total,
        total_capped,
        next,
        last_event_id,
        list_version: last_event_id + epoch,
    })
}

/// The page's plan for every list shape, on a real PostgreSQL (`TASKLANE_TEST_DATABASE_URL`,
/// as `.ci/run`'s PostgreSQL pass sets it; without it there is no server to ask, and the
/// test returns at once). A user sees 30,000 tasks (a third personal, the rest over 10
/// projects) among 60,000, analysed: no arm may read the tasks whole (`Seq Scan`) or
/// gather every task of a source to sort them (`Bitmap Heap Scan` then `Sort`); only a
/// search may go through its trigram indexes' bitmaps.
#[cfg(test)]
mod plans {
    use super::*;
    use crate::store::tasks::list_shapes;

    /// `admin` (a URL) with its database replaced by `name`.
    fn with_database(admin: &str, name: &str) -> String {
        let (base, query) = admin.split_once('?').unwrap_or((admin, ""));
        let (server, _) = base.rsplit_once('/').expect("a URL with a database");
        match query {
            "" => format!("{server}/{name}"),
            q => format!("{server}/{name}?{q}"),
        }
    }

    #[tokio::test]
    async fn no_list_shape_reads_a_source_whole() {
        let Ok(admin) = std::env::var("TASKLANE_TEST_DATABASE_URL") else {
            return;
        };
        let name = format!("tasklane_plans_{}", hex::encode(rand::random::<[u8; 6]>()));
        let root = Postgres::connect_client(&admin).await.unwrap();
        root.batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        let url = with_database(&admin, &name);
        let pg = Postgres::connect(&url, 2).await.unwrap();
        let c = Postgres::connect_client(&url).await.unwrap();
        c.batch_execute(
            "INSERT INTO users (id, username, email, password_hash, created_at) VALUES
                 (1, 'lister', 'l@example.com', 'x', '2026-01-01T00:00:00.000000Z'),
                 (2, 'other', 'o@example.com', 'x', '2026-01-01T00:00:00.000000Z');
             INSERT INTO projects (id, name, owner_id, created_at, updated_at)
                 SELECT i, 'p' || i, 1, '2026-01-01T00:00:00.000000Z',
                        '2026-01-01T00:00:00.000000Z' FROM generate_series(1, 10) AS i;
             INSERT INTO project_members (project_id, user_id, role, created_at)
                 SELECT i, 1, 'owner', '2026-01-01T00:00:00.000000Z'
                 FROM generate_series(1, 10) AS i;
             INSERT INTO tasks (user_id, title, description, completed, created_at,
                                updated_at, due_at, assignee_id, project_id)
                 SELECT 1 + (i % 2), 'Task ' || i, CASE WHEN i % 2 = 1 THEN 'about ' || i END,
                        i % 3 = 0,
                        to_char(timestamp '2026-01-01' + i * interval '1 minute',
                                'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),
                        to_char(timestamp '2026-01-01' + ((i::bigint * 7919) % 60000) * interval '1 minute',
                                'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),
                        CASE WHEN i % 5 <> 0 THEN
                            to_char(timestamp '2026-01-01' + ((i::bigint * 104729) % 60000) * interval '5 minute',
                                    'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') END,
                        CASE WHEN i % 4 = 0 THEN 1 END,
                        CASE WHEN i % 2 = 0 AND i % 3 <> 0 THEN 1 + (i % 10) END
                 FROM generate_series(1, 60000) AS i;
             SELECT setval(pg_get_serial_sequence('tasks', 'id'), 60000);
             ANALYZE;",
        )
        .await
        .unwrap();
        let projects: Vec<i64> = (1..=10).collect();
        let mut failures = Vec::new();
        for q in list_shapes() {
            let projects = if q.project.is_none() {
                &projects[..]
            } else {
                &[]
            };
            let s = statements(1, &q, projects);
            let args: Vec<&(dyn ToSql + Sync)> = s.page_args.iter().map(Arg::sql).collect();
            let plan: Vec<String> = c
                .query(&format!("EXPLAIN {}", s.page), &args)
                .await
                .unwrap_or_else(|e| panic!("{q:?}: {e}"))
                .iter()
                .map(|r| r.get(0))
                .collect();
            let plan = plan.join("\n");
            let whole = plan.contains("Seq Scan on tasks")
                || (q.search.is_none() && plan.contains("Bitmap Heap Scan on tasks"));
            if whole {
                failures.push(format!("{q:?}\n{plan}"));
            }
        }
        drop(pg);
        drop(c);
        let _ = root
            .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .await;
        assert!(
            failures.is_empty(),
            "{} of {} shapes read a source whole:\n\n{}",
            failures.len(),
            list_shapes().len(),
            failures.join("\n\n")
        );
    }
}
