//! The task list on SQLite: one page of what the owner sees (their personal tasks and
//! those of their projects), its total and the owner's last event id, from one read
//! transaction.
//!
//! The page costs the page, not the owner's tasks: each source of visible tasks (the
//! personal ones, then each project the owner belongs to, read in the same transaction)
//! is its own arm, walked in the list's order from an index of its own (migration `0011_list_indexes`)
//! and cut at the rows the page can need; the arms are merged and the page taken from
//! them. One `OR` over the sources would read every visible task and sort them all. A
//! cursor (`after`) starts every arm where the previous page ended; `offset` is walked.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use rusqlite::{Connection, ToSql, params};

use super::tasks::write_row;
use crate::model::User;
use crate::store::keyset::{key_index, next_cursor};
use crate::store::tasks::MAX_MERGED_PROJECTS;
use crate::store::tasks::{
    AssigneeFilter, ProjectFilter, TASK_COLUMNS, TaskPage, TaskQuery, bounded_count_sql, capped,
    counted_by_counters, counters_sql, creator_json, order_by,
};
use crate::store::{Result, StoreError};

/// The tasks `:user` sees (with `:project` bound for one project's), for the count.
fn visible_filter(project: Option<ProjectFilter>) -> &'static str {
    match project {
        None => {
            "((user_id = :user AND project_id IS NULL) OR project_id IN \
             (SELECT project_id FROM project_members WHERE user_id = :user))"
        }
        Some(ProjectFilter::Personal) => "user_id = :user AND project_id IS NULL",
        Some(ProjectFilter::Project(_)) => {
            "project_id = :project AND EXISTS (SELECT 1 FROM project_members \
             WHERE project_id = :project AND user_id = :user)"
        }
    }
}

/// The filters but the sources, each ` AND …`; `search_in` is [`SEARCH_IN`] when the
/// search's candidates come from its index, else empty (the `LIKE` decides either way).
fn rest_filter(q: &TaskQuery, search_in: &str) -> String {
    let mut f = String::new();
    if q.completed.is_some() {
        f.push_str(" AND completed = :completed");
    }
    if q.search.is_some() {
        f.push_str(search_in);
        f.push_str(
            " AND (title LIKE :pattern ESCAPE '\\' \
             OR IFNULL(description, '') LIKE :pattern ESCAPE '\\')",
        );
    }
    match q.assignee {
        // `+`: no index on the assignee finds a source's rows. SQLite otherwise took
        // `tasks_by_assignee` for the personal arm: every task assigned to the owner,
        // in every project, read to find the personal ones.
        Some(AssigneeFilter::User(_)) => f.push_str(" AND +assignee_id = :assignee"),
        Some(AssigneeFilter::Nobody) => f.push_str(" AND assignee_id IS NULL"),
        None => {}
    }
    if q.due_before.is_some() {
        f.push_str(" AND due_at <= :due_before");
    }
    if q.due_after.is_some() {
        f.push_str(" AND due_at >= :due_after");
    }
    f
}

/// Past this many rows holding the term's trigrams (anyone's), a search's page walks
/// the list in its order instead, checking each task with `LIKE`: with that many
/// matches the page fills long before the end, where sorting every candidate would not
/// stop early. (Its count still reads only the candidates.)
const SEARCH_CANDIDATES: i64 = 500;

/// The search's candidates from the index, bound as `:trigrams`; the list keeps its
/// `LIKE` on them, which decides: the trigrams only find a superset of its matches
/// (FTS5 folds more case than `LIKE`, and ignores the trigrams' order). Inserts still
/// queued for the index (written outside the writer and not yet replayed, migration
/// `0012_lighter_writes`) are candidates too.
const SEARCH_IN: &str = " AND id IN (SELECT rowid FROM task_search WHERE task_search MATCH :trigrams \
     UNION ALL SELECT task_id FROM task_search_pending WHERE op = 'insert')";

/// The same with the candidates already read, bound as `:candidates` (a JSON array of
/// ids): the page asks the index once, not twice.
const CANDIDATES_IN: &str = " AND id IN (SELECT value FROM json_each(:candidates) \
     UNION ALL SELECT task_id FROM task_search_pending WHERE op = 'insert')";

/// What the index says of a search term.
enum Candidates {
    /// The term is too short for trigrams: `LIKE` alone decides.
    NoTrigrams,
    /// Fewer than [`SEARCH_CANDIDATES`] rows hold its trigrams: these (a JSON array).
    Few(String),
    /// [`SEARCH_CANDIDATES`] or more do: the page walks the list in its order.
    Many(String),
}

