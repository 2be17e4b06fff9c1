//! `tasklane-bench`: starts a release tasklane on a temporary database (or targets
//! `--base`), loads it over loopback and prints a table and a JSON summary.
//!
//! `--backend sqlite` (the default) serves a temporary SQLite file, `postgres` a fresh
//! PostgreSQL database made and dropped through `--postgres-url`, and `both` runs every
//! selected scenario on each (a fresh server each), in one table with PostgreSQL's
//! throughput over SQLite's; the JSON then has `backends.sqlite`, `backends.postgres`
//! and a `comparison`.
//!
//! Scenarios, in this order: `healthz` (the stack's ceiling), `list` (GET a 50-task list),
//! `create` (POST tasks), `login` (POST /api/token/, argon2id), `fanout` (WebSocket
//! delivery latency and loss while writes run) and `idle` (server memory with many idle
//! authenticated WebSockets). Every phase is bounded in time, and the whole run by
//! `--max-time`.
//!
//! The HTTP scenarios (healthz, list, create, login) run closed-loop: each connection
//! sends its next request when the previous answer arrives. With `--open-loop FRACTION`
//! (or `--open-loop-rate`) each also runs open-loop right after, at a constant arrival
//! rate, with latency counted from each request's intended send time, so queueing shows
//! (see `load`). The table and the JSON label each run `closed` or `open`.

mod api;
mod http;
mod load;
mod pg;
mod report;
mod scenarios;
mod server;
mod ws;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use hyper::StatusCode;
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use crate::load::{MakeReq, Plan};
use crate::scenarios::{
    Memory, OpenLoop, OpenRate, Subject, fanout, http_scenario, idle, list_user, users,
};
use crate::server::{Server, round1};

#[derive(Parser, Debug)]
#[command(
    name = "tasklane-bench",
    about = "Load and memory benchmark for tasklane, over loopback only",
    after_help = "The two cores: by default the server is pinned to CPU 0 and this load \
generator to CPU 1 (taskset), so neither steals the other's core and the figures are \
the server's on one core. `--server-cpus all --client-cpus all` lets both float. Each \
scenario's notes give the CPU the server, the client and other processes used.\n\n\
Open loop: the HTTP scenarios (healthz, list, create, login) run closed-loop, each \
connection sending its next request when the previous answer arrives; a slow server is \
then simply sent less, and the percentiles leave out the requests that would have \
queued. `--open-loop 0.7` also runs each of them open-loop, right after its closed \
loop, at 0.7 × the throughput just measured: requests fall due at that constant rate \
whatever the server does, the same connections serve them in order as they come free, \
and each latency counts from the request's intended time, so time in the backlog \
counts. The row `open` gives that rate achieved (ok answers/s), percentiles of the ok \
answers, errors (with timeouts: still unanswered `--open-loop-drain` after the window) \
and `late` (intended in the window, never sent). `--open-loop-rate list=8000` fixes a \
scenario's rate instead, to compare builds at the same load.\n\n\
PostgreSQL (`--backend postgres|both`): the server gets the fresh database's URL in \
TASKLANE_DATABASE_URL. PostgreSQL itself is not pinned: its processes share both CPUs \
with the server and the load generator (the notes give their CPU as `pg`).\n\n\
Exit status: 0 done, 1 could not run, 2 the fan-out lost or duplicated events."
)]
struct Args {
    /// Target an already-running server (loopback only), e.g. `http://127.0.0.1:8000`,
    /// instead of starting one. It must allow ~120 registrations from 127.0.0.1
    /// (`--registrations-per-address`), issue access tokens that outlive the run, and
    /// allow ~100 streams per user (`--max-streams-per-user`) for the idle sockets.
    #[arg(long)]
    base: Option<String>,

    /// With `--base`: the server's pid, to read its memory from /proc.
    #[arg(long, requires = "base")]
    server_pid: Option<u32>,

    /// The server binary to start (build it with `cargo build --release`).
    #[arg(long, default_value = "target/release/tasklane")]
    server_bin: PathBuf,

    /// CPUs the started server is pinned to (a `taskset -c` list), or `all`.
    #[arg(long, default_value = "0")]
    server_cpus: String,

