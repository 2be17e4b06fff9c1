//! The open loop's timetable: when each request is intended, in whole nanoseconds so the
//! arithmetic is exact, and which requests fall in the measured window.

use std::time::Duration;

/// The open-loop timetable: request `k` is intended `k × period` after the start, the
/// period being `1 / rate` rounded to whole nanoseconds (so `k` ↔ time is exact).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    pub(super) period_ns: u64,
    pub(super) warmup_ns: u64,
    pub(super) until_ns: u64,
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

pub(super) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

pub(super) fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}
