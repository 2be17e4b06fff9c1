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
pub(super) async fn list(pg: &Postgres, owner: User, q: TaskQuery) -> Result<TaskPage> {
    let mut c = pg.client().await?;
    let tx = c
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let pattern = q.search.as_deref().map(like_pattern);
    let limit = i64::from(q.limit);
    let offset = i64::try_from(q.offset).unwrap_or(i64::MAX);
    let project = match q.project {
        Some(ProjectFilter::Project(id)) => Some(id),
        _ => None,
    };
    let mut args: Vec<&(dyn ToSql + Sync)> = vec![&owner.id];
    // Every task the owner sees: their personal ones, or those of a project they belong
    // to (each arm served by an index in id order).
    let mut filter = match &project {
        None if q.project == Some(ProjectFilter::Personal) => {
            String::from("user_id = $1 AND project_id IS NULL")
        }
        None => String::from(
            "((user_id = $1 AND project_id IS NULL) OR project_id IN \
             (SELECT project_id FROM project_members WHERE user_id = $1))",
        ),
        Some(project) => {
            args.push(project);
            String::from(
                "project_id = $2 AND EXISTS (SELECT 1 FROM project_members \
                 WHERE project_id = $2 AND user_id = $1)",
            )
        }
    };
    // Where the filters but the sources begin.
    let rest_at = filter.len();
    if let Some(completed) = &q.completed {
        args.push(completed);
        filter.push_str(&format!(" AND completed = ${}", args.len()));
    }
    if let Some(pattern) = &pattern {
        args.push(pattern);
        let n = args.len();
        filter.push_str(&format!(
            " AND (lower(title) LIKE lower(${n}::text COLLATE \"C\") ESCAPE E'\\\\' \
             OR lower(coalesce(description, '')) LIKE lower(${n}::text COLLATE \"C\") \
             ESCAPE E'\\\\')"
        ));
    }
    let assignee = match q.assignee {
        Some(AssigneeFilter::User(id)) => Some(id),
        _ => None,
    };
    if let Some(assignee) = &assignee {
        args.push(assignee);
        filter.push_str(&format!(" AND assignee_id = ${}", args.len()));
    } else if q.assignee == Some(AssigneeFilter::Nobody) {
        filter.push_str(" AND assignee_id IS NULL");
    }
    if let Some(before) = &q.due_before {
        args.push(before);
        filter.push_str(&format!(
            " AND due_at <= ${}::text COLLATE \"C\"",
            args.len()
        ));
    }
    if let Some(after) = &q.due_after {
        args.push(after);
        filter.push_str(&format!(
            " AND due_at >= ${}::text COLLATE \"C\"",
            args.len()
        ));
    }
    // The sources of the visible tasks, each its own arm walked in order from its index
    // and cut at the rows the page can need (see `sqlite::task_list`): the personal
    // tasks, then each project the owner belongs to, as of this snapshot.
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
    let mut page_args = args.clone();
    let mut rest = filter[rest_at..].to_owned();
    if let Some(after) = &q.after {
        page_args.push(&after.id);
        let id = format!("${}::bigint", page_args.len());
        let key = match &after.key {
            Some(key) => {
                page_args.push(key);
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
            for p in &projects {
                page_args.push(p);
                sources.push(format!("project_id = ${}::bigint", page_args.len()));
            }
        }
        Some(_) => sources.push(filter[..rest_at].to_owned()),
    }
    // One row more than the page tells whether another page follows.
    let limit = limit + 1;
    let arm_limit = limit.saturating_add(offset);
    page_args.push(&limit);
    page_args.push(&offset);
    page_args.push(&arm_limit);
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
    let page_sql = format!(
        "SELECT {TASK_COLUMNS}, CASE WHEN user_id = $1 THEN NULL ELSE \
         (SELECT c.username FROM users c WHERE c.id = tasks.user_id) END \
         FROM ({}) AS tasks ORDER BY {order} LIMIT ${} OFFSET ${}",
        arms.join(" UNION ALL "),
        page_args.len() - 2,
        page_args.len() - 1,
    );
    // A search is planned for its term each time: a generic plan knows nothing of the
    // term, and may walk the list in its order to "find the page soon" through every
    // task when nothing matches, where the trigram index answers at once.
    if pattern.is_some() {
        tx.batch_execute("SET LOCAL plan_cache_mode = force_custom_plan")
            .await?;
    }
    let page_stmt = tx.prepare_cached(&page_sql).await?;
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
        let count_args = &args[..if project.is_some() { 2 } else { 1 }];
        let stmt = tx.prepare_cached(&counters_sql(&q, "$1", "$2")).await?;
        let n: i64 = tx.query_one(&stmt, count_args).await?.try_get(0)?;
        (Some(u64::try_from(n).unwrap_or(0)), false)
    } else if !q.count {
        (None, false)
    } else {
        let stmt = tx.prepare_cached(&bounded_count_sql(&filter)).await?;
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
