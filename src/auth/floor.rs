//! The floor failed password checks answer at, so that how long a failure takes says
//! nothing about the account: an unknown username, a native account and one still
//! holding the Django app's hash (pbkdf2 at 600,000 iterations takes three to four times
//! our argon2id) all answer at the floor, as long as their check ends before it.
//!
//! The floor is the larger of a base and 1.5 times the recent peak of how long checks
//! took here. The base is fixed (`--failed-login-floor 300ms`) or, by default, measured
//! at start-up: 1.5 times the dearest verification the caps let through, and at least
//! 250 ms.
//! The peak follows the machine's load: when checks slow down, the floor rises with
//! them, and it decays back (halving every minute) once they are quick again. Successful
//! checks are not padded.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The least floor measured at start-up gives.
pub const MIN_FLOOR: Duration = Duration::from_millis(250);
/// How much above the dearest verification (or the recent peak) the floor sits.
const MARGIN: f64 = 1.5;
/// The most the recent peak may raise the floor above its base: a machine stalled for
/// seconds should not make every failed login wait for a minute.
const MAX_RISE: u32 = 8;
/// The recent peak halves in this many seconds.
const HALF_LIFE_SECS: f64 = 60.0;

/// See the module's documentation. [`FailureFloor::off`] pads nothing.
#[derive(Debug)]
pub struct FailureFloor {
    base: Duration,
    /// The recent peak, as of when it was last looked at.
    peak: Mutex<(Duration, Instant)>,
}

impl FailureFloor {
    /// No floor: failures answer as soon as checked (they can then tell accounts with a
    /// Django hash, or none, apart from native ones).
    pub fn off() -> FailureFloor {
        FailureFloor::fixed(Duration::ZERO)
    }

    /// A floor of at least `base` (zero: off).
    pub fn fixed(base: Duration) -> FailureFloor {
        FailureFloor {
            base,
            peak: Mutex::new((Duration::ZERO, Instant::now())),
        }
    }

    /// A floor for a machine where the dearest verification the caps allow takes
    /// `dearest` ([`super::password::dearest_verification`]).
    pub fn calibrated(dearest: Duration) -> FailureFloor {
        FailureFloor::fixed(MIN_FLOOR.max(dearest.mul_f64(MARGIN)))
    }

    pub fn is_off(&self) -> bool {
        self.base.is_zero()
    }

    /// The base, without the recent peak.
    pub fn base(&self) -> Duration {
        self.base
    }

    /// Records that a check (from its start to the end of its verification) took `took`.
    pub fn observe(&self, took: Duration) {
        if self.is_off() {
            return;
        }
        let mut peak = self.peak.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let decayed = decay(peak.0, now.saturating_duration_since(peak.1));
        *peak = (decayed.max(took), now);
    }

    /// The floor now: the base, or 1.5 times the recent peak when that is more (at most
    /// [`MAX_RISE`] times the base).
    pub fn current(&self) -> Duration {
        if self.is_off() {
            return Duration::ZERO;
        }
        let (peak, at) = *self.peak.lock().unwrap_or_else(|p| p.into_inner());
        let peak = decay(peak, at.elapsed());
        self.base
            .max(peak.mul_f64(MARGIN))
            .min(self.base * MAX_RISE)
    }

    /// Waits until the floor has passed since `started`, the start of a failed check.
    pub async fn pad(&self, started: Instant) {
        let until = started + self.current();
        tokio::time::sleep_until(tokio::time::Instant::from_std(until)).await;
    }
}

/// `peak` after `elapsed` of decay.
fn decay(peak: Duration, elapsed: Duration) -> Duration {
    peak.mul_f64(0.5f64.powf(elapsed.as_secs_f64() / HALF_LIFE_SECS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_is_the_base_or_above_the_recent_peak() {
        let floor = FailureFloor::fixed(Duration::from_millis(300));
        assert_eq!(floor.current(), Duration::from_millis(300));
        floor.observe(Duration::from_millis(100));
        assert_eq!(floor.current(), Duration::from_millis(300));
        floor.observe(Duration::from_millis(400));
        let now = floor.current();
        assert!(
            now > Duration::from_millis(590) && now <= Duration::from_millis(600),
            "{now:?}"
        );
        // A long stall raises it at most eight times.
        floor.observe(Duration::from_secs(60));
        assert_eq!(floor.current(), Duration::from_millis(2400));
        // And the peak decays: a minute later it counts half.
        assert_eq!(
            decay(Duration::from_secs(1), Duration::from_secs(60)),
            Duration::from_millis(500)
        );
    }

    #[test]
    fn calibration_adds_half_the_dearest_verification_and_keeps_a_minimum() {
        assert_eq!(
            FailureFloor::calibrated(Duration::from_millis(10)).base(),
            MIN_FLOOR
        );
        assert_eq!(
            FailureFloor::calibrated(Duration::from_millis(200)).base(),
            Duration::from_millis(300)
        );
    }

    #[tokio::test]
    async fn off_pads_nothing_and_observes_nothing() {
        let floor = FailureFloor::off();
        floor.observe(Duration::from_secs(5));
        assert_eq!(floor.current(), Duration::ZERO);
        let started = Instant::now();
        floor.pad(started).await;
        assert!(started.elapsed() < Duration::from_millis(100));
    }
}