    /// CPUs this load generator is pinned to (a `taskset -c` list), or `all`.
    #[arg(long, default_value = "1")]
    client_cpus: String,

    /// Scenarios to run, comma-separated (they always run in the listed order).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "healthz,list,create,login,fanout,idle"
    )]
    only: Vec<Scenario>,

    /// Measured time of each load scenario (and of the fan-out writes).
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    duration: Duration,

    /// Unmeasured warm-up before each load scenario.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    warmup: Duration,

    /// Keep-alive connections of the healthz, list and create scenarios.
    #[arg(long, default_value_t = 64)]
    connections: usize,

    /// Also run each HTTP scenario (healthz, list, create, login) open-loop after its
    /// closed loop, at FRACTION × the closed-loop throughput just measured (e.g. 0.7; above
    /// 1 overloads the server on purpose). See "Open loop" below.
    #[arg(long, value_name = "FRACTION", value_parser = parse_fraction)]
    open_loop: Option<f64>,

    /// Open-loop runs at fixed total rates (req/s) instead, e.g. `list=8000,create=5000`:
    /// these scenarios run open-loop at that rate, with or without `--open-loop` (which
    /// still sets the others').
    #[arg(long, value_name = "SCENARIO=RATE", value_delimiter = ',', value_parser = parse_rate)]
    open_loop_rate: Vec<(Scenario, f64)>,

    /// Open loop: how long requests in flight when the window ends may still take. Those
    /// unanswered then count as errors (timeouts).
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    open_loop_drain: Duration,

    /// Connections of the login scenario. Each login in flight holds a 19 MiB argon2id
    /// buffer on the server, so this is kept lower.
    #[arg(long, default_value_t = 16)]
    login_connections: usize,

    /// Tasks of the user whose list is fetched.
    #[arg(long, default_value_t = 50)]
    list_tasks: usize,

    /// WebSocket subscribers of the fan-out scenario.
    #[arg(long, default_value_t = 1000)]
    subscribers: usize,

    /// Users the subscribers (and the idle sockets) are spread over.
    #[arg(long, default_value_t = 100)]
    subscriber_users: usize,

    /// Writes per second, in total, during the fan-out scenario.
    #[arg(long, default_value_t = 1000.0)]
    fanout_rate: f64,

    /// Connections issuing the fan-out writes.
    #[arg(long, default_value_t = 16)]
    fanout_writers: usize,

    /// Idle authenticated WebSockets to hold for the memory reading.
    #[arg(long, default_value_t = 10_000)]
    idle_sockets: usize,

    /// WebSocket handshakes in flight at once.
    #[arg(long, default_value_t = 200)]
    connect_concurrency: usize,

    /// Also write the JSON summary to this file.
    #[arg(long)]
    json: Option<PathBuf>,

    /// Give up (and stop the server) after this long, per backend.
    #[arg(long, default_value = "180s", value_parser = humantime::parse_duration)]
    max_time: Duration,

    /// The database of the started server: `sqlite` (a temporary file), `postgres` (a
    /// fresh database on `--postgres-url`, dropped afterwards) or `both` (every selected
    /// scenario on SQLite, then on PostgreSQL, each on a fresh server; one table with
    /// PostgreSQL's throughput over SQLite's). Both durable: SQLite `--synchronous full`,
    /// PostgreSQL `synchronous_commit=on`.
    #[arg(long, value_enum, default_value_t = BackendChoice::Sqlite)]
    backend: BackendChoice,

    /// PostgreSQL to benchmark on (plain TCP): through this URL the harness creates
    /// `tasklane_bench_<random hex>`, serves that, and drops it afterwards (`WITH
    /// (FORCE)`, also after an error or Ctrl-C). Its password is never printed.
    #[arg(
        long,
        env = "TASKLANE_BENCH_POSTGRES_URL",
        hide_env_values = true,
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    postgres_url: String,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Scenario {
    Healthz,
    List,
    Create,
    Login,
    Fanout,
    Idle,
}

impl Scenario {
    /// The HTTP load scenarios, which can run open-loop.
    fn is_http(self) -> bool {
        matches!(
            self,
            Scenario::Healthz | Scenario::List | Scenario::Create | Scenario::Login
        )
    }

