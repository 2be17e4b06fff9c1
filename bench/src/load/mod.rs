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

use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;
use hyper::StatusCode;

use crate::http::Req;

pub use closed::run;
pub use open::{Open, run_open};

mod closed;
mod open;
mod schedule;
mod tally;
#[cfg(test)]
mod tests;

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

/// A latency histogram in microseconds, 1 µs to 60 s, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}
