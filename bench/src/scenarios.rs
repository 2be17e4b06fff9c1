//! The scenarios: each runs, then returns its table row and its JSON object.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use crate::api::{self, User};
use crate::load::{self, MakeReq, Plan};
use crate::report::{Row, latency_json};
use crate::server::{CpuMeter, CpuUse, Rss, round1};
use crate::{Args, progress, ws};

/// The server under test: its address, its pid when known, and the PostgreSQL database
/// behind it when it has one (to count PostgreSQL's CPU).
#[derive(Clone, Copy)]
pub struct Subject<'a> {
    pub addr: SocketAddr,
    pub pid: Option<u32>,
    pub db: Option<crate::pg::Probe<'a>>,
}

/// Server memory readings, in order.
pub struct Memory {
    pub pid: Option<u32>,
    pub readings: Map<String, Value>,
    pub lines: Vec<String>,
}

impl Memory {
    pub fn read(&mut self, label: &str) -> Option<Rss> {
        let rss = Rss::read(self.pid?)?;
        let key: String = label
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join("_");
        self.readings.insert(key, rss.json());
        self.lines.push(format!(
            "{label:<24} {:>8.1} MiB   (peak so far {:.1} MiB)",
            Rss::mib(rss.now_kib),
            Rss::mib(rss.peak_kib)
        ));
        Some(rss)
    }
}

/// Registers and logs in `n` users named `{prefix}{i}`.
pub async fn users(addr: SocketAddr, prefix: &str, n: usize) -> anyhow::Result<Vec<User>> {
    let t = Instant::now();
    let users = api::users(addr, prefix, n).await?;
    progress(format!(
        "set-up: {n} users {prefix}* registered and logged in in {:.1} s",
        t.elapsed().as_secs_f64()
    ));
    Ok(users)
}

/// The user whose list is fetched, with exactly `tasks` tasks.
pub async fn list_user(addr: SocketAddr, prefix: &str, tasks: usize) -> anyhow::Result<User> {
    let user = users(addr, &format!("{prefix}list"), 1)
        .await?
        .into_iter()
        .next()
        .context("no list user")?;
    api::tasks(addr, &user, tasks).await?;
    let n = api::count_tasks(addr, &user).await?;
    if n != tasks {
        progress(format!(
            "warning: the list returns {n} of the {tasks} tasks (the server's page size?)"
        ));
    }
    Ok(user)
}

/// How an HTTP scenario's open-loop run picks its rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OpenRate {
    /// This fraction of the throughput its closed-loop run has just measured.
    Fraction(f64),
    /// Requests per second, in total.
    Fixed(f64),
}

/// An HTTP scenario's open-loop run, after its closed-loop one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OpenLoop {
    pub rate: OpenRate,
    pub drain: Duration,
}

/// Runs an HTTP scenario closed-loop, then open-loop too with `open`: a table row per
/// run, and the scenario's JSON object with a `closed_loop` and an `open_loop` member.
pub async fn http_scenario(
    target: Subject<'_>,
    name: &str,
    plan: Plan,
    open: Option<OpenLoop>,
    make: MakeReq,
) -> (Vec<Row>, Value) {
    let addr = target.addr;
    progress(format!(
        "{name}: closed loop, {} connections, {:?} warm-up + {:?}",
        plan.connections, plan.warmup, plan.duration
    ));
    let cpu = CpuMeter::start(target.pid, target.db).await;
    let out = load::run(addr, plan, make.clone()).await;
    let cpu = cpu.stop().await;
    let mut row = Row::new(name).latency(&out.latency);
    row.mode = "closed";
    row.rate = Some(out.rate());
    row.errors = out.errors;
    row.notes = format!("{} conns; {}", plan.connections, cpu_note(cpu));
    if let Some(e) = &out.first_error {
        row.notes.push_str(&format!("; first error: {e}"));
    }
    let closed = json!({
        "connections": plan.connections,
        "requests": out.requests,
        "rate_per_s": round1(out.rate()),
        "errors": out.errors,
        "first_error": out.first_error,
        "latency": latency_json(&out.latency),
        "latency_from": "actual send (each connection sends when its previous answer arrives)",
        "cpu_percent": cpu_json(cpu),
    });
    let mut rows = vec![row];
    let mut v = json!({ "closed_loop": closed });
    if let Some(open) = open {
        let (row, json) = open_loop(target, name, plan, open, out.rate(), make).await;
        rows.push(row);
        v["open_loop"] = json;
    }
    (rows, v)
}

