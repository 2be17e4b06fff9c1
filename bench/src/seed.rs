//! The lister's tasks for `list-shapes`, made in seconds rather than minutes.
//!
//! Every task is a pure function of its index and the list's size ([`task`]), so the
//! shapes' filters match the same share of tasks at 50 as at 100,000, whichever way the
//! tasks are made:
//!
//! - `sql` (the default on a started server): plain `INSERT`s into `tasks`, in one
//!   transaction, straight into the started server's database while it runs: its SQLite
//!   file (another writer, which SQLite serialises with the server's), or its PostgreSQL
//!   database (`INSERT … SELECT FROM unnest(…)` in chunks). Creates through the API run at
//!   roughly 10,000/s on SQLite and 5,000/s on PostgreSQL (see docs/performance.md), so
//!   1,000,000 would take minutes; these take seconds. They write no events, which is
//!   right for a list's cost: nobody listens to the lister's stream. Any per-user or
//!   per-project counter the server keeps by trigger stays right, and its list cache
//!   holds nothing of the lister yet: the seeding comes before any list of theirs.
//! - `api`: `POST /api/tasks/` over many connections, the only way with `--base`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, TimeZone, Utc};
use futures_util::{StreamExt, TryStreamExt};
use hyper::StatusCode;
use serde_json::{Value, json};

use crate::api::User;
use crate::http::{Conn, Req, excerpt};

/// Searched for by the "matches nothing" shape: in no seeded title or description.
pub const SEARCH_NONE: &str = "zqxj";
/// Searched for by the "matches a few" shape: in the titles of [`FEW`] tasks.
pub const SEARCH_FEW: &str = "needle";
/// Searched for by the "matches thousands" shape: in the title or description of one
/// task in [`MANY_EVERY`] (5,000 of 100,000).
pub const SEARCH_MANY: &str = "common";
pub const FEW: usize = 5;
pub const MANY_EVERY: usize = 20;

/// Due dates start here, one every 10 minutes in a shuffled order.
fn due_epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::UNIX_EPOCH)
}

/// Task `i` of `n`: its fields, with `project` the project it is in (if any). Of the
/// tasks: one in 3 is completed; one in 4 is assigned to the lister; one in 5 has no due
/// date, the others one in a 10-minute grid from 2027, shuffled; odd ones have a
/// description; `updated_at` is a shuffle of the creation times, so `-updated_at` is
/// not id order.
#[derive(Clone, Debug, PartialEq)]
pub struct SeedTask {
    pub title: String,
    pub description: Option<String>,
    pub completed: bool,
    pub created_at: String,
    pub updated_at: String,
    pub due_at: Option<String>,
    pub assigned: bool,
    pub project: Option<i64>,
}

/// `i * k mod n`: a permutation of `0..n` when `k` and `n` share no factor.
fn shuffle(i: usize, k: u64, n: usize) -> u64 {
    (i as u64 * k) % n.max(1) as u64
}

/// The task at index `i` of a list of `n`, created from `base` on (one a second).
pub fn task(i: usize, n: usize, base: DateTime<Utc>, projects: &[i64]) -> SeedTask {
    let at = |secs: u64| tasklane::clock::timestamp(base + chrono::Duration::seconds(secs as i64));
    let few_every = (n / FEW).max(1);
    let mut title = format!("Seeded task {i}");
    if i.is_multiple_of(few_every) && i / few_every < FEW {
        title.push_str(&format!(" {SEARCH_FEW}"));
    }
    // One in MANY_EVERY matches: half by title, half by description (odd indexes).
    if i % (2 * MANY_EVERY) == 7 {
        title.push_str(&format!(" {SEARCH_MANY}"));
    }
    let description = (i % 2 == 1).then(|| {
        let mut d = format!("Notes for task {i}");
        if i % (2 * MANY_EVERY) == 27 {
            d.push_str(&format!(", {SEARCH_MANY} ones"));
        }
        d
    });
    let due_at = (i % 5 != 4).then(|| {
        let step = shuffle(i, 104_729, n) as i64 * 10;
        tasklane::clock::timestamp(due_epoch() + chrono::Duration::minutes(step))
    });
    SeedTask {
        title,
        description,
        completed: i.is_multiple_of(3),
        created_at: at(i as u64),
        updated_at: at(n as u64 + shuffle(i, 7_919, n)),
        due_at,
        assigned: i % 4 == 1,
        project: (!projects.is_empty()).then(|| projects[i % projects.len()]),
    }
}

