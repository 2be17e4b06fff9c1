//! The command line: what to run (`--scenarios`, `--backend`, `--base`), how hard and how
//! long, and the open-loop rates.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::backend::BackendChoice;
use crate::scenarios::{OpenLoop, OpenRate};

#[derive(Parser, Debug)]
#[command(
    name = "tasklane-bench",
    about = "Load and memory benchmark for tasklane, over loopback only",
    after_help = "The two cores: by default the server is pinned to CPU 0 and this load \
generator to CPU 1 (taskset), so neither steals the other's core and the figures are \
the server's on one core. `--server-cpus all --client-cpus all` lets both float. Each \
scenario's notes give the CPU the server, the client and other processes used.\n\n\
Open loop: the HTTP scenarios (healthz, list, project-list, create, project-create, \
login) run closed-loop, each connection sending its next request when the previous \
answer arrives; a slow server is then simply sent less, and the percentiles leave out the requests that would have \
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
Shared projects: project-list lists as a member of --list-projects projects of \
--project-tasks tasks each; project-create creates in a project of --project-members \
members while each listens on a WebSocket, and fails (exit status 2) unless every \
member hears every create exactly once.\n\n\
List shapes (`--only list-shapes`, not in the default set): two listers, of 50 tasks and \
of --list-tasks, seeded in seconds (--seed), each list shape (filters, orderings, \
searches, a deep page through Link and by offset) run at both sizes with limit=50, and \
the large size's rate over the small one's against issue 25's targets (≥ 0.8 ×; \
searches ≥ 0.5 × the plain list at 50). The server gets --list-cache-mb 0 unless told.\n\n\
Exit status: 0 done, 1 could not run, 2 the fan-out or project-create lost or \
duplicated events."
)]
pub(crate) struct Args {
    /// Target an already-running server (loopback only), e.g. `http://127.0.0.1:8000`,
    /// instead of starting one. It must allow ~150 registrations from 127.0.0.1
    /// (`--registrations-per-address`), issue access tokens that outlive the run, and
    /// allow ~100 streams per user (`--max-streams-per-user`) for the idle sockets.
    #[arg(long)]
    pub(crate) base: Option<String>,

    /// With `--base`: the server's pid, to read its memory from /proc.
    #[arg(long, requires = "base")]
    pub(crate) server_pid: Option<u32>,

    /// The server binary to start (build it with `cargo build --release`).
    #[arg(long, default_value = "target/release/tasklane")]
    pub(crate) server_bin: PathBuf,

    /// CPUs the started server is pinned to (a `taskset -c` list), or `all`.
    #[arg(long, default_value = "0")]
    pub(crate) server_cpus: String,

    /// CPUs this load generator is pinned to (a `taskset -c` list), or `all`.
    #[arg(long, default_value = "1")]
    pub(crate) client_cpus: String,