    fn name(self) -> &'static str {
        match self {
            Scenario::Healthz => "healthz",
            Scenario::List => "list",
            Scenario::Create => "create",
            Scenario::Login => "login",
            Scenario::Fanout => "fanout",
            Scenario::Idle => "idle",
        }
    }
}

impl Args {
    /// The open-loop run of scenario `s`, if any: a fixed rate, else the fraction.
    fn open_loop_of(&self, s: Scenario) -> Option<OpenLoop> {
        let fixed = self.open_loop_rate.iter().rev().find(|(n, _)| *n == s);
        let rate = match fixed {
            Some(&(_, r)) => OpenRate::Fixed(r),
            None => OpenRate::Fraction(self.open_loop?),
        };
        Some(OpenLoop {
            rate,
            drain: self.open_loop_drain,
        })
    }
}

fn parse_fraction(s: &str) -> Result<f64, String> {
    let f: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if f.is_finite() && f > 0.0 && f <= 10.0 {
        Ok(f)
    } else {
        Err("a fraction above 0, at most 10".into())
    }
}

fn parse_rate(s: &str) -> Result<(Scenario, f64), String> {
    let (name, rate) = s
        .split_once('=')
        .ok_or("expected SCENARIO=RATE, e.g. list=8000")?;
    let scenario = Scenario::from_str(name.trim(), true)?;
    if !scenario.is_http() {
        return Err(format!(
            "{name} is not an HTTP scenario (healthz, list, create, login)"
        ));
    }
    let rate: f64 = rate.trim().parse().map_err(|e| format!("{rate}: {e}"))?;
    if !(rate.is_finite() && rate > 0.0 && rate <= 1e7) {
        return Err(format!("{rate}: a rate above 0, at most 10^7 req/s"));
    }
    Ok((scenario, rate))
}

/// Users the create and login scenarios spread over.
const LOAD_USERS: usize = 8;

