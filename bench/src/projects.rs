//! The shared-project scenarios: `project-create` (creates in one project while every
//! member listens on a WebSocket, and the count of what each heard) and `project-list`
//! (a member of many projects listing its tasks).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, bail};
use futures_util::{StreamExt, TryStreamExt};
use hyper::StatusCode;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::api::{self, User, create_project_task_req};
use crate::args::{Args, Scenario};
use crate::http::{self, Conn, excerpt};
use crate::load::{MakeReq, Plan};
use crate::report::{Row, latency_json};
use crate::scenarios::{Subject, http_scenario, users};
use crate::server::round1;
use crate::ws::{self, Tally};
use crate::{load, progress};

/// Invitations, acceptances and task creates in flight at once during set-up.
const SETUP_CONCURRENCY: usize = 8;

/// How long the members may take, once the creates stop, to hear every one.
const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// One project owned by `members[0]`, every other member an editor (invited, accepted).
async fn shared_project(addr: SocketAddr, members: &[User], name: &str) -> anyhow::Result<i64> {
    let owner = members.first().context("a project needs an owner")?;
    let project = api::create_project(addr, owner, name).await?;
    futures_util::stream::iter(&members[1..])
        .map(|m| api::join(addr, owner, project, m, "editor"))
        .buffer_unordered(SETUP_CONCURRENCY)
        .try_collect::<()>()
        .await?;
    Ok(project)
}

/// What `project-create` measured: its table rows and its JSON object.
pub struct CreateOutcome {
    pub rows: Vec<Row>,
    pub json: Value,
}

