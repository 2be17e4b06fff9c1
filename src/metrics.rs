//! Prometheus metrics: requests by route and status with latency histograms, open
//! streams, events published and delivered, the Redis bridge, the database pool, the
//! writer's commits, and what held writes up (the longest job, account purges, creates
//! retried behind a locked row).
//! Served at `/metrics` when `--metrics` (on the main address) or `--metrics-bind`
//! (a separate, private address) is given.

use poem::http;
use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec,
    Opts, Registry, TextEncoder,
};

use crate::store::purge::StallStats;

pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub latency: HistogramVec,
    pub open_streams: IntGaugeVec,
    pub events_published: IntCounter,
    pub events_delivered: IntCounter,
    redis_connected: IntGauge,
    pool_connections: IntGaugeVec,
    db_commits: IntCounter,
    db_writes: IntCounter,
    db_longest_job: Gauge,
    db_purge_jobs: IntCounter,
    accounts_purged: IntCounter,
    db_create_lock_retries: IntCounter,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry =
            Registry::new_custom(Some("tasklane".into()), None).unwrap_or_else(|_| Registry::new());
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by route, method and status.",
            ),
            &["route", "method", "status"],
        )
        .expect("static metric definition");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time from request to response head, by route and method.",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
            &["route", "method"],
        )
        .expect("static metric definition");
        let open_streams = IntGaugeVec::new(
            Opts::new(
                "open_streams",
                "Open event streams by kind (websocket, sse).",
            ),
            &["kind"],
        )
        .expect("static metric definition");
        let events_published = IntCounter::new(
            "events_published_total",
            "Task events committed and published by this process.",
        )
        .expect("static metric definition");
        let events_delivered = IntCounter::new(
            "events_delivered_total",
            "Stream messages sent to clients by this process.",
        )
        .expect("static metric definition");
        let redis_connected = IntGauge::new(
            "redis_connected",
            "1 when the Redis bridge is connected, 0 when degraded, -1 when disabled.",
        )
        .expect("static metric definition");
        let pool_connections = IntGaugeVec::new(
            Opts::new(
                "db_pool_connections",
                "Database pool connections by state (SQLite readers or PostgreSQL connections).",
            ),
            &["state"],
        )
        .expect("static metric definition");
        let db_commits = IntCounter::new(
            "db_commits_total",
            "Write transactions committed (each one sync with --synchronous full).",
        )
        .expect("static metric definition");
        let db_writes = IntCounter::new(
            "db_writes_total",
            "Writes committed; over db_commits_total, the mean group-commit batch.",
        )
        .expect("static metric definition");
        let db_longest_job = Gauge::new(
            "db_longest_job_seconds",
            "The longest single write job since start: on SQLite, on the one writer (every \
             other write waits behind it); on PostgreSQL, the longest account-purge transaction.",
        )
        .expect("static metric definition");
        let db_purge_jobs = IntCounter::new(
            "db_purge_jobs_total",
            "Short jobs run to purge deleted accounts' rows.",
        )
        .expect("static metric definition");
        let accounts_purged = IntCounter::new(
            "accounts_purged_total",
            "Deleted accounts whose rows are all purged.",
        )
        .expect("static metric definition");
        let db_create_lock_retries = IntCounter::new(
            "db_create_lock_retries_total",
            "PostgreSQL: task creates tried again because another transaction held their \
             owner's row.",
        )
        .expect("static metric definition");
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(open_streams.clone()),
            Box::new(events_published.clone()),
            Box::new(events_delivered.clone()),
            Box::new(redis_connected.clone()),
            Box::new(pool_connections.clone()),
            Box::new(db_commits.clone()),
            Box::new(db_writes.clone()),
            Box::new(db_longest_job.clone()),
            Box::new(db_purge_jobs.clone()),
            Box::new(accounts_purged.clone()),
            Box::new(db_create_lock_retries.clone()),
        ] {
            let _ = registry.register(c);
        }
        Metrics {
            registry,
            requests,
            latency,
            open_streams,
            events_published,
            events_delivered,
            redis_connected,
            pool_connections,
            db_commits,
            db_writes,
            db_longest_job,
            db_purge_jobs,
            accounts_purged,
            db_create_lock_retries,
        }
    }

    /// The text exposition, with the gauges read fresh.
    pub fn render(
        &self,
        redis: Option<bool>,
        pool: (u32, u32),
        writes: (u64, u64),
        stalls: StallStats,
    ) -> String {
        self.redis_connected.set(match redis {
            None => -1,
            Some(true) => 1,
            Some(false) => 0,
        });
        let (connections, idle) = pool;
        self.pool_connections
            .with_label_values(&["idle"])
            .set(i64::from(idle));
        self.pool_connections
            .with_label_values(&["in_use"])
            .set(i64::from(connections.saturating_sub(idle)));
        let (commits, written) = writes;
        self.db_commits
            .inc_by(commits.saturating_sub(self.db_commits.get()));
        self.db_writes
            .inc_by(written.saturating_sub(self.db_writes.get()));
        self.db_longest_job.set(stalls.longest_job.as_secs_f64());
        for (counter, value) in [
            (&self.db_purge_jobs, stalls.purge_jobs),
            (&self.accounts_purged, stalls.accounts_purged),
            (&self.db_create_lock_retries, stalls.create_lock_retries),
        ] {
            counter.inc_by(value.saturating_sub(counter.get()));
        }
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

/// The `method` label: a standard method's name, or `OTHER`, so that made-up methods
/// (`FOO123`) cannot grow the label set. (The `route` label is a route template or
/// `other`, and `status` a three-digit code: every label is bounded.)
pub fn method_label(method: &http::Method) -> &'static str {
    use http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "OTHER",
    }
}

/// Counts an open stream while it lives.
pub struct StreamGuard(IntGauge);

impl StreamGuard {
    pub fn new(metrics: &Metrics, kind: &str) -> StreamGuard {
        let g = metrics.open_streams.with_label_values(&[kind]);
        g.inc();
        StreamGuard(g)
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}