fn main() -> ExitCode {
    let args = Args::parse();
    let machine = server::machine();
    let nofile = rlimit::increase_nofile_limit(u64::MAX).ok();
    // Before the runtime exists, so every thread it starts inherits the affinity.
    let client_cpus = pin_self(&args.client_cpus);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tasklane-bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let env = json!({
        "command": shown_command(),
        "started_at": chrono::Utc::now().to_rfc3339(),
        "machine": machine,
        "client": {
            "cpus": client_cpus,
            "worker_threads": std::thread::available_parallelism().map(|n| n.get()).ok(),
            "nofile_limit": nofile,
        },
    });
    let result = runtime.block_on(run(&args, env));
    // Don't wait for sockets or connection tasks left behind.
    runtime.shutdown_timeout(Duration::from_secs(1));
    match result {
        Ok(summary) => {
            let text = serde_json::to_string_pretty(&summary).unwrap_or_default();
            println!("{text}");
            let passed = summary["checks"]["passed"].as_bool().unwrap_or(true);
            if let Some(path) = &args.json
                && let Err(e) = std::fs::write(path, format!("{text}\n"))
            {
                eprintln!("tasklane-bench: cannot write {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
            if passed {
                ExitCode::SUCCESS
            } else {
                eprintln!("tasklane-bench: WebSocket events were lost or duplicated (see checks)");
                ExitCode::from(2)
            }
        }
        Err(e) => {
            eprintln!("tasklane-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// This process's arguments, with any password in `--postgres-url` hidden.
fn shown_command() -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for arg in std::env::args() {
        let shown = if out.last().is_some_and(|a| a == "--postgres-url") {
            pg::redact(&arg)
        } else if let Some(url) = arg.strip_prefix("--postgres-url=") {
            format!("--postgres-url={}", pg::redact(url))
        } else {
            arg
        };
        out.push(shown);
    }
    out
}

/// Pins this process (its only thread, so far) to `cpus` with `taskset`.
fn pin_self(cpus: &str) -> Value {
    if cpus == "all" {
        return json!("all");
    }
    let status = std::process::Command::new("taskset")
        .args(["-pc", cpus, &std::process::id().to_string()])
        .stdout(Stdio::null())
        .status();
    match status {
        Ok(s) if s.success() => json!(cpus),
        other => {
            eprintln!("tasklane-bench: could not pin to CPUs {cpus} ({other:?}); running unpinned");
            json!("all")
        }
    }
}

fn progress(msg: impl AsRef<str>) {
    eprintln!("[bench] {}", msg.as_ref());
}

/// Which database the started server runs on.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum BackendChoice {
    Sqlite,
    Postgres,
    Both,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// The server under test: one we started, or one at `--base`.
struct Target {
    addr: SocketAddr,
    pid: Option<u32>,
    server: Option<Server>,
}

async fn target(args: &Args, db: &server::Db<'_>) -> anyhow::Result<Target> {
    if let Some(base) = &args.base {
        let authority = base
            .strip_prefix("http://")
            .context("--base must be an http:// URL")?
            .split('/')
            .next()
            .unwrap_or_default();
        let addr = tokio::net::lookup_host(authority)
            .await
            .with_context(|| format!("resolve {authority}"))?
            .next()
            .with_context(|| format!("{authority} has no address"))?;
        if !addr.ip().is_loopback() {
            bail!("--base must be a loopback address (127.0.0.0/8 or [::1]), not {addr}");
        }
        return Ok(Target {
            addr,
            pid: args.server_pid,
            server: None,
        });
    }
    let cpus = (args.server_cpus != "all").then_some(args.server_cpus.as_str());
    let server = Server::start(&args.server_bin, cpus, db).await?;
    progress(format!(
        "server pid {} listening on {} ({})",
        server.pid,
        server.addr,
        server.command.join(" ")
    ));
    Ok(Target {
        addr: server.addr,
        pid: Some(server.pid),
        server: Some(server),
    })
}

/// `fut`, bounded by `--max-time` and ended by Ctrl-C (so the caller can still drop its
/// PostgreSQL database).
async fn bounded<T>(
    args: &Args,
    fut: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    tokio::select! {
        r = tokio::time::timeout(args.max_time, fut) => match r {
            Ok(r) => r,
            Err(_) => bail!("the run took longer than --max-time {:?}", args.max_time),
        },
        _ = tokio::signal::ctrl_c() => bail!("interrupted"),
    }
}

/// What one backend's run gave.
struct BackendRun {
    backend: Backend,
    rows: Vec<report::Row>,
    scenarios: Map<String, Value>,
    memory: Memory,
    target: Value,
    server_log: Option<Value>,
}

impl BackendRun {
    /// The one invariant: a subscriber gets every event of its user exactly once.
    fn checks(&self) -> Value {
        let fan = self.scenarios.get("fanout");
        let count = |k: &str| fan.and_then(|f| f[k].as_u64()).unwrap_or(0);
        let (lost, duplicates) = (count("lost"), count("duplicates"));
        json!({
            "events_lost": fan.map(|_| lost),
            "events_duplicated": fan.map(|_| duplicates),
            "passed": lost == 0 && duplicates == 0,
        })
    }
}

async fn run(args: &Args, mut summary: Value) -> anyhow::Result<Value> {
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

/// Each scenario and mode run on both backends: rates, latencies and PostgreSQL's rate
/// over SQLite's, from the compared table's rows.
fn comparison(rows: &[report::Row]) -> Value {
    let side = |r: &report::Row| {
        json!({
            "rate_per_s": r.rate.map(round1),
            "p50_ms": r.p50_ms,
            "p99_ms": r.p99_ms,
            "errors": r.errors,
        })
    };
    let items: Vec<Value> = rows
        .windows(2)
        .filter(|w| w[0].backend == Some("sqlite") && w[1].backend == Some("postgres"))
        .filter(|w| w[0].scenario == w[1].scenario && w[0].mode == w[1].mode)
        .map(|w| {
            json!({
                "scenario": w[0].scenario,
                "mode": if w[0].mode.is_empty() { Value::Null } else { json!(w[0].mode) },
                "sqlite": side(&w[0]),
                "postgres": side(&w[1]),
                "rate_ratio_postgres_to_sqlite": w[1].ratio.map(|x| (x * 1000.0).round() / 1000.0),
            })
        })
        .collect();
    Value::Array(items)
}

/// Runs the selected scenarios on a fresh server on `backend` (or on `--base`), and stops
/// the server.
async fn run_backend(
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
