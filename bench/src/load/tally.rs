//! What an open-loop run counts: each measured request's fate (`ok`, `errors`,
//! `timeouts`, `late`), its latency from its intended time, and its send delay.

use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::time::Instant;

use super::histogram;
use super::schedule::{Schedule, micros};

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
    pub(super) fn new(schedule: Schedule, drain: Duration, tally: Tally) -> OpenOutcome {
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
pub(super) enum Fate {
    Ok,
    Failed(String),
    /// No answer by the drain's end.
    TimedOut,
}

/// One connection's counts (or the sum of all).
pub(super) struct Tally {
    /// Measured requests sent.
    pub(super) sent: u64,
    pub(super) ok: u64,
    pub(super) errors: u64,
    pub(super) timeouts: u64,
    pub(super) warmup_errors: u64,
    pub(super) first_error: Option<String>,
    pub(super) latency: Histogram<u64>,
    pub(super) send_delay: Histogram<u64>,
}

impl Tally {
    pub(super) fn new() -> Tally {
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
    pub(super) fn record(
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

    pub(super) fn add(&mut self, other: Tally) {
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