async fn open_loop(
    target: Subject<'_>,
    name: &str,
    plan: Plan,
    open: OpenLoop,
    closed_rate: f64,
    make: MakeReq,
) -> (Row, Value) {
    let (rate, basis, fraction) = match open.rate {
        OpenRate::Fraction(f) => (f * closed_rate, format!("{f} × closed"), Some(f)),
        OpenRate::Fixed(r) => (r, "fixed".to_owned(), None),
    };
    progress(format!(
        "{name}: open loop, {rate:.0} req/s ({basis}) over {} connections, {:?} warm-up + {:?}, drain ≤ {:?}",
        plan.connections, plan.warmup, plan.duration, open.drain
    ));
    let mut row = Row::new(name);
    row.mode = "open";
    let cpu = CpuMeter::start(target.pid, target.db).await;
    let result = load::run_open(
        target.addr,
        plan,
        load::Open {
            rate,
            drain: open.drain,
        },
        make,
    )
    .await;
    let cpu = cpu.stop().await;
    let out = match result {
        Ok(out) => out,
        Err(e) => {
            row.notes = format!("not run: {e:#}");
            return (row, json!({ "error": format!("{e:#}") }));
        }
    };
    let target_rate = out.schedule.rate();
    row = row.latency(&out.latency);
    row.rate = Some(out.rate());
    row.errors = out.errors + out.timeouts + out.warmup_errors;
    row.late = Some(out.late);
    let delay = |q: f64| out.send_delay.value_at_quantile(q) as f64 / 1000.0;
    row.notes = format!(
        "target {target_rate:.0}/s ({basis}); {} conns; sent behind schedule p50 {:.2} p99 {:.2} ms; {}",
        plan.connections,
        delay(0.5),
        delay(0.99),
        cpu_note(cpu)
    );
    if out.ok < out.intended {
        row.notes.push_str(&format!(
            "; percentiles over the {} ok of {} intended",
            out.ok, out.intended
        ));
    }
    if out.timeouts > 0 {
        row.notes.push_str(&format!(
            "; {} unanswered {:?} after the window",
            out.timeouts, out.drain
        ));
    }
    if let Some(e) = &out.first_error {
        row.notes.push_str(&format!("; first error: {e}"));
    }
    let v = json!({
        "connections": plan.connections,
        "rate_basis": basis,
        "fraction_of_closed_loop": fraction,
        "target_rate_per_s": round1(target_rate),
        "intended": out.intended,
        "ok": out.ok,
        "rate_per_s": round1(out.rate()),
        "errors": out.errors,
        "timeouts": out.timeouts,
        "late": out.late,
        "warmup_errors": out.warmup_errors,
        "first_error": out.first_error,
        "drain_s": out.drain.as_secs_f64(),
        "latency": latency_json(&out.latency),
        "latency_from": "intended send time (start + k / rate), so time queued for a free connection counts; percentiles over the ok answers only",
        "send_delay": latency_json(&out.send_delay),
        "cpu_percent": cpu_json(cpu),
        "counts_note": "requests intended in the measured window: intended = ok + errors + timeouts + late; late = never sent before the window ended; timeouts = unanswered at the end of the drain",
    });
    (row, v)
}

pub async fn fanout(
    target: Subject<'_>,
    users: &[User],
    args: &Args,
) -> anyhow::Result<(Row, Value)> {
    let plan = ws::FanoutPlan {
        subscribers: args.subscribers,
        writers: args.fanout_writers,
        rate: args.fanout_rate,
        duration: args.duration,
        connect_concurrency: args.connect_concurrency,
    };
    progress(format!(
        "fanout: {} subscribers over {} users, {} writes/s for {:?}",
        plan.subscribers,
        users.len(),
        plan.rate,
        plan.duration
    ));
    let cpu = CpuMeter::start(target.pid, target.db).await;
    let out = ws::fanout(target.addr, users, &plan).await?;
    let cpu = cpu.stop().await;
    let delivery_rate = out.deliveries as f64 / out.write_window.as_secs_f64();
    let mut row = Row::new("fanout").latency(&out.commit_to_receipt);
    row.rate = Some(delivery_rate);
    row.errors =
        out.write_errors + out.connect_failures as u64 + out.closed_early as u64 + out.bad_frames;
    let send_p = |q: f64| out.send_to_receipt.value_at_quantile(q) as f64 / 1000.0;
    row.notes = format!(
        "events/s delivered; {} subs; {:.0} writes/s; lost {}, dup {}, reordered {}; POST-sent→recv p50 {:.2} p99 {:.2} ms; {}",
        out.subscribers,
        out.write_rate(),
        out.lost,
        out.duplicates,
        out.out_of_order,
        send_p(0.5),
        send_p(0.99),
        cpu_note(cpu),
    );
    for (what, e) in [
        ("connect", &out.connect_first_error),
        ("write", &out.write_first_error),
        ("socket", &out.closed_first),
    ] {
        if let Some(e) = e {
            row.notes.push_str(&format!("; first {what} error: {e}"));
        }
    }
    let v = json!({
        "subscribers": out.subscribers,
        "users": users.len(),
        "connect_failures": out.connect_failures,
        "connect_first_error": out.connect_first_error,
        "connect_s": round1(out.connect_time.as_secs_f64()),
        "server_streams_reported": out.server_streams,
        "target_write_rate": args.fanout_rate,
        "writes_ok": out.writes_ok,
        "write_rate_per_s": round1(out.write_rate()),
        "write_errors": out.write_errors,
        "write_first_error": out.write_first_error,
        "write_latency": latency_json(&out.write_latency),
        "expected_deliveries": out.expected_deliveries,
        "deliveries": out.deliveries,
        "deliveries_per_s": round1(delivery_rate),
        "lost": out.lost,
        "duplicates": out.duplicates,
        "out_of_order": out.out_of_order,
        "unexpected": out.unexpected,
        "bad_frames": out.bad_frames,
        "closed_early": out.closed_early,
        "closed_first": out.closed_first,
        "drain_s": round1(out.drain_time.as_secs_f64()),
        "commit_to_receipt": latency_json(&out.commit_to_receipt),
        "send_to_receipt": latency_json(&out.send_to_receipt),
        "cpu_percent": cpu_json(cpu),
        "latency_note": "commit_to_receipt: the event's `at` (stamped inside the write transaction, µs, UTC) to the subscriber's wall clock on receipt, same machine; send_to_receipt: the writer's monotonic send time (embedded in the task title) to receipt",
    });
    Ok((row, v))
}

