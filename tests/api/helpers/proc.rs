//! The built binary as a process: servers (`tasklane serve`) on a file or a database URL,
//! and commands (`tasklane user …`, `backup`, …) run to completion; also the Django venv's
//! python the import tests drive.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use super::*;

/// A running `tasklane` binary.
pub struct Proc {
    pub child: Child,
    pub addr: SocketAddr,
    log: Arc<Mutex<String>>,
    /// Its database, on PostgreSQL: kept while the process runs.
    _pg: Option<Arc<PgDatabase>>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

pub fn spawn_tasklane(db: &Path, extra: &[&str]) -> Proc {
    spawn_tasklane_in(Command::new(env!("CARGO_BIN_EXE_tasklane")), db, extra)
}

/// Like [`spawn_tasklane`], with the process's umask set to `umask` first.
pub fn spawn_tasklane_with_umask(db: &Path, extra: &[&str], umask: &str) -> Proc {
    let mut sh = Command::new("sh");
    sh.args(["-c", &format!("umask {umask} && exec \"$@\""), "sh"])
        .arg(env!("CARGO_BIN_EXE_tasklane"));
    spawn_tasklane_in(sh, db, extra)
}

/// Runs `cmd` (the binary, or a wrapper that execs it) with the server's arguments: on
/// the SQLite file `db`, or on PostgreSQL, the database standing for it.
fn spawn_tasklane_in(mut cmd: Command, db: &Path, extra: &[&str]) -> Proc {
    let pg = pg_for_path(db);
    cmd.args(["serve", "--bind", "127.0.0.1:0", "--log", "info"]);
    match &pg {
        Some(pg) => cmd.args(["--database-url", &pg.url]),
        None => cmd.arg("--db").arg(db),
    };
    run_server(cmd, pg, extra)
}

/// Starts `cmd` (`serve` and its database flag given) with the tests' flags and `extra`,
/// and waits for it to listen.
fn run_server(mut cmd: Command, pg: Option<Arc<PgDatabase>>, extra: &[&str]) -> Proc {
    cmd.args(["--jwt-secret", TEST_SECRET])
        .args(["--registrations-per-address", "100000"])
        .args(extra);
    run_command(cmd, pg)
}

/// Starts `cmd` (a whole `tasklane serve …` command line, none of the tests' defaults
/// added) with no `TASKLANE_*` database or Redis variables, and waits for it to listen.
pub fn run_command(mut cmd: Command, pg: Option<Arc<PgDatabase>>) -> Proc {
    let mut child = cmd
        .env_remove("TASKLANE_REDIS_URL")
        .env_remove("TASKLANE_DB")
        .env_remove("TASKLANE_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tasklane");
    let stderr = child.stderr.take().expect("stderr");
    let log = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    {
        let log = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                // Logged before the address is announced, so the log the caller reads
                // once started always holds the "listening" line.
                {
                    let mut l = log.lock().unwrap();
                    l.push_str(&line);
                    l.push('\n');
                }
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let addr = rest
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned();
                    let _ = tx.send(addr);
                }
            }
        });
    }
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("tasklane did not start")
        .parse()
        .expect("address");
    Proc {
        child,
        addr,
        log,
        _pg: pg,
    }
}

/// Runs the binary on the SQLite file `db`, whatever database the suite runs on.
pub fn spawn_tasklane_on_file(db: &Path, extra: &[&str]) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tasklane"));
    cmd.args(["serve", "--bind", "127.0.0.1:0", "--log", "info"])
        .arg("--db")
        .arg(db);
    run_server(cmd, None, extra)
}

/// Runs the binary on the PostgreSQL database at `url`.
pub fn spawn_tasklane_on_url(url: &str, extra: &[&str]) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tasklane"));
    cmd.args(["serve", "--bind", "127.0.0.1:0", "--log", "info"])
        .args(["--database-url", url]);
    run_server(cmd, None, extra)
}

/// Registers `name` through `p` and logs in: the access token.
pub async fn user_on(client: &reqwest::Client, p: &Proc, name: &str) -> String {
    let r = client
        .post(p.url("/api/register/"))
        .json(&json!({"username": name, "email": format!("{name}@example.com"), "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let r: Value = client
        .post(p.url("/api/token/"))
        .json(&json!({"username": name, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["access"].as_str().unwrap().to_owned()
}

/// The python of a venv with the original's Django stack (`scripts/django-venv.sh`):
/// `TASKLANE_DJANGO_PYTHON`, else `target/django-venv/bin/python`. None (skip, loudly)
/// when there is none, unless `REQUIRE_DJANGO=1` (CI), where it fails.
pub fn django_python() -> Option<PathBuf> {
    let python = std::env::var_os("TASKLANE_DJANGO_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/django-venv/bin/python")
        });
    if python.exists() {
        return Some(python);
    }
    let why = format!(
        "no Django venv at {} (run scripts/django-venv.sh)",
        python.display()
    );
    if std::env::var("REQUIRE_DJANGO").as_deref() == Ok("1") {
        panic!("{why}, and REQUIRE_DJANGO=1");
    }
    eprintln!("\n*** SKIPPED: {why}; REQUIRE_DJANGO=1 makes this fail ***\n");
    None
}

/// What a run of the binary printed and how it exited.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(&self) -> &Self {
        assert_eq!(self.code, Some(0), "{self:#?}");
        self
    }

    pub fn failed(&self) -> &Self {
        assert_eq!(self.code, Some(1), "{self:#?}");
        self
    }
}

/// Runs `tasklane ARGS` with `stdin` (closed when `None`), no `TASKLANE_*` variables (nor
/// libpq's `PGPASSWORD` and `PGPASSFILE`).
pub async fn tasklane(args: &[&str], stdin: Option<&str>) -> Run {
    tasklane_env(args, &[], stdin).await
}

/// [`tasklane`] with the environment variables `env` set.
pub async fn tasklane_env(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Run {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_tasklane"));
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("TASKLANE_") {
            cmd.env_remove(k);
        }
    }
    cmd.env_remove("PGPASSWORD").env_remove("PGPASSFILE");
    cmd.envs(env.iter().copied());

    let mut child = cmd.spawn().expect("spawn tasklane");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin");
        pipe.write_all(input.as_bytes()).await.expect("write stdin");
        drop(pipe);
    }
    let out = tokio::time::timeout(std::time::Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("tasklane finished in time")
        .expect("tasklane output");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `tasklane user ARGS --db <the app's database>` (or `--database-url`).
pub async fn user(app: &TestApp, args: &[&str], stdin: Option<&str>) -> Run {
    let db = app.db_flags();
    let mut all = vec!["user"];
    all.extend_from_slice(args);
    all.extend(db.iter().map(String::as_str));
    tasklane(&all, stdin).await
}
