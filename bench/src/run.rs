//! A whole run: every selected scenario, in order, on each backend, each phase bounded
//! in time and the whole by `--max-time`; the table and the JSON summary.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use hyper::StatusCode;
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use crate::args::{Args, Scenario, SeedVia};
use crate::backend::{Backend, BackendChoice, BackendRun, Target, comparison, target};
use crate::load::{MakeReq, Plan};
use crate::scenarios::{Memory, Subject, fanout, http_scenario, idle, list_user, users};
use crate::seed::Seeder;
use crate::server::round1;
use crate::{LOAD_USERS, api, http, pg, progress, projects, report, server, shapes};

/// `fut`, bounded by `--max-time` and ended by Ctrl-C (so the caller can still drop its
/// PostgreSQL database).
pub(crate) async fn bounded<T>(
    args: &Args,
    fut: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    tokio::select! {
        r = tokio::time::timeout(args.max_time(), fut) => match r {
            Ok(r) => r,
            Err(_) => bail!("the run took longer than --max-time {:?}", args.max_time()),
        },
        _ = tokio::signal::ctrl_c() => bail!("interrupted"),
    }
}

pub(crate) async fn run(args: &Args, mut summary: Value) -> anyhow::Result<Value> {
    let began = Instant::now();
    let wants = |s: Scenario| args.only.contains(&s);
    if let Some((s, _)) = args.open_loop_rate.iter().find(|(s, _)| !wants(*s)) {
        bail!(
            "--open-loop-rate names {}, which --only leaves out",
            s.name()
        );
    }
    let backends: &[Backend] = match args.backend {
        BackendChoice::Sqlite => &[Backend::Sqlite],
        BackendChoice::Postgres => &[Backend::Postgres],
        BackendChoice::Both => &[Backend::Sqlite, Backend::Postgres],
    };
    if args.base.is_some() && args.backend != BackendChoice::Sqlite {
        bail!("--backend postgres and both start their own servers: not with --base");
    }
    // Connected first, so that `both` fails now rather than after its SQLite half.
    let admin = if backends.contains(&Backend::Postgres) {
        let admin = pg::Admin::connect(&args.postgres_url).await?;
        progress(format!(
            "PostgreSQL at {}: not pinned, it shares both CPUs with the server and the load generator",
            admin.shown()
        ));
        Some(admin)
    } else {
        None
    };
    let mut runs = Vec::new();
    for &backend in backends {
        if backends.len() > 1 {
            progress(format!("=== {} ===", backend.name()));
        }
        let run = match (backend, &admin) {
            (Backend::Postgres, Some(admin)) => {
                let db = admin.create_database().await?;
                progress(format!("created database {}", db.name));
                let result = bounded(args, run_backend(args, backend, Some((admin, &db)))).await;
                match admin.drop_database(&db.name).await {
                    Ok(()) => progress(format!("dropped database {}", db.name)),
                    Err(e) => progress(format!(
                        "warning: {e:#}; drop it by hand: DROP DATABASE \"{}\" WITH (FORCE)",
                        db.name
                    )),
                }
                result?
            }
            _ => bounded(args, run_backend(args, backend, None)).await?,
        };
        runs.push(run);
    }

    println!();
    let rows = match &mut runs[..] {
        [s, p] => report::compare(std::mem::take(&mut s.rows), std::mem::take(&mut p.rows)),
        runs => runs
            .iter_mut()
            .flat_map(|r| std::mem::take(&mut r.rows))
            .collect(),
    };
    report::print_table(&rows);
    for run in &runs {
        if run.memory.lines.is_empty() {
            continue;
        }
        println!();
        let of = if runs.len() > 1 {
            format!(", {}", run.backend.name())
        } else {
            String::new()
        };
        println!(
            "server memory (VmRSS, pid {}{of}):",
            run.memory.pid.unwrap_or_default()
        );
        for line in &run.memory.lines {
            println!("  {line}");
        }
    }
    println!();

    summary["backend"] = json!(match args.backend {
        BackendChoice::Sqlite => "sqlite",
        BackendChoice::Postgres => "postgres",
        BackendChoice::Both => "both",
    });
    summary["settings"] = json!({
        "backends": backends.iter().map(|b| b.name()).collect::<Vec<_>>(),
        "scenarios": args.only.iter().map(|s| s.name()).collect::<Vec<_>>(),
        "warmup_s": args.warmup.as_secs_f64(),
        "duration_s": args.duration.as_secs_f64(),
        "connections": args.connections,
        "login_connections": args.login_connections,
        "open_loop_fraction": args.open_loop,
        "open_loop_rates": args.open_loop_rate.iter().map(|(s, r)| (s.name().to_owned(), json!(r))).collect::<Map<_, _>>(),
        "open_loop_drain_s": args.open_loop_drain.as_secs_f64(),
        "list_tasks": args.list_tasks,
        "list_spread": format!("{:?}", args.list_spread).to_lowercase(),
        "deep_page": args.deep_page,
        "serve_options": args.serve_options(),
        "project_members": args.project_members,
        "list_projects": args.list_projects,
        "project_tasks": args.project_tasks,
        "project_list_members": args.project_list_members,
        "subscribers": args.subscribers,
        "subscriber_users": args.subscriber_users,
        "fanout_rate": args.fanout_rate,
        "fanout_writers": args.fanout_writers,
        "idle_sockets": args.idle_sockets,
        "connect_concurrency": args.connect_concurrency,
    });
    if let [run] = &mut runs[..] {
        // One backend: the summary's shape as before `--backend` existed.
        summary["target"] = std::mem::take(&mut run.target);
        summary["checks"] = run.checks();
        summary["scenarios"] = Value::Object(std::mem::take(&mut run.scenarios));
        summary["server_memory"] = Value::Object(std::mem::take(&mut run.memory.readings));
        if let Some(log) = run.server_log.take() {
            summary["server_log"] = log;
        }
    } else {
        let checks: Vec<Value> = runs.iter().map(BackendRun::checks).collect();
        let passed = checks.iter().all(|c| c["passed"].as_bool().unwrap_or(true));
        summary["checks"] = json!({
            "passed": passed,
            "by_backend": runs.iter().map(|r| r.backend.name()).zip(checks).map(|(b, c)| (b.to_owned(), c)).collect::<Map<_, _>>(),
        });
        summary["comparison"] = comparison(&rows);
        let mut by_backend = Map::new();
        for run in runs {
            let checks = run.checks();
            by_backend.insert(
                run.backend.name().to_owned(),
                json!({
                    "target": run.target,
                    "checks": checks,
                    "scenarios": run.scenarios,
                    "server_memory": run.memory.readings,
                    "server_log": run.server_log,
                }),
            );
        }
        summary["backends"] = Value::Object(by_backend);
    }
    summary["elapsed_s"] = json!(round1(began.elapsed().as_secs_f64()));
    Ok(summary)
}