pub async fn idle(
    addr: SocketAddr,
    users: &[User],
    args: &Args,
    memory: &mut Memory,
) -> (Row, Value) {
    progress(format!(
        "idle: opening {} WebSockets over {} users, {} at a time",
        args.idle_sockets,
        users.len(),
        args.connect_concurrency
    ));
    let before = memory.read("before idle sockets");
    let sockets = ws::idle(addr, users, args.idle_sockets, args.connect_concurrency).await;
    // Let the server settle (handshake buffers freed) before reading its memory.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let held = sockets.held();
    let streams = api::open_streams(addr).await.ok();
    let with = memory.read(&format!("with {held} idle sockets"));
    let per_socket_kib = match (before, with) {
        (Some(b), Some(w)) if held > 0 => {
            Some(round1((w.now_kib as f64 - b.now_kib as f64) / held as f64))
        }
        _ => None,
    };
    let failures = sockets
        .failures
        .count
        .load(std::sync::atomic::Ordering::Relaxed);
    let first_error = sockets.failures.first();
    let connect_s = sockets.connect_time.as_secs_f64();
    sockets.close().await;

    let mut row = Row::new("idle sockets");
    row.errors = failures as u64;
    row.notes = format!(
        "held {held}/{} (server counts {}), opened in {connect_s:.1} s",
        args.idle_sockets,
        streams.map_or_else(|| "?".into(), |s| s.to_string()),
    );
    if let (Some(b), Some(w), Some(k)) = (before, with, per_socket_kib) {
        row.notes.push_str(&format!(
            "; server RSS {:.1} → {:.1} MiB ({k:+.1} KiB/socket)",
            Rss::mib(b.now_kib),
            Rss::mib(w.now_kib)
        ));
    }
    if let Some(e) = &first_error {
        row.notes.push_str(&format!("; first error: {e}"));
    }
    let v = json!({
        "requested": args.idle_sockets,
        "held": held,
        "server_streams_reported": streams,
        "connect_failures": failures,
        "first_error": first_error,
        "connect_s": round1(connect_s),
        "rss_before_mib": before.map(|r| round1(Rss::mib(r.now_kib))),
        "rss_with_sockets_mib": with.map(|r| round1(Rss::mib(r.now_kib))),
        "rss_per_socket_kib": per_socket_kib,
        "rss_note": "the delta is a lower bound when the baseline holds freed memory the allocator kept (argon2id's 19 MiB blocks after registrations and logins): new sockets reuse it",
    });
    (row, v)
}

/// CPU use as the notes show it: percent of one core.
fn cpu_note(cpu: CpuUse) -> String {
    let pct = |v: Option<f64>| v.map_or_else(|| "?".to_owned(), |v| format!("{v:.0}%"));
    let pg = cpu
        .database
        .map_or_else(String::new, |_| format!(" pg {}", pct(cpu.database)));
    match cpu.server {
        Some(_) => format!(
            "cpu srv {} cli {}{pg} other {}",
            pct(cpu.server),
            pct(cpu.client),
            pct(cpu.other)
        ),
        None => format!(
            "cpu cli {}{pg} srv+other {}",
            pct(cpu.client),
            pct(cpu.other)
        ),
    }
}

fn cpu_json(cpu: CpuUse) -> Value {
    json!({
        "server": cpu.server,
        "client": cpu.client,
        "postgres": cpu.database,
        "other_processes": cpu.other,
        "unit": "percent of one core, averaged over warm-up and run",
    })
}
