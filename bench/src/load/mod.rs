//! The load generators: N persistent HTTP/1.1 connections to one target, a warm-up and
//! then a measured window, in one of two modes.
//!
//! # Closed loop (`run`, the default)
//!
//! Each connection sends its next request as soon as the previous answer is read. The
//! figures are the server's throughput at N requests in flight, and the latency of each
//! request from the moment it was actually sent. When the server stalls, the connections
//! stall with it and simply send less: the requests that *would* have arrived meanwhile
//! are never sent, so the stall shows in one slow sample per connection rather than in
//! every request that had to wait ("coordinated omission"). The percentiles are those of
//! the service time at a fixed concurrency, not of a user's experience at a given load.
//!
//! # Open loop (`run_open`)
//!
//! Requests arrive on a timetable that does not depend on the server: request `k` (from
//! 0, warm-up included) is *intended* at `start + k / R` for a total rate of `R` req/s
//! ([`Schedule`], in whole nanoseconds so the arithmetic is exact). The N connections are
//! a pool serving one FIFO queue of arrivals:
//!
//! - A pacer thread releases one semaphore permit per request when its intended time
//!   comes. It is an OS thread with `std::thread::sleep` rather than a tokio timer,
//!   because tokio's timers fire on whole milliseconds and would add up to 1 ms of
//!   generator lag to every figure; the pacer releases requests typically ~0.1 ms
//!   late ([`PACER_TICK`] plus the kernel's timer slack; more when the client's core
//!   is busy).
//! - A free connection takes a permit, then the next request number from a shared
//!   counter, and sends it (one in flight per connection: at most N in flight in all).
//!   A request never leaves before its intended time; when every connection is busy,
//!   due requests queue, and the next free connection takes the oldest. (A timetable
//!   per connection would leave a slow connection's requests waiting while others
//!   sit idle; one shared queue is what clients behind a connection pool see.)
//! - Latency is measured **from the intended time** to the end of the answer, so time
//!   spent queued behind a slow server counts: if the server can't keep up, the backlog
//!   grows and the latency with it. `send_delay` (actual send − intended) is reported
//!   too, to tell the queueing (and the generator's own lag) from the server's time.
//!
//! Measured are the requests *intended* inside the window `[start + warm-up, start +
//! warm-up + duration)`, whenever they are sent or answered. Everything is bounded:
//! once the window has ended, a request still waiting for a connection is not sent
//! (only one the pacer releases late to an idle connection still is, within
//! [`PACER_ALLOWANCE`]), and the ones in flight get `drain` more to answer. Each
//! measured request ends as exactly one of:
//!
//! - `ok`: answered with the expected status before the drain's end (its latency is
//!   recorded);
//! - `errors`: another status, or a transport error;
//! - `timeouts`: sent, but unanswered when the drain ended;
//! - `late`: never sent, because the window ended while it waited for a free
//!   connection (the server's backlog, not the generator's lag).
//!
//! so `intended = ok + errors + timeouts + late`, and a run lasts at most warm-up +
//! duration + drain. The percentiles cover the `ok` answers only: when many requests
//! are late or timed out, they are lower bounds, and the report says so.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use hdrhistogram::Histogram;
use hyper::StatusCode;
use tokio::sync::{Semaphore, TryAcquireError};
use tokio::time::Instant;

use crate::http::{Conn, Req, excerpt};

/// Builds the request a connection sends next: `(connection index, sequence number)`.
pub type MakeReq = Arc<dyn Fn(usize, u64) -> Req + Send + Sync>;

#[derive(Clone, Copy, Debug)]
pub struct Plan {
    pub connections: usize,
    pub warmup: Duration,
    pub duration: Duration,
    /// The status a successful answer has.
    pub expect: StatusCode,
}

/// What one run measured.
pub struct Outcome {
    /// Successful requests started inside the measured window.
    pub requests: u64,
    /// Failed requests (wrong status, transport error, time-out), warm-up included.
    pub errors: u64,
    pub first_error: Option<String>,
    /// Latency of the measured successful requests, microseconds.
    pub latency: Histogram<u64>,
    pub window: Duration,
}

impl Outcome {
    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.window.as_secs_f64()
    }
}

/// A latency histogram in microseconds, 1 µs to 60 s, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

