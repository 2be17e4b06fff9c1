//! The server under test: started from the release binary on a temporary database,
//! optionally pinned with `taskset`; its memory read from `/proc`.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const READY_LINE: &str = "tasklane listening on http://";
const STDERR_KEPT: usize = 20;

pub struct Server {
    child: Child,
    pub pid: u32,
    pub addr: SocketAddr,
    /// The exact command, for the report.
    pub command: Vec<String>,
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

impl Server {
    /// Starts `bin serve` on 127.0.0.1:0 with a fresh database; `cpus` is a `taskset -c`
    /// list to pin it to.
    pub async fn start(bin: &Path, cpus: Option<&str>) -> anyhow::Result<Server> {
        if !bin.is_file() {
            bail!(
                "no server binary at {} — build it with `cargo build --release` (or pass --server-bin)",
                bin.display()
            );
        }
        let dir = tempfile::tempdir().context("temp dir")?;
        let db: PathBuf = dir.path().join("bench.db");
        let mut command: Vec<String> = Vec::new();
        if let Some(cpus) = cpus {
            command.extend(["taskset".into(), "-c".into(), cpus.into()]);
        }
        command.push(bin.display().to_string());
        command.extend(
            [
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--db",
                &db.display().to_string(),
                // `warn`, plus the crate's own info lines: the listening line and
                // migrations (it logs nothing per request).
                "--log",
                "warn,tasklane=info",
                "--access-ttl",
                "1h",
                // The set-up registers ~120 users from one address.
                "--registrations-per-address",
                "1000000",
            ]
            .map(String::from),
        );
        let mut child = Command::new(&command[0])
            .args(&command[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("start {}", command.join(" ")))?;
        let pid = child.id().context("server exited at once")?;
        let stderr = child.stderr.take().context("server stderr")?;
        let mut lines = BufReader::new(stderr).lines();

        let mut seen = Vec::new();
        let wait_ready = async {
            while let Some(line) = lines.next_line().await? {
                if let Some(rest) = line.split(READY_LINE).nth(1) {
                    let addr = rest.split_whitespace().next().unwrap_or_default();
                    return addr
                        .parse::<SocketAddr>()
                        .with_context(|| format!("address in {line:?}"));
                }
                seen.push(line);
            }
            bail!("server exited before listening")
        };
        let addr = match tokio::time::timeout(Duration::from_secs(30), wait_ready).await {
            Ok(Ok(addr)) => addr,
            Ok(Err(e)) => bail!("{e:#}; server said:\n{}", seen.join("\n")),
            Err(_) => bail!(
                "server not listening after 30 s; it said:\n{}",
                seen.join("\n")
            ),
        };

        // Keep draining stderr so the server never blocks on it.
        let kept = Arc::new(Mutex::new(Stderr::default()));
        let sink = kept.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(mut s) = sink.lock() {
                    s.lines += 1;
                    s.warnings += u64::from(line.contains(" WARN "));
                    s.errors += u64::from(line.contains(" ERROR "));
                    s.last.push_back(line);
                    if s.last.len() > STDERR_KEPT {
                        s.last.pop_front();
                    }
                }
            }
        });
        Ok(Server {
            child,
            pid,
            addr,
            command,
            stderr: kept,
            _dir: dir,
        })
    }

    /// What the server logged while it ran (counts and the last lines).
    pub fn log_summary(&self) -> Value {
        match self.stderr.lock() {
            Ok(s) => json!({
                "lines": s.lines,
                "warnings": s.warnings,
                "errors": s.errors,
                "last": s.last,
            }),
            Err(_) => Value::Null,
        }
    }

    /// SIGTERM, then SIGKILL if it has not stopped in 12 s. The temp database goes too.
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
        "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").ok().map(|s| s.trim().to_owned()),
    })
}