/// `project-create`: `--project-members` users, all members of one project and each on
/// a WebSocket, create tasks in it over `--connections` connections (closed loop, then
/// open loop when asked), spread over the members as the personal `create` spreads over
/// its users. Then the project's tasks are listed, and each member must have heard the
/// create of every one exactly once, under gapless event ids.
pub async fn project_create(
    target: Subject<'_>,
    args: &Args,
    prefix: &str,
    plan: Plan,
) -> anyhow::Result<CreateOutcome> {
    let addr = target.addr;
    let n = usize::from(args.project_members);
    let members = users(addr, &format!("{prefix}proj"), n).await?;
    let t = Instant::now();
    let project = shared_project(addr, &members, "Bench shared project").await?;
    let listeners = ws::listen(addr, &members, project).await?;
    let connect_time = listeners.connect_time;
    progress(format!(
        "set-up: project {project} with {n} members in {:.1} s, each on a WebSocket from since=0",
        t.elapsed().as_secs_f64()
    ));

    let tokens: Vec<Arc<str>> = members.iter().map(|m| m.token.clone()).collect();
    let make: MakeReq = Arc::new(move |c, seq| {
        create_project_task_req(
            &tokens[c % tokens.len()],
            &format!("Project task {c}-{seq}"),
            project,
        )
    });
    let load_start = Instant::now();
    let (mut rows, mut v) = http_scenario(
        target,
        Scenario::ProjectCreate.name(),
        plan,
        args.open_loop_of(Scenario::ProjectCreate),
        make,
    )
    .await;
    let load_time = load_start.elapsed();

    // What the project holds, as its members list it: each member's list, united, so the
    // count holds whether or not members see each other's tasks.
    let mut tasks = HashSet::new();
    let mut visible = Vec::with_capacity(n);
    for m in &members {
        let ids = api::task_ids(addr, m, &format!("project={project}")).await?;
        visible.push(ids.len());
        tasks.extend(ids);
    }
    let drain = listeners.drain(tasks.len(), DRAIN_TIMEOUT).await;
    let heard = listeners.stop().await?;

    let mut tally = Tally::default();
    let mut commit_to_receipt = load::histogram();
    let (mut resumes, mut bad_frames, mut first_close, mut gave_up) = (0, 0, None, None);
    let mut short = 0;
    for h in &heard {
        let t = Tally::of(h, &tasks);
        short += usize::from(t.lost > 0);
        tally.add(t);
        for &us in &h.commit_to_receipt {
            commit_to_receipt.saturating_record(us);
        }
        resumes += h.resumes;
        bad_frames += h.bad_frames;
        first_close = first_close.or(h.first_close.clone());
        gave_up = gave_up.or(h.gave_up.clone());
    }
    let passed = tally.exact() && !tasks.is_empty();
    let verdict = if passed {
        "every member heard every create once".to_owned()
    } else {
        format!(
            "FAILED: lost {}, duplicated {}, gaps {}, of {} expected ({} of {n} members short)",
            tally.lost, tally.duplicated, tally.gaps, tally.expected, short
        )
    };
    progress(format!(
        "project-create: {} tasks in project {project}, {} deliveries over {n} members: {verdict}",
        tasks.len(),
        tally.deliveries
    ));
    for row in &mut rows {
        row.notes.push_str(&format!(
            "; {n} members over the conns, all listening; {}",
            if passed {
                "0 lost, 0 dup"
            } else {
                "DELIVERIES WRONG"
            }
        ));
    }
    let delivery_rate = tally.deliveries as f64 / load_time.as_secs_f64();
    let mut events = Row::new("project-create events").latency(&commit_to_receipt);
    events.rate = Some(delivery_rate);
    events.errors = tally.lost + tally.duplicated + tally.unexpected + tally.gaps;
    events.notes = format!(
        "deliveries/s; commit→recv ms; {} tasks × {n} members: heard {} of {}, lost {}, dup {}, unexpected {}, id gaps {}, reordered {}, resets {}; {resumes} resumes",
        tasks.len(),
        tally.deliveries,
        tally.expected,
        tally.lost,
        tally.duplicated,
        tally.unexpected,
        tally.gaps,
        tally.out_of_order,
        tally.resets
    );
    if let Some(e) = &gave_up {
        events.notes.push_str(&format!("; a member gave up: {e}"));
    }
    rows.push(events);
    v["members"] = json!(n);
    v["project"] = json!(project);
    v["connect_s"] = json!(round1(connect_time.as_secs_f64()));
    v["tasks_in_project"] = json!(tasks.len());
    v["tasks_each_member_lists"] = json!(visible);
    v["deliveries"] = json!({
        "expected": tally.expected,
        "heard": tally.deliveries,
        "per_s": round1(delivery_rate),
        "lost": tally.lost,
        "duplicated": tally.duplicated,
        "unexpected": tally.unexpected,
        "repeated_event_ids": tally.repeated_ids,
        "event_id_gaps": tally.gaps,
        "out_of_order": tally.out_of_order,
        "resets": tally.resets,
        "members_short": short,
        "resumes": resumes,
        "first_close": first_close,
        "gave_up": gave_up,
        "bad_frames": bad_frames,
        "drain_s": round1(drain.as_secs_f64()),
        "commit_to_receipt": latency_json(&commit_to_receipt),
        "passed": passed,
        "note": "every member listens from since=0; the expected creates are the project's tasks as its members list them afterwards (each member's list, united); each member must hear each exactly once, under event ids 1, 2, 3… with no gap; a socket the server closes is reopened with since=<last id>, as a client does",
    });
    Ok(CreateOutcome { rows, json: v })
}

