//! `list-shapes`: every shape of `GET /api/tasks/` a client or the page uses, each run
//! at 50 tasks and at `--list-tasks` (100,000, say), and the ratio of the two rates.
//!
//! A list should cost its page, not the tasks behind it (issue 25): each list shape at
//! the large size should run at ≥ 0.8 × its own rate at 50 tasks, and each search at
//! ≥ 0.5 × the plain list's rate at 50. Two listers are made, one per size, in the same
//! database; their tasks come from [`crate::seed`] (the same mix at both sizes, so each
//! filter matches the same share), visible as personal tasks or spread over the
//! lister's projects (`--list-spread`). The shapes run in turn, each at 50 and then at
//! the large size, so that drift in the machine's load falls on both alike. Every
//! request asks `limit=50`, so a page is 50 tasks at either size when that many match.
//!
//! The deep page is reached as a client reaches it: by following `Link: rel="next"` from
//! the first page, `--deep-page` pages deep (or to the last page when there are fewer);
//! the same page by `offset` is measured beside it, for comparison.
//!
//! The server's list cache would hide the cost being measured, so a run with this
//! scenario starts the server with `--list-cache-mb 0` unless `--list-cache-mb` says
//! otherwise.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, bail};
use hyper::StatusCode;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::api::{self, User};
use crate::args::{Args, Spread};
use crate::http::{Conn, Req, excerpt};
use crate::load::{MakeReq, Plan};
use crate::progress;
use crate::report::{Row, ratio};
use crate::scenarios::{Subject, http_scenario, users};
use crate::seed::{self, Seeder};
use crate::server::round1;

/// The small size every shape is compared with.
pub const SMALL: usize = 50;
/// Tasks per page asked by every shape.
const LIMIT: usize = 50;
/// How long following `Link` to the deep page may take: where it has got to then is the
/// deep page (a list whose pages cost O(offset) makes page 1,000 of 100,000 minutes away
/// on a busy machine, and of 1,000,000 longer still).
const FOLLOW_BUDGET: std::time::Duration = std::time::Duration::from_secs(60);
/// How many shapes [`shapes`] gives (for the default `--max-time`).
pub const SHAPES: usize = 20;

/// What a shape's large-size rate is held to.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Target {
    /// ≥ this × its own rate at 50 tasks.
    OwnRate(f64),
    /// ≥ this × the plain list's rate at 50 tasks.
    ListRate(f64),
    /// None: measured for comparison.
    None,
}

struct Shape {
    name: &'static str,
    target: Target,
    /// `/api/tasks/?…` paths, used in turn.
    paths: Vec<String>,
}

/// One size's lister.
struct Lister {
    user: User,
    tasks: usize,
    projects: Vec<i64>,
    /// The page reached through `Link`, its path, and how long following took.
    deep: (u64, String, f64),
}

/// The shapes for `lister`, in the order they run.
fn shapes(lister: &Lister) -> Vec<Shape> {
    let q = |query: &str| vec![format!("/api/tasks/?{query}{}limit={LIMIT}", amp(query))];
    let shape = |name, query: &str| Shape {
        name,
        target: Target::OwnRate(0.8),
        paths: q(query),
    };
    let search = |name, word: &str| Shape {
        name,
        target: Target::ListRate(0.5),
        paths: q(&format!("search={word}")),
    };
    let project = if lister.projects.is_empty() {
        q("project=none")
    } else {
        lister
            .projects
            .iter()
            .flat_map(|p| q(&format!("project={p}")))
            .collect()
    };
    let (after, before) = seed::due_window(lister.tasks);
    let (page, link, _) = &lister.deep;
    let mut out = vec![
        shape("list", ""),
        shape("completed=false", "completed=false"),
        Shape {
            name: if lister.projects.is_empty() {
                "project=none"
            } else {
                "project=<id>"
            },
            target: Target::OwnRate(0.8),
            paths: project,
        },
        shape("assignee=me", "assignee=me"),
        shape(
            "due_after&due_before",
            &format!("due_after={after}&due_before={before}"),
        ),
    ];
    for o in [
        "-id",
        "created_at",
        "-created_at",
        "updated_at",
        "-updated_at",
        "title",
        "-title",
        "due_at",
        "-due_at",
    ] {
        out.push(Shape {
            name: ordering_name(o),
            target: Target::OwnRate(0.8),
            paths: q(&format!("ordering={o}")),
        });
    }
    out.push(shape(
        "completed=false&ordering=-updated_at",
        "completed=false&ordering=-updated_at",
    ));
    out.push(search("search (no match)", seed::SEARCH_NONE));
    out.push(search("search (5 match)", seed::SEARCH_FEW));
    out.push(search("search (1 in 20)", seed::SEARCH_MANY));
    out.push(Shape {
        name: "deep page via Link",
        target: Target::OwnRate(0.8),
        paths: vec![link.clone()],
    });
    out.push(Shape {
        name: "deep page via offset",
        target: Target::None,
        paths: q(&format!("offset={}", (page - 1) * LIMIT as u64)),
    });
    out
}

