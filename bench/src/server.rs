//! The server under test: started from the release binary on a temporary SQLite file or
//! a PostgreSQL database, optionally pinned with `taskset`; its memory read from `/proc`.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const STDERR_KEPT: usize = 20;

pub struct Server {
    child: Child,
    pub pid: u32,
    pub addr: SocketAddr,
    /// The exact command, for the report (a database URL in it without its password).
    pub command: Vec<String>,
    /// The SQLite file it serves (`Db::TempSqlite`), for the list set-up to seed.
    pub sqlite_file: Option<PathBuf>,
    stderr: Arc<Mutex<Stderr>>,
    _dir: tempfile::TempDir,
}

/// What the server wrote to stderr after it started.
#[derive(Default)]
struct Stderr {
    lines: u64,
    warnings: u64,
    errors: u64,
    last: VecDeque<String>,
}

/// The database a started server serves.
pub enum Db<'a> {
    /// A new SQLite file in a temporary directory (`--db`), durable (`--synchronous full`,
    /// the server's default).
    TempSqlite,
    /// A PostgreSQL database, by URL. It goes to the server in `TASKLANE_DATABASE_URL`
    /// (`--database-url`'s variable), so no password shows in its command line.
    Postgres(&'a crate::pg::Database),
}

impl Server {
    /// Starts `bin serve` on a free loopback port on `db`; `cpus` is a `taskset -c` list
    /// to pin it to, `extra` more `serve` options (e.g. `--list-cache-mb 0`).
    pub async fn start(
        bin: &Path,
        cpus: Option<&str>,
        db: &Db<'_>,
        extra: &[String],
    ) -> anyhow::Result<Server> {
        if !bin.is_file() {
            bail!(
                "no server binary at {} — build it with `cargo build --release` (or pass --server-bin)",
                bin.display()
            );
        }
        let dir = tempfile::tempdir().context("temp dir")?;
        // `--log warn` keeps per-request logging out of the figures, but it also hides
        // the "listening on" line; so pick a free port here and wait for /healthz.
        let addr = free_port().context("pick a free port")?;
        let mut command: Vec<String> = Vec::new();
        let mut env: Vec<(&str, String)> = Vec::new();
        let mut database: Vec<String> = Vec::new();
        let mut sqlite_file = None;
        match db {
            Db::TempSqlite => {
                let file: PathBuf = dir.path().join("bench.db");
                database.extend(["--db".into(), file.display().to_string()]);
                sqlite_file = Some(file);
            }
            Db::Postgres(pg) => env.push(("TASKLANE_DATABASE_URL", pg.url.clone())),
        }
        if let Some(cpus) = cpus {
            command.extend(["taskset".into(), "-c".into(), cpus.into()]);
        }
        command.push(bin.display().to_string());
        command.extend(
            [
                "serve",
                "--bind",
                &addr.to_string(),
                "--log",
                "warn",
                "--access-ttl",
                "1h",
                // The set-up registers ~120 users from one address.
                "--registrations-per-address",
                "1000000",
                // The idle scenario holds ~100 sockets per user (10,000 over 100 users),
                // past the default cap of 32 open streams per user.
                "--max-streams-per-user",
                "100000",
            ]
            .map(String::from),
        );
        command.extend(database);
        command.extend(extra.iter().cloned());
        let mut child = Command::new(&command[0]);
        // One from the caller's shell would conflict with `--db`, or pick another database.
        child.env_remove("TASKLANE_DATABASE_URL");
        let mut child = child
            .args(&command[1..])
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("start {}", command.join(" ")))?;
        let pid = child.id().context("server exited at once")?;
        let stderr = child.stderr.take().context("server stderr")?;

        // Keep draining stderr so the server never blocks on it.
        let kept = Arc::new(Mutex::new(Stderr::default()));
        let sink = kept.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(mut s) = sink.lock() {
                    s.lines += 1;
                    s.warnings += u64::from(line.contains("WARN"));
                    s.errors += u64::from(line.contains("ERROR"));
                    s.last.push_back(line);
                    if s.last.len() > STDERR_KEPT {
                        s.last.pop_front();
                    }
                }
            }
        });

        // The command as reported: the environment it had, passwords hidden.
        if let Db::Postgres(pg) = db {
            command.insert(0, format!("TASKLANE_DATABASE_URL={}", pg.shown()));
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                bail!("server exited with {status}:\n{}", tail(&kept));
            }
            if crate::api::healthy(addr).await {
                break;
            }
            if std::time::Instant::now() > deadline {
                bail!("server not answering /healthz after 30 s:\n{}", tail(&kept));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Server {
            child,
            pid,
            addr,
            command,
            sqlite_file,
            stderr: kept,
            _dir: dir,
        })
    }

    /// What the server logged while it ran (counts and the last lines), and whether it
    /// exited before being asked to.
    pub fn log_summary(&mut self) -> Value {
        let exited = match self.child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            _ => None,
        };
        match self.stderr.lock() {
            Ok(s) => json!({
                "exited_early": exited,
                "lines": s.lines,
                "warnings": s.warnings,
                "errors": s.errors,
                "last": s.last,
            }),
            Err(_) => Value::Null,
        }
    }

    /// SIGTERM, then SIGKILL if it has not stopped in 12 s. A temp SQLite file goes too.
    pub async fn stop(mut self) {
        let term = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .await;
        let stopped = term.is_ok()
            && tokio::time::timeout(Duration::from_secs(12), self.child.wait())
                .await
                .is_ok();
        if !stopped {
            let _ = self.child.kill().await;
        }
    }
}