    /// Scenarios to run, comma-separated (they always run in the listed order).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "healthz,list,project-list,create,project-create,login,fanout,idle"
    )]
    pub(crate) only: Vec<Scenario>,

    /// `--list-cache-mb` for the started server (memory for rendered list pages, 0: off).
    /// Unset: the server's default, except that a run with `list-shapes` passes 0.
    #[arg(long, value_name = "MB")]
    pub(crate) list_cache_mb: Option<u32>,

    /// Measured time of each load scenario (and of the fan-out writes).
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub(crate) duration: Duration,

    /// Unmeasured warm-up before each load scenario.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub(crate) warmup: Duration,

    /// Keep-alive connections of the healthz, list and create scenarios.
    #[arg(long, default_value_t = 64)]
    pub(crate) connections: usize,

    /// Also run each HTTP scenario (healthz, list, create, login) open-loop after its
    /// closed loop, at FRACTION × the closed-loop throughput just measured (e.g. 0.7; above
    /// 1 overloads the server on purpose). See "Open loop" below.
    #[arg(long, value_name = "FRACTION", value_parser = parse_fraction)]
    pub(crate) open_loop: Option<f64>,

    /// Open-loop runs at fixed total rates (req/s) instead, e.g. `list=8000,create=5000`:
    /// these scenarios run open-loop at that rate, with or without `--open-loop` (which
    /// still sets the others').
    #[arg(long, value_name = "SCENARIO=RATE", value_delimiter = ',', value_parser = parse_rate)]
    pub(crate) open_loop_rate: Vec<(Scenario, f64)>,

    /// Open loop: how long requests in flight when the window ends may still take. Those
    /// unanswered then count as errors (timeouts).
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pub(crate) open_loop_drain: Duration,

    /// Connections of the login scenario. Each login in flight holds a 19 MiB argon2id
    /// buffer on the server, so this is kept lower.
    #[arg(long, default_value_t = 16)]
    pub(crate) login_connections: usize,

    /// Tasks of the user whose list is fetched (`list`, created through the API), and the
    /// large size of `list-shapes` (seeded, see `--seed`), which also runs each shape at
    /// 50 tasks.
    #[arg(long, default_value_t = 50)]
    pub(crate) list_tasks: usize,

    /// list-shapes: the lister's tasks are personal, or spread over `--list-projects`
    /// projects it owns.
    #[arg(long, value_enum, default_value_t = Spread::Personal)]
    pub(crate) list_spread: Spread,

    /// list-shapes: how its tasks are made. `sql`: plain INSERTs into the started server's
    /// database (SQLite file or PostgreSQL) while it runs, before anyone lists them;
    /// `api`: POST /api/tasks/ over `--connections` connections (the only way with
    /// `--base`). Unset: `sql` on a started server, `api` with `--base`.
    #[arg(long, value_enum)]
    pub(crate) seed: Option<SeedVia>,

    /// list-shapes: the deep page, reached by following `Link: rel="next"` from the first
    /// (or the last page, when there are fewer, or the page reached after 60 s of
    /// following); compared with the same page by `offset`.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(2..=100_000))]
    pub(crate) deep_page: u64,

    /// soak: how many rounds of `--duration` each (not in the default set): one user's
    /// 9 lists to 1 create, closed loop, its tasks growing round after round.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub(crate) soak_rounds: u32,

    /// project-create: members of the one project (its owner and editors), each on a
    /// WebSocket, the creates spread over them (at most the server's
    /// `--max-project-members`, 100 by default).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u16).range(1..=100))]
    pub(crate) project_members: u16,

    /// project-list: projects the lister is a member of.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=100))]
    pub(crate) list_projects: u16,

    /// project-list: tasks in each of those projects.
    #[arg(long, default_value_t = 200)]
    pub(crate) project_tasks: usize,

    /// project-list: members of each project (the lister included), who own the
    /// projects in turn and create their tasks in turn.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=100))]
    pub(crate) project_list_members: u16,

    /// WebSocket subscribers of the fan-out scenario.
    #[arg(long, default_value_t = 1000)]
    pub(crate) subscribers: usize,

    /// Users the subscribers (and the idle sockets) are spread over.
    #[arg(long, default_value_t = 100)]
    pub(crate) subscriber_users: usize,

    /// Writes per second, in total, during the fan-out scenario.
    #[arg(long, default_value_t = 1000.0)]
    pub(crate) fanout_rate: f64,

    /// Connections issuing the fan-out writes.
    #[arg(long, default_value_t = 16)]
    pub(crate) fanout_writers: usize,

    /// Idle authenticated WebSockets to hold for the memory reading.
    #[arg(long, default_value_t = 10_000)]
    pub(crate) idle_sockets: usize,

    /// WebSocket handshakes in flight at once.
    #[arg(long, default_value_t = 200)]
    pub(crate) connect_concurrency: usize,

    /// Also write the JSON summary to this file.
    #[arg(long)]
    pub(crate) json: Option<PathBuf>,

    /// Give up (and stop the server) after this long, per backend. Default: 180 s, plus
    /// the time `list-shapes` needs when it runs (its shapes × 2 sizes × warm-up +
    /// duration, and 5 min for its set-up), plus the soak's rounds when it runs.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub(crate) max_time: Option<Duration>,

    /// The database of the started server: `sqlite` (a temporary file), `postgres` (a
    /// fresh database on `--postgres-url`, dropped afterwards) or `both` (every selected
    /// scenario on SQLite, then on PostgreSQL, each on a fresh server; one table with
    /// PostgreSQL's throughput over SQLite's). Both durable: SQLite `--synchronous full`,
    /// PostgreSQL `synchronous_commit=on`.
    #[arg(long, value_enum, default_value_t = BackendChoice::Sqlite)]
    pub(crate) backend: BackendChoice,

    /// PostgreSQL to benchmark on (plain TCP): through this URL the harness creates
    /// `tasklane_bench_<random hex>`, serves that, and drops it afterwards (`WITH
    /// (FORCE)`, also after an error or Ctrl-C). Its password is never printed.
    #[arg(
        long,
        env = "TASKLANE_BENCH_POSTGRES_URL",
        hide_env_values = true,
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pub(crate) postgres_url: String,
}