/// The `due_after`/`due_before` of the due-date shape for a list of `n`: the middle half
/// of the due dates' span (about 40 % of the tasks, those without a date left out).
pub fn due_window(n: usize) -> (String, String) {
    let minutes = |q: usize| chrono::Duration::minutes((n * q / 4) as i64 * 10);
    (
        tasklane::clock::timestamp(due_epoch() + minutes(1)),
        tasklane::clock::timestamp(due_epoch() + minutes(3)),
    )
}

/// Where the tasks go.
pub enum Seeder<'a> {
    Sqlite(PathBuf),
    Postgres(&'a str),
    Api {
        addr: SocketAddr,
        connections: usize,
    },
}

impl Seeder<'_> {
    pub fn name(&self) -> &'static str {
        match self {
            Seeder::Sqlite(_) => "sql (SQLite INSERTs, one transaction)",
            Seeder::Postgres(_) => "sql (PostgreSQL INSERT … SELECT FROM unnest, chunks of 20,000)",
            Seeder::Api { .. } => "api (POST /api/tasks/)",
        }
    }

    /// Gives `user` (id `user_id`) `n` tasks.
    pub async fn seed(
        &self,
        user: &User,
        user_id: i64,
        n: usize,
        projects: &[i64],
    ) -> anyhow::Result<()> {
        let base = Utc::now() - chrono::Duration::seconds(2 * n as i64 + 60);
        let tasks =
            move |range: std::ops::Range<usize>| range.map(move |i| task(i, n, base, projects));
        match self {
            Seeder::Sqlite(path) => {
                let path = path.clone();
                let rows: Vec<SeedTask> = tasks(0..n).collect();
                tokio::task::spawn_blocking(move || sqlite(&path, user_id, &rows)).await?
            }
            Seeder::Postgres(url) => {
                let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                    .await
                    .context("connect to the bench database")?;
                tokio::spawn(async move {
                    let _ = connection.await;
                });
                const CHUNK: usize = 20_000;
                let mut start = 0;
                while start < n {
                    let end = (start + CHUNK).min(n);
                    postgres(&client, user_id, tasks(start..end)).await?;
                    start = end;
                }
                // What autovacuum would do shortly anyway, done now rather than during a
                // measurement.
                client.batch_execute("ANALYZE tasks").await?;
                Ok(())
            }
            Seeder::Api { addr, connections } => {
                api(*addr, user, user_id, tasks(0..n), *connections).await
            }
        }
    }
}

fn sqlite(path: &std::path::Path, user_id: i64, rows: &[SeedTask]) -> anyhow::Result<()> {
    let mut c =
        rusqlite::Connection::open(path).with_context(|| format!("open {}", path.display()))?;
    c.busy_timeout(Duration::from_secs(30))?;
    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    {
        let mut insert = tx.prepare(
            "INSERT INTO tasks (user_id, title, description, completed, created_at, updated_at,
             due_at, assignee_id, project_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        for t in rows {
            insert.execute(rusqlite::params![
                user_id,
                t.title,
                t.description,
                t.completed,
                t.created_at,
                t.updated_at,
                t.due_at,
                t.assigned.then_some(user_id),
                t.project,
            ])?;
        }
    }
    tx.commit()?;
    Ok(())
}

async fn postgres(
    client: &tokio_postgres::Client,
    user_id: i64,
    rows: impl Iterator<Item = SeedTask>,
) -> anyhow::Result<()> {
    let (mut users, mut titles, mut descriptions, mut completed) = (vec![], vec![], vec![], vec![]);
    let (mut created, mut updated, mut due, mut assignees, mut projects) =
        (vec![], vec![], vec![], vec![], vec![]);
    for t in rows {
        users.push(user_id);
        titles.push(t.title);
        descriptions.push(t.description);
        completed.push(t.completed);
        created.push(t.created_at);
        updated.push(t.updated_at);
        due.push(t.due_at);
        assignees.push(t.assigned.then_some(user_id));
        projects.push(t.project);
    }
    client
        .execute(
            "INSERT INTO tasks (user_id, title, description, completed, created_at, updated_at,
             due_at, assignee_id, project_id)
             SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bool[], $5::text[],
                                  $6::text[], $7::text[], $8::bigint[], $9::bigint[])",
            &[
                &users,
                &titles,
                &descriptions,
                &completed,
                &created,
                &updated,
                &due,
                &assignees,
                &projects,
            ],
        )
        .await
        .context("insert the lister's tasks")?;
    Ok(())
}

