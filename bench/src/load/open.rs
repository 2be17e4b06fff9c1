//! The open-loop generator ([`run_open`]): a pacer thread releases requests on the
//! [`Schedule`](super::schedule::Schedule), and a pool of connections serves them in
//! order (see the module `load` for what that measures).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use hyper::StatusCode;
use tokio::sync::{Semaphore, TryAcquireError};
use tokio::time::Instant;

use crate::http::{Conn, excerpt};

use super::schedule::Schedule;
use super::tally::{Fate, OpenOutcome, Tally};
use super::{MakeReq, Plan};

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

/// What the connections of an open-loop run share.
pub(super) struct Timetable {
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
pub(super) fn pace(schedule: Schedule, start: std::time::Instant, permits: &Weak<Semaphore>) {
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
pub(super) async fn open_worker(
    addr: SocketAddr,
    index: usize,
    t: Arc<Timetable>,
    make: MakeReq,
) -> Tally {
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