/// list-shapes: where the lister's tasks live.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Spread {
    /// All personal.
    Personal,
    /// Over `--list-projects` projects the lister owns, in turn.
    Projects,
}

/// list-shapes: how its tasks are made.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SeedVia {
    Sql,
    Api,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scenario {
    Healthz,
    List,
    ListShapes,
    ProjectList,
    Create,
    ProjectCreate,
    Login,
    Fanout,
    Idle,
    Soak,
}

impl Scenario {
    /// The HTTP load scenarios, which can run open-loop.
    pub(crate) fn is_http(self) -> bool {
        matches!(
            self,
            Scenario::Healthz
                | Scenario::List
                | Scenario::ProjectList
                | Scenario::Create
                | Scenario::ProjectCreate
                | Scenario::Login
        )
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Scenario::Healthz => "healthz",
            Scenario::List => "list",
            Scenario::ListShapes => "list-shapes",
            Scenario::ProjectList => "project-list",
            Scenario::Create => "create",
            Scenario::ProjectCreate => "project-create",
            Scenario::Login => "login",
            Scenario::Fanout => "fanout",
            Scenario::Idle => "idle",
            Scenario::Soak => "soak",
        }
    }
}

impl Args {
    /// Extra `serve` options for a started server.
    pub(crate) fn serve_options(&self) -> Vec<String> {
        let cache = match self.list_cache_mb {
            Some(mb) => Some(mb),
            None if self.only.contains(&Scenario::ListShapes) => Some(0),
            None => None,
        };
        cache
            .map(|mb| vec!["--list-cache-mb".to_owned(), mb.to_string()])
            .unwrap_or_default()
    }

    /// `--max-time`, or its default: 180 s, plus what `list-shapes` needs.
    pub(crate) fn max_time(&self) -> Duration {
        self.max_time.unwrap_or_else(|| {
            let mut t = Duration::from_secs(180);
            if self.only.contains(&Scenario::ListShapes) {
                let runs = 2 * crate::shapes::SHAPES as u32;
                t += (self.warmup + self.duration + Duration::from_secs(1)) * runs;
                t += Duration::from_secs(300);
            }
            if self.only.contains(&Scenario::Soak) {
                t += (self.duration + Duration::from_secs(1)) * self.soak_rounds + self.warmup;
            }
            t
        })
    }

    /// The open-loop run of scenario `s`, if any: a fixed rate, else the fraction.
    pub(crate) fn open_loop_of(&self, s: Scenario) -> Option<OpenLoop> {
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

pub(crate) fn parse_fraction(s: &str) -> Result<f64, String> {
    let f: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if f.is_finite() && f > 0.0 && f <= 10.0 {
        Ok(f)
    } else {
        Err("a fraction above 0, at most 10".into())
    }
}

pub(crate) fn parse_rate(s: &str) -> Result<(Scenario, f64), String> {
    let (name, rate) = s
        .split_once('=')
        .ok_or("expected SCENARIO=RATE, e.g. list=8000")?;
    let scenario = Scenario::from_str(name.trim(), true)?;
    if !scenario.is_http() {
        return Err(format!(
            "{name} is not an HTTP scenario (healthz, list, project-list, create, project-create, login)"
        ));
    }
    let rate: f64 = rate.trim().parse().map_err(|e| format!("{rate}: {e}"))?;
    if !(rate.is_finite() && rate > 0.0 && rate <= 1e7) {
        return Err(format!("{rate}: a rate above 0, at most 10^7 req/s"));
    }
    Ok((scenario, rate))
}