/// Runs the selected scenarios on a fresh server on `backend` (or on `--base`), and stops
/// the server.
pub(crate) async fn run_backend(
    args: &Args,
    backend: Backend,
    pg: Option<(&pg::Admin, &pg::Database)>,
) -> anyhow::Result<BackendRun> {
    let wants = |s: Scenario| args.only.contains(&s);
    let db = match pg {
        Some((_, db)) => server::Db::Postgres(db),
        None => server::Db::TempSqlite,
    };
    let Target { addr, pid, server } = target(args, &db).await?;
    let subject = Subject {
        addr,
        pid,
        db: pg.map(|(admin, db)| pg::Probe {
            admin,
            database: &db.name,
        }),
    };
    let mut memory = Memory {
        pid,
        readings: Map::new(),
        lines: Vec::new(),
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    memory.read(if server.is_some() {
        "idle (fresh start)"
    } else {
        "at start"
    });

    // Fresh users with a unique prefix, so a --base server can be reused. Each group is
    // made just before the first scenario that needs it: registering and logging in
    // hash passwords with argon2id, which shows in the server's memory.
    let prefix = format!(
        "bench{}_",
        chrono::Utc::now().timestamp_millis() % 100_000_000
    );
    let mut load_users = Vec::new();
    let mut fan_users = Vec::new();
    let mut rows = Vec::new();
    let mut scenarios = Map::new();
    let plan = |connections: usize, expect: StatusCode| Plan {
        connections,
        warmup: args.warmup,
        duration: args.duration,
        expect,
    };
    if wants(Scenario::Healthz) {
        let make: MakeReq = Arc::new(|_, _| http::Req::get("/healthz", None));
        let (r, v) = http_scenario(
            subject,
            "healthz",
            plan(args.connections, StatusCode::OK),
            args.open_loop_of(Scenario::Healthz),
            make,
        )
        .await;
        rows.extend(r);
        scenarios.insert("healthz".into(), v);
    }
    if wants(Scenario::List) {
        let user = list_user(addr, &prefix, args.list_tasks).await?;
        memory.read("after list set-up");
        let token = user.token.clone();
        let make: MakeReq =
            Arc::new(move |_, _| http::Req::get("/api/tasks/", Some(token.clone())));
        let (mut r, mut v) = http_scenario(
            subject,
            "list",
            plan(args.connections, StatusCode::OK),
            args.open_loop_of(Scenario::List),
            make,
        )
        .await;
        for row in &mut r {
            row.notes
                .push_str(&format!("; {} tasks/response", args.list_tasks));
        }
        v["tasks_per_response"] = json!(args.list_tasks);
        rows.extend(r);
        scenarios.insert("list".into(), v);
        memory.read("after list");
    }
    if wants(Scenario::ListShapes) {
        let seeder = match (args.seed, &server, pg) {
            (Some(SeedVia::Api), _, _) | (None, None, _) => Seeder::Api {
                addr,
                connections: args.connections,
            },
            (_, Some(_), Some((_, db))) => Seeder::Postgres(&db.url),
            (_, Some(s), None) => Seeder::Sqlite(
                s.sqlite_file
                    .clone()
                    .context("the server has no SQLite file")?,
            ),
            (Some(SeedVia::Sql), None, _) => {
                bail!("--seed sql needs a started server (its database): not with --base")
            }
        };
        let (r, v) = shapes::list_shapes(
            subject,
            args,
            &prefix,
            plan(args.connections, StatusCode::OK),
            &seeder,
        )
        .await?;
        rows.extend(r);
        scenarios.insert(Scenario::ListShapes.name().into(), v);
        memory.read("after list-shapes");
    }
    if wants(Scenario::ProjectList) {
        let (r, v) = projects::project_list(
            subject,
            args,
            &prefix,
            plan(args.connections, StatusCode::OK),
        )
        .await?;
        rows.extend(r);
        scenarios.insert(Scenario::ProjectList.name().into(), v);
        memory.read("after project-list");
    }
    if wants(Scenario::Create) || wants(Scenario::Login) {
        load_users = users(addr, &format!("{prefix}load"), LOAD_USERS).await?;
        memory.read("after load set-up");
    }
    if wants(Scenario::Create) {
        let users = load_users.clone();
        let make: MakeReq = Arc::new(move |c, seq| {
            let user = &users[c % users.len()];
            api::create_task_req(&user.token, &format!("Bench task {c}-{seq}"))
        });
        let (mut r, mut v) = http_scenario(
            subject,
            "create",
            plan(args.connections, StatusCode::CREATED),
            args.open_loop_of(Scenario::Create),
            make,
        )
        .await;
        for row in &mut r {
            row.notes
                .push_str(&format!("; over {} users", load_users.len()));
        }
        v["users"] = json!(load_users.len());
        rows.extend(r);
        scenarios.insert("create".into(), v);
        memory.read("after create");
    }
    if wants(Scenario::ProjectCreate) {
        let mut out = projects::project_create(
            subject,
            args,
            &prefix,
            plan(args.connections, StatusCode::CREATED),
        )
        .await?;
        // Against the personal creates just measured the same way, when they ran.
        let personal = scenarios
            .get("create")
            .and_then(|c| c["closed_loop"]["rate_per_s"].as_f64());
        let shared = out.json["closed_loop"]["rate_per_s"].as_f64();
        let ratio = report::ratio(shared, personal);
        out.json["closed_loop"]["vs_personal_create"] =
            json!(ratio.map(|r| round1(r * 100.0) / 100.0));
        if let Some(row) = out.rows.iter_mut().find(|r| r.mode == "closed") {
            row.notes.push_str(&match ratio {
                Some(r) => format!("; {r:.2} × personal create"),
                None => "; run `create` too for the ratio".to_owned(),
            });
        }
        rows.extend(out.rows);
        scenarios.insert(Scenario::ProjectCreate.name().into(), out.json);
        memory.read("after project-create");
    }
    if wants(Scenario::Login) {
        let names: Vec<String> = load_users.iter().map(|u| u.name.clone()).collect();
        let make: MakeReq = Arc::new(move |c, _| api::login_req(&names[c % names.len()]));
        let (mut r, v) = http_scenario(
            subject,
            "login",
            plan(args.login_connections, StatusCode::OK),
            args.open_loop_of(Scenario::Login),
            make,
        )
        .await;
        for row in &mut r {
            row.notes.push_str("; argon2id verify each");
        }
        rows.extend(r);
        scenarios.insert("login".into(), v);
        memory.read("after login");
    }
    if wants(Scenario::Soak) {
        let (r, v) = crate::soak::soak(subject, &prefix, args).await?;
        rows.extend(r);
        scenarios.insert(Scenario::Soak.name().into(), v);
        memory.read("after soak");
    }
    if wants(Scenario::Fanout) || wants(Scenario::Idle) {
        let n = args.subscriber_users.max(1);
        fan_users = users(addr, &format!("{prefix}fan"), n).await?;
        memory.read("after stream set-up");
    }
    if wants(Scenario::Fanout) {
        let (row, v) = fanout(subject, &fan_users, args).await?;
        rows.push(row);
        scenarios.insert("fanout".into(), v);
        memory.read("after fan-out");
    }
    if wants(Scenario::Idle) {
        let (row, v) = idle(addr, &fan_users, args, &mut memory).await;
        rows.push(row);
        scenarios.insert("idle".into(), v);
    }

    let database = match pg {
        Some((admin, db)) => json!({
            "backend": "postgres",
            "url": db.shown(),
            "name": db.name,
            "server": admin.info().await,
            "synchronous_commit": "on (the server sets it on every connection)",
            "cpus": "not pinned",
        }),
        None if server.is_some() => json!({
            "backend": "sqlite",
            "file": "a new file in a temporary directory",
            "synchronous": "full (the server's default)",
        }),
        None => Value::Null,
    };
    let target = json!({
        "mode": if server.is_some() { "started" } else { "base" },
        "addr": addr.to_string(),
        "pid": pid,
        "server_command": server.as_ref().map(|s| s.command.clone()),
        "server_binary": server.as_ref().map(|_| server::binary_info(&args.server_bin)),
        "server_cpus": if server.is_some() { json!(args.server_cpus) } else { Value::Null },
        "database": database,
    });
    let server_log = match server {
        Some(mut server) => {
            let log = server.log_summary();
            server.stop().await;
            Some(log)
        }
        None => None,
    };
    Ok(BackendRun {
        backend,
        rows,
        scenarios,
        memory,
        target,
        server_log,
    })
}