fn amp(query: &str) -> &'static str {
    if query.is_empty() { "" } else { "&" }
}

fn ordering_name(o: &str) -> &'static str {
    match o {
        "-id" => "ordering=-id",
        "created_at" => "ordering=created_at",
        "-created_at" => "ordering=-created_at",
        "updated_at" => "ordering=updated_at",
        "-updated_at" => "ordering=-updated_at",
        "title" => "ordering=title",
        "-title" => "ordering=-title",
        "due_at" => "ordering=due_at",
        _ => "ordering=-due_at",
    }
}

/// GET `path` as `user`: the status, `X-Total-Count`, the `Link` next path, the body's
/// task count.
async fn probe(
    conn: &mut Conn,
    user: &User,
    path: &str,
) -> anyhow::Result<(Option<u64>, Option<String>, usize)> {
    let (status, headers, body) = conn
        .send_full(&Req::get(path.to_owned(), Some(user.token.clone())))
        .await?;
    if status != StatusCode::OK {
        bail!("GET {path}: {status} {}", excerpt(&body));
    }
    let total = headers
        .get("x-total-count")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let next = headers
        .get("link")
        .and_then(|v| v.to_str().ok())
        .and_then(next_path);
    let page: Vec<Value> = serde_json::from_slice(&body).context("a task list")?;
    Ok((total, next, page.len()))
}

/// The path of a `Link` header's `rel="next"` URL (absolute or relative).
fn next_path(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (url, params) = part.trim().split_once(';')?;
        if !params.contains("rel=\"next\"") {
            return None;
        }
        let url = url.trim().strip_prefix('<')?.strip_suffix('>')?;
        let path = match url.split_once("://") {
            Some((_, rest)) => &rest[rest.find('/')?..],
            None => url,
        };
        Some(path.to_owned())
    })
}

/// Makes the lister of `n` tasks: the user, its projects, its tasks, checked through the
/// API, and the deep page found.
async fn lister(
    addr: SocketAddr,
    args: &Args,
    name: &str,
    n: usize,
    seeder: &Seeder<'_>,
) -> anyhow::Result<(Lister, Value)> {
    let user = users(addr, name, 1)
        .await?
        .into_iter()
        .next()
        .context("no lister")?;
    let id = seed::user_id(addr, &user).await?;
    let mut projects = Vec::new();
    if args.list_spread == Spread::Projects {
        for p in 0..args.list_projects {
            projects.push(api::create_project(addr, &user, &format!("Shapes project {p}")).await?);
        }
    }
    let t = Instant::now();
    seeder.seed(&user, id, n, &projects).await?;
    let seed_s = t.elapsed().as_secs_f64();
    progress(format!(
        "set-up: {n} tasks for {}{} by {} in {seed_s:.1} s ({:.0} tasks/s)",
        user.name,
        if projects.is_empty() {
            String::new()
        } else {
            format!(" over {} projects", projects.len())
        },
        seeder.name(),
        n as f64 / seed_s
    ));
    let mut conn = Conn::new(addr);
    let (total, _, _) = probe(&mut conn, &user, "/api/tasks/?limit=1").await?;
    if total != Some(n as u64) {
        bail!("the lister of {n} tasks lists X-Total-Count {total:?}");
    }
    // Following Link from the first page, as a client does.
    let t = Instant::now();
    let mut path = format!("/api/tasks/?limit={LIMIT}");
    let mut page = 1;
    while page < args.deep_page && t.elapsed() < FOLLOW_BUDGET {
        match probe(&mut conn, &user, &path).await?.1 {
            Some(next) => {
                path = next;
                page += 1;
            }
            None => break,
        }
    }
    let follow_s = t.elapsed().as_secs_f64();
    progress(format!(
        "set-up: page {page} of {n} tasks reached through Link in {follow_s:.1} s{}: {path}",
        if page < args.deep_page && follow_s >= FOLLOW_BUDGET.as_secs_f64() {
            format!(
                " (--deep-page {} not reached in {FOLLOW_BUDGET:?})",
                args.deep_page
            )
        } else {
            String::new()
        }
    ));
    let v = json!({
        "user": user.name,
        "tasks": n,
        "projects": projects,
        "seed_s": round1(seed_s),
        "seed_tasks_per_s": (n as f64 / seed_s).round(),
        "deep_page": page,
        "deep_page_path": path,
        "link_follow_s": round1(follow_s),
    });
    Ok((
        Lister {
            user,
            tasks: n,
            projects,
            deep: (page, path, follow_s),
        },
        v,
    ))
}