/// A port on 127.0.0.1 that nothing listens on right now.
fn free_port() -> std::io::Result<SocketAddr> {
    std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()
}

fn tail(stderr: &Mutex<Stderr>) -> String {
    stderr
        .lock()
        .map(|s| s.last.iter().cloned().collect::<Vec<_>>().join("\n"))
        .unwrap_or_default()
}

/// Resident memory of a process, KiB: now (`VmRSS`) and peak (`VmHWM`).
#[derive(Clone, Copy, Debug)]
pub struct Rss {
    pub now_kib: u64,
    pub peak_kib: u64,
}

impl Rss {
    pub fn read(pid: u32) -> Option<Rss> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let field = |name: &str| -> Option<u64> {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        };
        Some(Rss {
            now_kib: field("VmRSS:")?,
            peak_kib: field("VmHWM:")?,
        })
    }

    pub fn mib(kib: u64) -> f64 {
        kib as f64 / 1024.0
    }

    pub fn json(&self) -> Value {
        json!({
            "rss_mib": round1(Rss::mib(self.now_kib)),
            "peak_rss_mib": round1(Rss::mib(self.peak_kib)),
        })
    }
}

pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Cores, CPU model, memory and kernel, for the report.
pub fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, m)| m.trim().to_owned());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib: Option<u64> = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok());
    json!({
        "nproc": std::thread::available_parallelism().map(|n| n.get()).ok(),
        "online_cpus": std::fs::read_to_string("/sys/devices/system/cpu/online").ok().map(|s| s.trim().to_owned()),
        "cpu_model": model,
        "mem_total_gib": mem_kib.map(|k| round1(k as f64 / 1024.0 / 1024.0)),
        "loadavg_at_start": std::fs::read_to_string("/proc/loadavg").ok().map(|s| s.trim().to_owned()),
        "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").ok().map(|s| s.trim().to_owned()),
    })
}

/// CPU time (user + system) a process has used, in seconds, from `/proc/<pid>/stat`.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    // /proc reports in USER_HZ, which is 100 on Linux.
    Some((utime + stime) as f64 / 100.0)
}

/// Busy CPU time of the whole machine, in seconds, from the `cpu` line of `/proc/stat`
/// (everything but idle and iowait).
fn machine_busy_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal …
    let busy: u64 = ticks
        .iter()
        .enumerate()
        .filter(|(i, _)| !matches!(i, 3 | 4) && *i < 8)
        .map(|(_, t)| t)
        .sum();
    Some(busy as f64 / 100.0)
}

/// CPU use over a stretch of time, in percent of one core.
#[derive(Clone, Copy, Debug)]
pub struct CpuUse {
    pub server: Option<f64>,
    pub client: Option<f64>,
    /// The PostgreSQL processes serving the bench database (PostgreSQL backend only).
    pub database: Option<f64>,
    /// Everything else on the machine (other processes): noise in the figures.
    pub other: Option<f64>,
}

/// Measures the server's, this process's, PostgreSQL's and the rest of the machine's
/// CPU use.
pub struct CpuMeter<'a> {
    server_pid: Option<u32>,
    database: Option<(crate::pg::Probe<'a>, HashMap<u32, f64>)>,
    started: std::time::Instant,
    server: Option<f64>,
    client: Option<f64>,
    machine: Option<f64>,
}

impl<'a> CpuMeter<'a> {
    pub async fn start(
        server_pid: Option<u32>,
        database: Option<crate::pg::Probe<'a>>,
    ) -> CpuMeter<'a> {
        let database = match database {
            Some(probe) => Some((probe, probe.cpu().await)),
            None => None,
        };
        CpuMeter {
            server_pid,
            database,
            started: std::time::Instant::now(),
            server: server_pid.and_then(cpu_seconds),
            client: cpu_seconds(std::process::id()),
            machine: machine_busy_seconds(),
        }
    }

    /// Average use since `start`.
    pub async fn stop(&self) -> CpuUse {
        // PostgreSQL processes that started meanwhile (new pool connections) count whole.
        let database_now = match &self.database {
            Some((probe, _)) => Some(probe.cpu().await),
            None => None,
        };
        let wall = self.started.elapsed().as_secs_f64();
        let used = |before: Option<f64>, now: Option<f64>| Some((now? - before?) / wall * 100.0);
        let server = used(self.server, self.server_pid.and_then(cpu_seconds));
        let client = used(self.client, cpu_seconds(std::process::id()));
        let machine = used(self.machine, machine_busy_seconds());
        let database = match (&self.database, database_now) {
            (Some((_, before)), Some(now)) => {
                let secs: f64 = now
                    .iter()
                    .map(|(pid, t)| t - before.get(pid).copied().unwrap_or(0.0))
                    .sum();
                Some(secs / wall * 100.0)
            }
            _ => None,
        };
        let other = match (machine, client) {
            (Some(m), Some(c)) => {
                Some((m - c - server.unwrap_or(0.0) - database.unwrap_or(0.0)).max(0.0))
            }
            _ => None,
        };
        let round = |v: Option<f64>| v.map(f64::round);
        CpuUse {
            server: round(server),
            client: round(client),
            database: round(database),
            other: round(other),
        }
    }
}

/// Size and modification time of the server binary, to tell builds apart in reports.
pub fn binary_info(path: &Path) -> Value {
    let meta = std::fs::metadata(path).ok();
    json!({
        "path": path.display().to_string(),
        "bytes": meta.as_ref().map(std::fs::Metadata::len),
        "modified": meta
            .and_then(|m| m.modified().ok())
            .map(|t| chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339()),
    })
}