pub async fn run(addr: SocketAddr, plan: Plan, make: MakeReq) -> Outcome {
    let start = Instant::now();
    let measure_from = start + plan.warmup;
    let until = measure_from + plan.duration;
    let workers: Vec<_> = (0..plan.connections)
        .map(|c| {
            let make = make.clone();
            tokio::spawn(worker(addr, c, plan.expect, measure_from, until, make))
        })
        .collect();
    let mut out = Outcome {
        requests: 0,
        errors: 0,
        first_error: None,
        latency: histogram(),
        window: plan.duration,
    };
    for w in workers {
        match w.await {
            Ok(r) => {
                out.requests += r.requests;
                out.errors += r.errors;
                out.first_error = out.first_error.or(r.first_error);
                // Same bounds on both sides, so adding cannot fail.
                let _ = out.latency.add(&r.latency);
            }
            Err(e) => {
                out.errors += 1;
                out.first_error
                    .get_or_insert_with(|| format!("worker failed: {e}"));
            }
        }
    }
    out
}

struct WorkerOutcome {
    requests: u64,
    errors: u64,
    first_error: Option<String>,
    latency: Histogram<u64>,
}

async fn worker(
    addr: SocketAddr,
    index: usize,
    expect: StatusCode,
    measure_from: Instant,
    until: Instant,
    make: MakeReq,
) -> WorkerOutcome {
    let mut conn = Conn::new(addr);
    let mut out = WorkerOutcome {
        requests: 0,
        errors: 0,
        first_error: None,
        latency: histogram(),
    };
    let mut seq = 0u64;
    loop {
        let sent = Instant::now();
        if sent >= until {
            return out;
        }
        let req = make(index, seq);
        seq += 1;
        let result = conn.send(&req).await;
        let took = sent.elapsed();
        match result {
            Ok((status, _)) if status == expect => {
                if sent >= measure_from {
                    out.requests += 1;
                    out.latency.saturating_record(took.as_micros() as u64);
                }
            }
            Ok((status, body)) => {
                out.errors += 1;
                out.first_error
                    .get_or_insert_with(|| format!("{status} {}", excerpt(&body)));
            }
            Err(e) => {
                out.errors += 1;
                out.first_error.get_or_insert_with(|| format!("{e:#}"));
                // Don't spin on a refused connection.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Open loop

/// The pacer sleeps at least this long between two releases; requests that fall due
/// meanwhile are released together.
pub const PACER_TICK: Duration = Duration::from_micros(50);

/// How late after the window's end the pacer may release its last requests (it runs
/// [`PACER_TICK`] and the kernel's timer slack behind, more when the client's core is
/// busy): a connection that is idle then still sends them, as they did not wait for it.
pub const PACER_ALLOWANCE: Duration = Duration::from_millis(20);

/// What an open-loop run adds to its [`Plan`].
#[derive(Clone, Copy, Debug)]
pub struct Open {
    /// Requests per second, in total over the connections.
    pub rate: f64,
    /// How long the requests in flight when the window ends may still take to answer.
    pub drain: Duration,
}

/// The open-loop timetable: request `k` is intended `k × period` after the start, the
/// period being `1 / rate` rounded to whole nanoseconds (so `k` ↔ time is exact).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    period_ns: u64,
    warmup_ns: u64,
    until_ns: u64,
}

impl Schedule {
    /// `None` unless `rate` (req/s) is finite, positive and at most one per nanosecond.
    pub fn new(rate: f64, warmup: Duration, duration: Duration) -> Option<Schedule> {
        if !(rate.is_finite() && rate > 0.0 && rate <= 1e9) {
            return None;
        }
        let period = (1e9 / rate).round();
        if !(1.0..=1e18).contains(&period) {
            return None;
        }
        let warmup_ns = nanos(warmup);
        Some(Schedule {
            period_ns: period as u64,
            warmup_ns,
            until_ns: warmup_ns.saturating_add(nanos(duration)),
        })
    }

    /// The rate the timetable really runs at (the period is rounded).
    pub fn rate(&self) -> f64 {
        1e9 / self.period_ns as f64
    }

    /// When request `k` is intended, from the start.
    pub fn offset(&self, k: u64) -> Duration {
        Duration::from_nanos(k.saturating_mul(self.period_ns))
    }

    /// The end of the measured window (of warm-up and duration), from the start.
    pub fn until(&self) -> Duration {
        Duration::from_nanos(self.until_ns)
    }

    /// The first measured request: the first intended at or after the warm-up's end.
    pub fn first_measured(&self) -> u64 {
        self.warmup_ns.div_ceil(self.period_ns)
    }

    /// One past the last request: the first that would be intended at or after the
    /// window's end. There are no requests from here on.
    pub fn end(&self) -> u64 {
        self.until_ns.div_ceil(self.period_ns)
    }

    /// How many requests the measured window holds.
    pub fn measured(&self) -> u64 {
        self.end() - self.first_measured()
    }

    pub fn is_measured(&self, k: u64) -> bool {
        (self.first_measured()..self.end()).contains(&k)
    }

    /// How many requests are due `elapsed` after the start: those intended at or before
    /// it (request 0 is due at once), never more than [`Schedule::end`].
    pub fn due(&self, elapsed: Duration) -> u64 {
        (nanos(elapsed) / self.period_ns)
            .saturating_add(1)
            .min(self.end())
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// What one open-loop run measured. Counts are of the requests intended inside the
/// measured window: `intended = ok + errors + timeouts + late`.
pub struct OpenOutcome {
    pub schedule: Schedule,
    pub drain: Duration,
    pub intended: u64,
    /// Answered with the expected status.
    pub ok: u64,
    /// Answered with another status, or a transport error.
    pub errors: u64,
    /// Sent, but not answered by the drain's end.
    pub timeouts: u64,
    /// Never sent: the window ended while they waited for a free connection.
    pub late: u64,
    /// Failures of warm-up requests (not in the counts above).
    pub warmup_errors: u64,
    pub first_error: Option<String>,
    /// Intended time → answer read, of the `ok` requests, microseconds.
    pub latency: Histogram<u64>,
    /// Intended time → actually sent, of every sent request, microseconds.
    pub send_delay: Histogram<u64>,
}

impl OpenOutcome {
    fn new(schedule: Schedule, drain: Duration, tally: Tally) -> OpenOutcome {
        let intended = schedule.measured();
        OpenOutcome {
            schedule,
            drain,
            intended,
            ok: tally.ok,
            errors: tally.errors,
            timeouts: tally.timeouts,
            // Every measured request that was sent is one of ok, errors or timeouts.
            late: intended.saturating_sub(tally.sent),
            warmup_errors: tally.warmup_errors,
            first_error: tally.first_error,
            latency: tally.latency,
            send_delay: tally.send_delay,
        }
    }

    pub fn window(&self) -> Duration {
        self.schedule.until() - Duration::from_nanos(self.schedule.warmup_ns)
    }

    /// Requests answered `ok` per second of the window.
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.window().as_secs_f64()
    }
}

/// How a sent request ended.
#[derive(Debug)]
enum Fate {
    Ok,
    Failed(String),
    /// No answer by the drain's end.
    TimedOut,
}

/// One connection's counts (or the sum of all).
struct Tally {
    /// Measured requests sent.
    sent: u64,
    ok: u64,
    errors: u64,
    timeouts: u64,
    warmup_errors: u64,
    first_error: Option<String>,
    latency: Histogram<u64>,
    send_delay: Histogram<u64>,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            sent: 0,
            ok: 0,
            errors: 0,
            timeouts: 0,
            warmup_errors: 0,
            first_error: None,
            latency: histogram(),
            send_delay: histogram(),
        }
    }

    /// Counts request `k`, intended at `intended`, sent at `sent` and ended at `done`.
    fn record(
        &mut self,
        schedule: &Schedule,
        k: u64,
        (intended, sent, done): (Instant, Instant, Instant),
        fate: Fate,
    ) {
        match &fate {
            Fate::Ok => {}
            Fate::Failed(e) => {
                self.first_error.get_or_insert_with(|| e.clone());
            }
            Fate::TimedOut => {
                self.first_error
                    .get_or_insert_with(|| "no answer by the end of the drain".to_owned());
            }
        }
        if !schedule.is_measured(k) {
            if !matches!(fate, Fate::Ok) {
                self.warmup_errors += 1;
            }
            return;
        }
        self.sent += 1;
        self.send_delay
            .saturating_record(micros(sent.saturating_duration_since(intended)));
        match fate {
            Fate::Ok => {
                self.ok += 1;
                self.latency
                    .saturating_record(micros(done.saturating_duration_since(intended)));
            }
            Fate::Failed(_) => self.errors += 1,
            Fate::TimedOut => self.timeouts += 1,
        }
    }

    fn add(&mut self, other: Tally) {
        self.sent += other.sent;
        self.ok += other.ok;
        self.errors += other.errors;
        self.timeouts += other.timeouts;
        self.warmup_errors += other.warmup_errors;
        self.first_error = self.first_error.take().or(other.first_error);
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.latency.add(&other.latency);
        let _ = self.send_delay.add(&other.send_delay);
    }
}

/// What the connections of an open-loop run share.
struct Timetable {
    schedule: Schedule,
    start: Instant,
    /// The window's end: nothing is sent from here on.
    until: Instant,
    /// `until` + the drain: requests unanswered then are timeouts.
    deadline: Instant,
    /// One permit per request that has fallen due (released by the pacer).
    permits: Arc<Semaphore>,
    /// The next request number to send.
    next: AtomicU64,
    expect: StatusCode,
}

/// Runs `plan` open-loop at `open.rate`. Returns after at most warm-up + duration +
/// drain (and the time to join the connection tasks).
pub async fn run_open(
    addr: SocketAddr,
    plan: Plan,
    open: Open,
    make: MakeReq,
) -> anyhow::Result<OpenOutcome> {
    let schedule = Schedule::new(open.rate, plan.warmup, plan.duration)
        .ok_or_else(|| anyhow::anyhow!("open-loop rate {} is out of range", open.rate))?;
    let permits = Arc::new(Semaphore::new(0));
    let started = std::time::Instant::now();
    let start = Instant::from_std(started);
    let until = start + schedule.until();
    let pacer_permits = Arc::downgrade(&permits);
    std::thread::Builder::new()
        .name("open-loop-pacer".into())
        .spawn(move || pace(schedule, started, &pacer_permits))?;
    let table = Arc::new(Timetable {
        schedule,
        start,
        until,
        deadline: until + open.drain,
        permits,
        next: AtomicU64::new(0),
        expect: plan.expect,
    });
    let workers: Vec<_> = (0..plan.connections.max(1))
        .map(|c| tokio::spawn(open_worker(addr, c, table.clone(), make.clone())))
        .collect();
    drop(table);
    let mut tally = Tally::new();
    for w in workers {
        match w.await {
            Ok(t) => tally.add(t),
            // Its sent requests then count as late: not hidden, if misfiled.
            Err(e) => {
                tally
                    .first_error
                    .get_or_insert_with(|| format!("worker failed: {e}"));
            }
        }
    }
    Ok(OpenOutcome::new(schedule, open.drain, tally))
}

/// Releases one permit per request as it falls due, until all are released or the run
/// is gone. A thread of its own, for sub-millisecond sleeps.
fn pace(schedule: Schedule, start: std::time::Instant, permits: &Weak<Semaphore>) {
    let end = schedule.end();
    let mut released = 0;
    while released < end {
        let Some(permits) = permits.upgrade() else {
            return;
        };
        let due = schedule.due(start.elapsed());
        if due > released {
            permits.add_permits((due - released) as usize);
            released = due;
        }
        drop(permits);
        if released < end {
            let wait = schedule.offset(released).saturating_sub(start.elapsed());
            std::thread::sleep(wait.max(PACER_TICK));
        }
    }
}

/// One connection of the pool: takes the oldest due request when free, until the window
/// ends.
async fn open_worker(addr: SocketAddr, index: usize, t: Arc<Timetable>, make: MakeReq) -> Tally {
    let mut conn = Conn::new(addr);
    let mut tally = Tally::new();
    let mut seq = 0u64;
    loop {
        // A request already released waited for this connection to come free; one
        // released while it waits found it idle.
        let queued = match t.permits.try_acquire() {
            Ok(permit) => {
                permit.forget();
                true
            }
            Err(TryAcquireError::NoPermits) => false,
            Err(TryAcquireError::Closed) => return tally,
        };
        if !queued {
            let released = t.permits.acquire();
            let give_up = (t.until + PACER_ALLOWANCE).min(t.deadline);
            match tokio::time::timeout_at(give_up, released).await {
                Ok(Ok(permit)) => permit.forget(),
                // The window ended (the semaphore is never closed).
                _ => return tally,
            }
        }
        // Never beyond the permits released, so this request is due.
        let k = t.next.fetch_add(1, Ordering::Relaxed);
        let intended = t.start + t.schedule.offset(k);
        let sent = Instant::now();
        if queued && sent >= t.until {
            // It waited for a connection until the window ended: late, as are those
            // still queued.
            return tally;
        }
        let req = make(index, seq);
        seq += 1;
        let result = tokio::time::timeout_at(t.deadline, conn.send(&req)).await;
        let done = Instant::now();
        let transport = matches!(result, Ok(Err(_)));
        let fate = match result {
            Ok(Ok((status, _))) if status == t.expect => Fate::Ok,
            Ok(Ok((status, body))) => Fate::Failed(format!("{status} {}", excerpt(&body))),
            Ok(Err(e)) => Fate::Failed(format!("{e:#}")),
            Err(_) => Fate::TimedOut,
        };
        let timed_out = matches!(fate, Fate::TimedOut);
        tally.record(&t.schedule, k, (intended, sent, done), fate);
        if timed_out {
            // Past the deadline: nothing more to send or wait for.
            return tally;
        }
        if transport {
            // Don't spin on a refused connection (the queue waits meanwhile).
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn the_window_holds_the_requests_intended_in_it() {
        let s = Schedule::new(1000.0, ms(1000), ms(3000)).unwrap();
        assert_eq!(s.offset(1500), ms(1500));
        assert_eq!(
            (s.first_measured(), s.end(), s.measured()),
            (1000, 4000, 3000)
        );
        assert!(!s.is_measured(999));
        assert!(s.is_measured(1000));
        assert!(s.is_measured(3999));
        assert!(!s.is_measured(4000));
    }

    #[test]
    fn window_bounds_hold_for_awkward_rates() {
        for rate in [0.5, 3.0, 7.0, 333.3, 41_234.5, 1e6] {
            for (w, d) in [(0, 100), (1000, 3000), (17, 5)] {
                let s = Schedule::new(rate, ms(w), ms(d)).unwrap();
                let (first, end) = (s.first_measured(), s.end());
                let what = format!("rate {rate}, warm-up {w} ms, duration {d} ms");
                // `first` is the first request intended at or after the warm-up's end,
                assert!(s.offset(first) >= ms(w), "{what}");
                assert!(first == 0 || s.offset(first - 1) < ms(w), "{what}");
                // and `end` the first at or after the window's end.
                assert!(s.offset(end) >= ms(w + d), "{what}");
                assert!(end == first || s.offset(end - 1) < ms(w + d), "{what}");
                let expect = d as f64 / 1000.0 * s.rate();
                assert!((s.measured() as f64 - expect).abs() <= 1.0, "{what}");
            }
        }
    }

    #[test]
    fn a_request_falls_due_exactly_at_its_intended_time() {
        // A period of 333,333,333 ns: the rounding must not shift a request by one.
        let s = Schedule::new(3.0, ms(0), ms(2000)).unwrap();
        assert_eq!(s.due(Duration::ZERO), 1);
        for k in 1..s.end() {
            assert_eq!(s.due(s.offset(k)), k + 1);
            assert_eq!(s.due(s.offset(k) - Duration::from_nanos(1)), k);
        }
        assert_eq!(s.due(Duration::from_secs(3600)), s.end());
    }

    #[test]
    fn out_of_range_rates_are_refused() {
        for rate in [0.0, -1.0, f64::NAN, f64::INFINITY, 2e9, 1e-10] {
            assert_eq!(Schedule::new(rate, ms(0), ms(1)), None, "rate {rate}");
        }
        assert!(Schedule::new(1e9, ms(0), ms(1)).is_some());
    }

    #[test]
    fn latency_counts_from_the_intended_time_and_unsent_requests_count_as_late() {
        // Requests 10..20 are measured.
        let s = Schedule::new(1000.0, ms(10), ms(10)).unwrap();
        let t0 = Instant::now();
        let at = |m: u64| t0 + ms(m);
        let mut tally = Tally::new();
        tally.record(&s, 3, (at(3), at(3), at(4)), Fate::Failed("500".into()));
        // Intended at 10 ms, queued until 15, answered at 16: 6 ms, not 1.
        tally.record(&s, 10, (at(10), at(15), at(16)), Fate::Ok);
        tally.record(&s, 11, (at(11), at(15), at(16)), Fate::Failed("503".into()));
        tally.record(&s, 12, (at(12), at(16), at(40)), Fate::TimedOut);
        let mut sum = Tally::new();
        sum.add(tally);
        let out = OpenOutcome::new(s, ms(5), sum);
        assert_eq!(out.intended, 10);
        let counts = (
            out.ok,
            out.errors,
            out.timeouts,
            out.late,
            out.warmup_errors,
        );
        assert_eq!(counts, (1, 1, 1, 7, 1));
        assert_eq!(out.latency.len(), 1);
        assert!(out.latency.equivalent(out.latency.max(), 6000));
        assert_eq!(out.send_delay.len(), 3);
        assert!(out.send_delay.equivalent(out.send_delay.max(), 5000));
        assert_eq!(out.first_error.as_deref(), Some("500"));
    }

    type Arrivals = Arc<std::sync::Mutex<Vec<Instant>>>;

    /// A loopback HTTP/1.1 server that answers each request `200` after `delay`, or
    /// never with `None`, and notes when each request arrived.
    async fn server(delay: Option<Duration>) -> (SocketAddr, Arrivals) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let arrivals = Arrivals::default();
        let noted = arrivals.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let noted = noted.clone();
                tokio::spawn(async move {
                    let (mut buf, mut chunk) = (Vec::new(), [0u8; 4096]);
                    loop {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                        // Bodiless requests: each ends with an empty line.
                        while let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            buf.drain(..i + 4);
                            noted.lock().unwrap().push(Instant::now());
                            let Some(delay) = delay else { continue };
                            tokio::time::sleep(delay).await;
                            let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                            if sock.write_all(ok).await.is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        (addr, arrivals)
    }

    fn get() -> MakeReq {
        Arc::new(|_, _| Req::get("/", None))
    }

    fn plan(connections: usize, warmup: u64, duration: u64) -> Plan {
        Plan {
            connections,
            warmup: ms(warmup),
            duration: ms(duration),
            expect: StatusCode::OK,
        }
    }

    #[tokio::test]
    async fn a_server_that_keeps_up_answers_every_request_on_schedule() {
        let (addr, arrivals) = server(Some(Duration::ZERO)).await;
        let open = Open {
            rate: 500.0,
            drain: ms(1000),
        };
        let t0 = Instant::now();
        let out = run_open(addr, plan(8, 100, 200), open, get())
            .await
            .unwrap();
        assert_eq!(out.intended, 100);
        assert_eq!((out.ok, out.errors, out.timeouts, out.late), (100, 0, 0, 0));
        assert_eq!(out.latency.len(), 100);
        // Paced, not sent in bursts: the i-th request to arrive was not sent before
        // request i was due.
        let arrivals = arrivals.lock().unwrap();
        assert_eq!(arrivals.len(), 150);
        for (i, at) in arrivals.iter().enumerate() {
            let due = t0 + out.schedule.offset(i as u64);
            assert!(*at >= due, "request {i} arrived {:?} early", due - *at);
        }
    }

    #[tokio::test]
    async fn a_request_due_just_before_the_end_is_not_late_for_the_pacer_lag() {
        // The last request is intended 10 µs before the window ends; the pacer releases
        // it after, to idle connections.
        let (addr, _) = server(Some(Duration::ZERO)).await;
        let open = Open {
            rate: 1000.0,
            drain: ms(1000),
        };
        let mut plan = plan(4, 0, 0);
        plan.duration = Duration::from_micros(49_010);
        let out = run_open(addr, plan, open, get()).await.unwrap();
        assert_eq!(out.intended, 50);
        assert_eq!((out.ok, out.late), (50, 0));
    }

    #[tokio::test]
    async fn a_slow_server_shows_its_backlog_in_the_latency() {
        // One connection, 5 ms an answer (200/s), asked for 1000/s.
        let (addr, _) = server(Some(ms(5))).await;
        let open = Open {
            rate: 1000.0,
            drain: ms(1000),
        };
        let out = run_open(addr, plan(1, 0, 300), open, get()).await.unwrap();
        assert_eq!(out.intended, 300);
        assert_eq!(out.ok + out.errors + out.timeouts + out.late, out.intended);
        assert!(out.ok <= 62, "{} answered", out.ok);
        assert!(out.late >= 200, "{} late", out.late);
        // Each answer takes ~5 ms, but the later requests waited their turn for ~200 ms.
        assert!(out.latency.max() >= 100_000, "max {} µs", out.latency.max());
        // The closed loop on the same server only sees the service time.
        let closed = run(addr, plan(1, 0, 100), get()).await;
        assert!(closed.latency.max() < out.latency.max() / 4);
    }

    #[tokio::test]
    async fn a_server_that_never_answers_ends_the_run_after_the_drain() {
        let (addr, _) = server(None).await;
        let open = Open {
            rate: 1000.0,
            drain: ms(100),
        };
        let t = Instant::now();
        let out = run_open(addr, plan(2, 0, 200), open, get()).await.unwrap();
        let took = t.elapsed();
        // The two connections each sent one request; the rest never left.
        let counts = (out.ok, out.errors, out.timeouts, out.late);
        assert_eq!(counts, (0, 0, 2, 198));
        assert!(out.first_error.is_some());
        assert!(took >= ms(300) && took < ms(1500), "{took:?}");
    }
}