/// Runs one shape for one lister: its rows and JSON (with what a probe of each path
/// answered: tasks in the page and `X-Total-Count`).
async fn run_shape(
    target: Subject<'_>,
    plan: Plan,
    lister: &Lister,
    shape: &Shape,
) -> anyhow::Result<(Vec<Row>, Value, f64)> {
    let mut conn = Conn::new(target.addr);
    let (total, _, page) = probe(&mut conn, &lister.user, &shape.paths[0]).await?;
    let name = format!("{} @{}", shape.name, lister.tasks);
    let paths = Arc::new(shape.paths.clone());
    let token = lister.user.token.clone();
    let make: MakeReq = Arc::new(move |c, seq| {
        let path = &paths[(c + seq as usize) % paths.len()];
        Req::get(path.clone(), Some(token.clone()))
    });
    let (mut rows, mut v) = http_scenario(target, &name, plan, None, make).await;
    let rate = v["closed_loop"]["rate_per_s"].as_f64().unwrap_or(0.0);
    let total_note = total.map_or_else(|| "no X-Total-Count".to_owned(), |t| format!("of {t}"));
    let at_page = if shape.name.starts_with("deep") {
        format!(" on page {}", lister.deep.0)
    } else {
        String::new()
    };
    for row in &mut rows {
        row.notes = format!("{page} tasks/response {total_note}{at_page}; {}", row.notes);
    }
    v["path"] = json!(shape.paths[0]);
    v["paths"] = json!(shape.paths.len());
    v["tasks_per_response"] = json!(page);
    v["total_count"] = json!(total);
    Ok((rows, v, rate))
}