/// `project-list`: a member of `--list-projects` projects of `--project-tasks` tasks each
/// (created in turn by `--project-list-members` members, who own the projects in turn)
/// lists `/api/tasks/`: the default page of everything it sees, then one project's
/// (`?project=<id>`, the projects in turn).
pub async fn project_list(
    target: Subject<'_>,
    args: &Args,
    prefix: &str,
    plan: Plan,
) -> anyhow::Result<(Vec<Row>, Value)> {
    let addr = target.addr;
    let m = usize::from(args.project_list_members);
    let members = users(addr, &format!("{prefix}plist"), m).await?;
    let t = Instant::now();
    let mut projects = Vec::with_capacity(usize::from(args.list_projects));
    for p in 0..usize::from(args.list_projects) {
        // Owned in turn, so the lister owns some and is an editor of the others.
        let mut order = members.clone();
        order.rotate_left(p % m);
        projects.push(shared_project(addr, &order, &format!("Bench list project {p}")).await?);
    }
    create_in_projects(addr, &members, &projects, args.project_tasks).await?;
    let lister = &members[0];
    let all = api::task_ids(addr, lister, "").await?.len();
    let one = api::task_ids(addr, lister, &format!("project={}", projects[0]))
        .await?
        .len();
    let page = api::count_tasks(addr, lister).await?;
    let one_page = api::page_len(
        addr,
        lister,
        &format!("/api/tasks/?project={}", projects[0]),
    )
    .await?;
    let (want_all, want_one) = (
        usize::from(args.list_projects) * args.project_tasks,
        args.project_tasks,
    );
    progress(format!(
        "set-up: {} projects × {} tasks by {m} members in {:.1} s; the lister sees {all} of {want_all} tasks ({one} of {want_one} in one project), {page} on the default page",
        projects.len(),
        args.project_tasks,
        t.elapsed().as_secs_f64()
    ));
    if all != want_all || one != want_one {
        progress(
            "warning: the lister does not see every task of its projects (does the server show members each other's tasks yet?)",
        );
    }

    let mut rows = Vec::new();
    let token = lister.token.clone();
    let make: MakeReq = Arc::new(move |_, _| http::Req::get("/api/tasks/", Some(token.clone())));
    let open = args.open_loop_of(Scenario::ProjectList);
    let (mut r, all_v) = http_scenario(target, "project-list", plan, open, make).await;
    for row in &mut r {
        row.notes
            .push_str(&format!("; {page} of {all} tasks/response, default page"));
    }
    rows.extend(r);

    let paths: Arc<Vec<String>> = Arc::new(
        projects
            .iter()
            .map(|p| format!("/api/tasks/?project={p}"))
            .collect(),
    );
    let token = lister.token.clone();
    let make: MakeReq = Arc::new(move |c, seq| {
        let path = &paths[(c + seq as usize) % paths.len()];
        http::Req::get(path.clone(), Some(token.clone()))
    });
    let (mut r, one_v) = http_scenario(target, "project-list ?project", plan, open, make).await;
    for row in &mut r {
        row.notes.push_str(&format!(
            "; {one_page} of {one} tasks/response, the {} projects in turn",
            projects.len()
        ));
    }
    rows.extend(r);

    let v = json!({
        "projects": projects.len(),
        "tasks_per_project": args.project_tasks,
        "members": m,
        "lister_sees": all,
        "lister_sees_in_one_project": one,
        "expected_visible": want_all,
        "default_page_tasks": page,
        "one_project_page_tasks": one_page,
        "default_page": all_v,
        "one_project": one_v,
        "note": "the lister is a member of every project (owner of some, editor of the others); each project's tasks were created in turn by all its members; `one_project` asks ?project=<id>, each connection going through the projects in turn",
    });
    Ok((rows, v))
}

/// Creates `per_project` tasks in each project, task `k` of project `p` by member
/// `(p + k) % members`, over a few keep-alive connections.
async fn create_in_projects(
    addr: SocketAddr,
    members: &[User],
    projects: &[i64],
    per_project: usize,
) -> anyhow::Result<()> {
    let total = projects.len() * per_project;
    let next = Arc::new(AtomicUsize::new(0));
    let workers = (0..SETUP_CONCURRENCY).map(|_| {
        let next = next.clone();
        async move {
            let mut conn = Conn::new(addr);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return anyhow::Ok(());
                }
                let (p, k) = (i / per_project, i % per_project);
                let by = &members[(p + k) % members.len()];
                let req = create_project_task_req(
                    &by.token,
                    &format!("Listed project task {k}"),
                    projects[p],
                );
                let (status, body) = conn.send(&req).await?;
                if status != StatusCode::CREATED {
                    bail!("create a project task: {status} {}", excerpt(&body));
                }
            }
        }
    });
    futures_util::future::try_join_all(workers).await?;
    Ok(())
}