async fn api(
    addr: SocketAddr,
    user: &User,
    user_id: i64,
    rows: impl Iterator<Item = SeedTask>,
    connections: usize,
) -> anyhow::Result<()> {
    let token = user.token.clone();
    let conns: Vec<tokio::sync::Mutex<Conn>> = (0..connections.max(1))
        .map(|_| tokio::sync::Mutex::new(Conn::new(addr)))
        .collect();
    let conns = Arc::new(conns);
    futures_util::stream::iter(rows.enumerate())
        .map(|(i, t)| {
            let (conns, token) = (conns.clone(), token.clone());
            async move {
                let body = json!({
                    "title": t.title,
                    "description": t.description,
                    "completed": t.completed,
                    "due_at": t.due_at,
                    "assignee": t.assigned.then_some(user_id),
                    "project": t.project,
                });
                let req = Req::post_json("/api/tasks/", Some(token), &body);
                let (status, body) = conns[i % conns.len()].lock().await.send(&req).await?;
                if status != StatusCode::CREATED {
                    bail!("create task: {status} {}", excerpt(&body));
                }
                Ok(())
            }
        })
        .buffer_unordered(connections.max(1))
        .try_collect()
        .await
}

/// `user`'s id, from `GET /api/users/me`.
pub async fn user_id(addr: SocketAddr, user: &User) -> anyhow::Result<i64> {
    let req = Req::get("/api/users/me", Some(user.token.clone()));
    let (status, body) = Conn::new(addr).send(&req).await?;
    if status != StatusCode::OK {
        bail!("GET /api/users/me: {status} {}", excerpt(&body));
    }
    let v: Value = serde_json::from_slice(&body)?;
    v["id"].as_i64().context("/api/users/me without `id`")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(n: usize, projects: &[i64]) -> Vec<SeedTask> {
        let base = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        (0..n).map(|i| task(i, n, base, projects)).collect()
    }

    fn matching(tasks: &[SeedTask], word: &str) -> usize {
        tasks
            .iter()
            .filter(|t| {
                t.title.to_lowercase().contains(word)
                    || t.description
                        .as_ref()
                        .is_some_and(|d| d.to_lowercase().contains(word))
            })
            .count()
    }

    #[test]
    fn the_searches_match_nothing_a_few_and_thousands() {
        let large = all(100_000, &[]);
        assert_eq!(matching(&large, SEARCH_NONE), 0);
        assert_eq!(matching(&large, SEARCH_FEW), FEW);
        assert_eq!(matching(&large, SEARCH_MANY), 100_000 / MANY_EVERY);
        let small = all(50, &[]);
        assert_eq!(matching(&small, SEARCH_NONE), 0);
        assert_eq!(matching(&small, SEARCH_FEW), FEW);
        assert!(matching(&small, SEARCH_MANY) >= 2);
    }

    #[test]
    fn fields_pass_the_servers_rules_and_shuffle() {
        let tasks = all(1000, &[3, 4]);
        for t in &tasks {
            assert!((5..=255).contains(&t.title.len()), "{}", t.title);
            assert!(t.description.as_ref().is_none_or(|d| d.len() >= 10));
            assert!(t.updated_at > t.created_at);
            assert_eq!(t.created_at.len(), "2026-11-25T11:42:56.437485Z".len());
        }
        let mut updated: Vec<&str> = tasks.iter().map(|t| t.updated_at.as_str()).collect();
        assert!(!updated.is_sorted(), "updated_at follows id order");
        updated.sort_unstable();
        updated.dedup();
        assert_eq!(updated.len(), 1000, "updated_at repeats");
        assert_eq!(tasks.iter().filter(|t| t.project == Some(4)).count(), 500);
        assert_eq!(tasks.iter().filter(|t| t.completed).count(), 334);
        assert_eq!(tasks.iter().filter(|t| t.assigned).count(), 250);
    }

    #[test]
    fn the_due_window_holds_about_two_fifths() {
        for n in [50, 100_000] {
            let (after, before) = due_window(n);
            let inside = all(n, &[])
                .iter()
                .filter_map(|t| t.due_at.as_deref())
                .filter(|d| *d >= after.as_str() && *d <= before.as_str())
                .count();
            let share = inside as f64 / n as f64;
            assert!((0.35..0.45).contains(&share), "{n}: {share}");
        }
    }
}