/// `list-shapes`: see the module's doc.
pub async fn list_shapes(
    target: Subject<'_>,
    args: &Args,
    prefix: &str,
    plan: Plan,
    seeder: &Seeder<'_>,
) -> anyhow::Result<(Vec<Row>, Value)> {
    let addr = target.addr;
    let large = args.list_tasks.max(SMALL);
    let (small, small_v) =
        lister(addr, args, &format!("{prefix}shapes_small"), SMALL, seeder).await?;
    let (big, big_v) = lister(addr, args, &format!("{prefix}shapes_large"), large, seeder).await?;
    let (small_shapes, big_shapes) = (shapes(&small), shapes(&big));
    let mut rows = Vec::new();
    let mut items = Vec::new();
    let mut list_rate_small = None;
    let mut md = vec![
        format!("| shape | {SMALL} tasks (req/s) | {large} tasks (req/s) | ratio | target | met |"),
        "|---|---|---|---|---|---|".to_owned(),
    ];
    let (mut met, mut missed) = (0, 0);
    for (s, b) in small_shapes.iter().zip(&big_shapes) {
        let (r, small_v, small_rate) = run_shape(target, plan, &small, s).await?;
        rows.extend(r);
        if s.name == "list" {
            list_rate_small = Some(small_rate);
        }
        let (mut r, big_v, big_rate) = run_shape(target, plan, &big, b).await?;
        let (basis, want) = match s.target {
            Target::OwnRate(x) => (Some(small_rate), Some(x)),
            Target::ListRate(x) => (list_rate_small, Some(x)),
            Target::None => (Some(small_rate), None),
        };
        let of = ratio(Some(big_rate), basis);
        let verdict = match (of, want) {
            (Some(r), Some(w)) if r >= w => Some(true),
            (Some(_), Some(_)) => Some(false),
            _ => None,
        };
        match verdict {
            Some(true) => met += 1,
            Some(false) => missed += 1,
            None => {}
        }
        let against = match s.target {
            Target::ListRate(_) => format!("the list's rate at {SMALL}"),
            _ => format!("its rate at {SMALL}"),
        };
        let ratio_text = of.map_or_else(|| "?".to_owned(), |r| format!("{r:.2}×"));
        let target_text = want.map_or_else(|| "none".to_owned(), |w| format!("≥ {w}×"));
        let verdict_text = match verdict {
            Some(true) => "met",
            Some(false) => "NOT MET",
            None => "-",
        };
        if let Some(row) = r.first_mut() {
            row.notes = format!(
                "{ratio_text} {against} (target {target_text}: {verdict_text}); {}",
                row.notes
            );
        }
        rows.extend(r);
        md.push(format!(
            "| `{}` | {:.0} | {big_rate:.0} | {ratio_text} | {target_text} | {verdict_text} |",
            s.name, small_rate
        ));
        items.push(json!({
            "shape": s.name,
            "small": small_v,
            "large": big_v,
            "ratio": of.map(|r| (r * 1000.0).round() / 1000.0),
            "ratio_of": against,
            "target": want,
            "met": verdict,
        }));
    }
    let table = md.join("\n");
    progress(format!("list-shapes: {met} met, {missed} not met\n{table}"));
    let v = json!({
        "small_tasks": SMALL,
        "large_tasks": large,
        "limit": LIMIT,
        "spread": match args.list_spread { Spread::Personal => "personal", Spread::Projects => "projects" },
        "seed": seeder.name(),
        "listers": { "small": small_v, "large": big_v },
        "shapes": items,
        "met": met,
        "not_met": missed,
        "table_markdown": table,
        "note": "each shape runs at 50 tasks, then at the large size; ratio = large rate / the small rate of the same shape (searches: / the plain list's rate at 50); limit=50 on every request",
    });
    Ok((rows, v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lister(projects: Vec<i64>) -> Lister {
        Lister {
            user: User {
                name: "u".into(),
                token: "t".into(),
            },
            tasks: 100_000,
            projects,
            deep: (1000, "/api/tasks/?limit=50&offset=49950".into(), 0.0),
        }
    }

    #[test]
    fn every_shape_asks_a_page_of_50_and_the_count_is_kept() {
        for l in [lister(vec![]), lister(vec![7, 8])] {
            let all = shapes(&l);
            assert_eq!(all.len(), SHAPES);
            for s in &all {
                for p in &s.paths {
                    assert!(p.starts_with("/api/tasks/?"), "{p}");
                    assert!(p.contains("limit=50"), "{p}");
                }
            }
            let names: std::collections::HashSet<_> = all.iter().map(|s| s.name).collect();
            assert_eq!(names.len(), SHAPES, "names repeat");
        }
        let deep = shapes(&lister(vec![]));
        let offset = deep
            .iter()
            .find(|s| s.name == "deep page via offset")
            .unwrap();
        assert_eq!(offset.paths, ["/api/tasks/?offset=49950&limit=50"]);
        let project = &shapes(&lister(vec![7, 8]))[2];
        assert_eq!(
            project.paths,
            [
                "/api/tasks/?project=7&limit=50",
                "/api/tasks/?project=8&limit=50"
            ]
        );
    }

    #[test]
    fn the_next_link_is_read_absolute_or_relative() {
        assert_eq!(
            next_path("</api/tasks/?limit=50&offset=50>; rel=\"next\"").as_deref(),
            Some("/api/tasks/?limit=50&offset=50")
        );
        assert_eq!(
            next_path("<https://x.example/api/tasks/?cursor=abc>; rel=\"next\"").as_deref(),
            Some("/api/tasks/?cursor=abc")
        );
        assert_eq!(next_path("</a>; rel=\"prev\""), None);
    }
}