/// Replays the search index's queued changes (migration `0012_lighter_writes`) into
/// `task_search`, in the order they were made, and empties the queue. The writer runs it
/// in each batch's transaction just before the commit, outside every job's savepoint, so
/// FTS5 writes the batch's changes to disk once instead of once per job.
pub(super) fn flush_search(c: &Connection) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO task_search (task_search, rowid, title, description)
         SELECT CASE op WHEN 'delete' THEN 'delete' END, task_id, title, description
         FROM task_search_pending ORDER BY seq",
    )?
    .execute([])?;
    c.prepare_cached("DELETE FROM task_search_pending")?
        .execute([])?;
    Ok(())
}

/// The index's candidates for `term` (see [`Candidates`]), read once.
fn search_candidates(c: &Connection, term: &str) -> Result<Candidates> {
    let Some(query) = search_trigrams(term) else {
        return Ok(Candidates::NoTrigrams);
    };
    let ids: Vec<i64> = c
        .prepare_cached("SELECT rowid FROM task_search WHERE task_search MATCH ?1 LIMIT ?2")?
        .query_map(params![query, SEARCH_CANDIDATES], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if ids.len() as i64 >= SEARCH_CANDIDATES {
        return Ok(Candidates::Many(query));
    }
    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
    Ok(Candidates::Few(format!("[{}]", list.join(","))))
}

/// The FTS5 query for `term`'s trigrams, `None` for a term of fewer than three
/// characters (or holding a NUL, which FTS5 queries cannot). Any subset of the trigrams
/// still finds every match: a long term asks for at most 12, spread over it.
fn search_trigrams(term: &str) -> Option<String> {
    const MAX_TRIGRAMS: usize = 12;
    if term.contains('\0') {
        return None;
    }
    let starts: Vec<usize> = term.char_indices().map(|(i, _)| i).collect();
    let windows = starts.len().checked_sub(2).filter(|&n| n > 0)?;
    let step = windows.div_ceil(MAX_TRIGRAMS);
    let mut picked: Vec<&str> = (0..windows)
        .step_by(step)
        .chain([windows - 1])
        .map(|w| {
            let end = starts.get(w + 3).copied().unwrap_or(term.len());
            &term[starts[w]..end]
        })
        .collect();
    picked.sort_unstable();
    picked.dedup();
    let quoted: Vec<String> = picked
        .iter()
        .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
        .collect();
    Some(quoted.join(" AND "))
}

/// The page's SQL: one arm per source (`projects` is how many of the owner's projects
/// are merged, bound as `:p0`, `:p1`, …; past [`MAX_MERGED_PROJECTS`], one arm over all
/// sources), each in order and cut at `:arm_limit` rows, the page taken from their merge. The creator's username only for another's task (12).
pub(super) fn page_sql(q: &TaskQuery, projects: usize, search_in: &str) -> String {
    let mut rest = rest_filter(q, search_in);
    if let Some(after) = &q.after {
        rest.push_str(" AND ");
        rest.push_str(&after.after_sql(":after_key", ":after_id"));
    }
    let order = order_by(q.ordering);
    let sources: Vec<String> = match q.project {
        None if projects > MAX_MERGED_PROJECTS => vec![visible_filter(None).to_owned()],
        None => std::iter::once("user_id = :user AND project_id IS NULL".to_owned())
            .chain((0..projects).map(|i| format!("project_id = :p{i}")))
            .collect(),
        Some(_) => vec![visible_filter(q.project).to_owned()],
    };
    let arms: Vec<String> = sources
        .iter()
        .map(|s| {
            format!(
                "SELECT * FROM (SELECT * FROM tasks WHERE {s}{rest} ORDER BY {order} \
                 LIMIT :arm_limit)"
            )
        })
        .collect();
    format!(
        "SELECT {TASK_COLUMNS}, CASE WHEN user_id = :user THEN NULL ELSE \
         (SELECT c.username FROM users c WHERE c.id = tasks.user_id) END \
         FROM ({}) AS tasks ORDER BY {order} LIMIT :limit OFFSET :offset",
        arms.join(" UNION ALL ")
    )
}

/// The projects whose tasks `owner` sees, as of the transaction.
fn projects_of(c: &Connection, owner: i64) -> Result<Vec<i64>> {
    Ok(
        c.prepare_cached("SELECT project_id FROM project_members WHERE user_id = ?1 ORDER BY 1")?
            .query_map([owner], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?,
    )
}

pub(super) fn list(conn: &mut Connection, owner: User, q: TaskQuery) -> Result<TaskPage> {
    let c = conn.transaction()?;
    let mut projects = match q.project {
        None => projects_of(&c, owner.id)?,
        Some(_) => Vec::new(),
    };
    let many = projects.len() > MAX_MERGED_PROJECTS;
    if many {
        projects.clear();
    }
    let project_names: Vec<String> = (0..projects.len()).map(|i| format!(":p{i}")).collect();
    // The search index's candidates: for the count whenever the term has trigrams, for
    // the page unless there are many (see `search_candidates`).
    let candidates = match &q.search {
        Some(term) => search_candidates(&c, term)?,
        None => Candidates::NoTrigrams,
    };
    let (page_in, count_in) = match &candidates {
        Candidates::NoTrigrams => ("", ""),
        Candidates::Many(_) => ("", SEARCH_IN),
        Candidates::Few(_) => (CANDIDATES_IN, CANDIDATES_IN),
    };
    let pattern = q.search.as_deref().map(crate::store::tasks::like_pattern);
    let mut args: Vec<(&str, &dyn ToSql)> = vec![(":user", &owner.id)];
    if let Some(completed) = &q.completed {
        args.push((":completed", completed));
    }
    if let Some(pattern) = &pattern {
        args.push((":pattern", pattern));
    }
    if let Some(AssigneeFilter::User(id)) = &q.assignee {
        args.push((":assignee", id));
    }
    if let Some(ProjectFilter::Project(id)) = &q.project {
        args.push((":project", id));
    }
    if let Some(before) = &q.due_before {
        args.push((":due_before", before));
    }
    if let Some(after) = &q.due_after {
        args.push((":due_after", after));
    }
    let mut page_args = args.clone();
    for (name, id) in project_names.iter().zip(&projects) {
        page_args.push((name.as_str(), id));
    }
    if let Some(after) = &q.after {
        page_args.push((":after_id", &after.id));
        if let Some(key) = &after.key {
            page_args.push((":after_key", key));
        }
    }
    // One row more than the page tells whether another page follows.
    let limit = i64::from(q.limit) + 1;
    let offset = i64::try_from(q.offset).unwrap_or(i64::MAX);
    let arm_limit = limit.saturating_add(offset);
    page_args.push((":limit", &limit));
    page_args.push((":offset", &offset));
    page_args.push((":arm_limit", &arm_limit));
    if let Candidates::Few(ids) = &candidates {
        page_args.push((":candidates", ids));
    }
    let sql = page_sql(&q, if many { usize::MAX } else { projects.len() }, page_in);
    let own_json =
        serde_json::to_vec(&owner).map_err(|e| StoreError::Other(format!("json: {e}")))?;
    // Each creator's JSON, rendered once per page.
    let mut creators: HashMap<i64, Vec<u8>> = HashMap::new();
    let mut body = Vec::with_capacity(64 + 320 * q.limit.min(100) as usize);
    body.push(b'[');
    let mut count = 0usize;
    let key_index = key_index(q.ordering);
    let mut next = None;
    let mut last_row: Option<(i64, Option<String>)> = None;
    {
        let mut stmt = c.prepare_cached(&sql)?;
        let mut rows = stmt.query(page_args.as_slice())?;
        while let Some(r) = rows.next()? {
            if count == q.limit as usize {
                next = Some(next_cursor(q.ordering, last_row.take())?);
                break;
            }
            if count > 0 {
                body.push(b',');
            }
            let creator: i64 = r.get(11)?;
            let user_json = if creator == owner.id {
                &own_json
            } else {
                match creators.entry(creator) {
                    Entry::Occupied(e) => e.into_mut(),
                    Entry::Vacant(e) => {
                        let name = r.get_ref(12)?.as_str_or_null().ok().flatten();
                        e.insert(creator_json(&owner, creator, name.unwrap_or(""))?)
                    }
                }
            };
            write_row(&mut body, r, user_json)?;
            last_row = Some((
                r.get::<_, i64>(0)?,
                key_index
                    .map(|i| r.get::<_, Option<String>>(i))
                    .transpose()?
                    .flatten(),
            ));
            count += 1;
        }
    }
    body.push(b']');
    // The count is only needed when the page might not be everything.
    let (total, total_capped) = if q.offset == 0 && q.after.is_none() && next.is_none() {
        (Some(count as u64), false)
    } else if counted_by_counters(&q) {
        let mut count_args: Vec<(&str, &dyn ToSql)> = vec![(":user", &owner.id)];
        if let Some(ProjectFilter::Project(id)) = &q.project {
            count_args.push((":project", id));
        }
        let n: i64 = c
            .prepare_cached(&counters_sql(&q, ":user", ":project"))?
            .query_row(count_args.as_slice(), |r| r.get(0))?;
        (Some(u64::try_from(n).unwrap_or(0)), false)
    } else if !q.count {
        (None, false)
    } else {
        let filter = format!("{}{}", visible_filter(q.project), rest_filter(&q, count_in));
        let mut count_args = args.clone();
        match &candidates {
            Candidates::Few(ids) => count_args.push((":candidates", ids)),
            Candidates::Many(t) => count_args.push((":trigrams", t)),
            Candidates::NoTrigrams => {}
        }
        let n: i64 = c
            .prepare_cached(&bounded_count_sql(&filter))?
            .query_row(count_args.as_slice(), |r| r.get(0))?;
        let (n, capped) = capped(n);
        (Some(n), capped)
    };
    // A deleted account (being purged) shows nothing: `NotFound`.
    let (last_event_id, epoch): (i64, i64) = c
        .prepare_cached(
            "SELECT event_seq, list_epoch FROM users WHERE id = ?1 AND deleted_at IS NULL",
        )?
        .query_row([owner.id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    c.commit()?;
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

/// The query plans of every list shape: no source is read whole (no `SCAN` of `tasks`)
/// nor sorted whole (a temporary b-tree only for the merge of the arms, once cut).
#[cfg(test)]
mod plans {
    use super::*;
    use crate::store::tasks::list_shapes;

    fn migrated() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        crate::store::sqlite::migrate(&mut c).unwrap();
        c
    }

    /// The plan's lines (`EXPLAIN QUERY PLAN`, `detail` column) of `sql`, with its
    /// parameters bound to values like the server's (the bundled SQLite has STAT4, so
    /// the values steer the plan as they do when the server runs it).
    fn plan(c: &Connection, sql: &str) -> Vec<String> {
        let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        for i in 1..=stmt.parameter_count() {
            let name = stmt.parameter_name(i).unwrap_or("").to_owned();
            let value: rusqlite::types::Value = match name.as_str() {
                ":user" | ":assignee" => 1.into(),
                ":project" => 3.into(),
                ":completed" => 0.into(),
                ":limit" | ":arm_limit" => 51.into(),
                ":offset" => 0.into(),
                ":after_id" => 7.into(),
                ":after_key" => "2026-01-01T00:00:00.000000Z".to_owned().into(),
                ":due_before" => "2027-01-01T00:00:00.000000Z".to_owned().into(),
                ":due_after" => "2026-06-01T00:00:00.000000Z".to_owned().into(),
                ":pattern" => "%zzq%".to_owned().into(),
                p if p.starts_with(":p") => (p[2..].parse::<i64>().unwrap() + 1).into(),
                other => panic!("no value for {other}"),
            };
            stmt.raw_bind_parameter(i, value).unwrap();
        }
        let mut rows = stmt.raw_query();
        let mut lines = Vec::new();
        while let Some(r) = rows.next().unwrap() {
            lines.push(r.get::<_, String>(3).unwrap());
        }
        lines
    }

    #[test]
    fn no_list_shape_reads_or_sorts_a_whole_source() {
        let c = migrated();
        for q in list_shapes() {
            let sql = page_sql(&q, 3, "");
            let lines = plan(&c, &sql);
            let text = lines.join("\n");
            // Each arm walks its source's index for the order: never the assignee index
            // (every task assigned to the owner, in every project, read to find the few
            // of one source).
            for l in lines.iter().filter(|l| l.starts_with("SEARCH tasks")) {
                assert!(!l.contains("tasks_by_assignee"), "{q:?}\n{text}");
            }
            // `SCAN tasks` alone is the merged arms (named `tasks`), read as a co-routine.
            let merged = lines.iter().filter(|l| *l == "CO-ROUTINE tasks").count();
            let scans = lines.iter().filter(|l| l.starts_with("SCAN tasks"));
            assert!(
                scans.clone().all(|l| l == "SCAN tasks") && scans.count() <= merged,
                "{q:?}\n{text}"
            );
            // Sorts only of cut arms (for the merge), never of what an index search
            // gives: each arm comes in order from its index.
            let mut source = "";
            for l in &lines {
                if l.starts_with("SEARCH tasks")
                    || l.starts_with("SCAN (subquery")
                    || l == "SCAN tasks"
                {
                    source = l;
                }
                // A due-date range may be searched by date and its matches sorted.
                if l.contains("TEMP B-TREE") && q.due_before.is_none() {
                    assert!(source.starts_with("SCAN "), "{q:?}\n{text}");
                }
            }
        }
    }
}

#[cfg(test)]
mod search_tests {
    use super::search_trigrams;

    #[test]
    fn a_search_term_gives_its_trigrams_quoted() {
        assert_eq!(search_trigrams("ab"), None);
        assert_eq!(search_trigrams("éà"), None);
        assert_eq!(search_trigrams("a\0bc"), None);
        assert_eq!(search_trigrams("abc").as_deref(), Some(r#""abc""#));
        assert_eq!(
            search_trigrams(r#"a"bcé"#).as_deref(),
            Some(r#""""bc" AND "a""b" AND "bcé""#)
        );
        // A long term: at most a dozen, the first and the last among them.
        let q = search_trigrams(&"abcdefghij".repeat(10)).unwrap();
        assert!(q.split(" AND ").count() <= 13, "{q}");
        assert!(q.contains(r#""abc""#) && q.contains(r#""hij""#), "{q}");
    }
}
