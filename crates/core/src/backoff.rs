//! The retry vocabulary every adapter shares: jittered exponential
//! [`Backoff`], reading the wait the other side asked for
//! ([`retry_after`], [`retry_after_ms`]), and whether a wait [`fits`] the
//! record's deadline. Pure: callers pass the header's text, the time now and
//! the [`Deadline`]; nothing here sleeps or reads a clock, except
//! [`jitter`]'s random fraction.
//!
//! Header values are upstream input. Nothing here can panic on one: a number
//! too large for a [`Duration`] saturates, and what does not parse is absent.
//!
//! ```
//! use std::time::Duration;
//! use tvault_core::backoff::{RetryAfterForms, retry_after};
//! let now = chrono::Utc::now();
//! assert_eq!(retry_after("2", now, RetryAfterForms::WholeSeconds), Some(Duration::from_secs(2)));
//! assert_eq!(retry_after("0.5", now, RetryAfterForms::WholeSeconds), None);
//! assert_eq!(retry_after("0.5", now, RetryAfterForms::Any), Some(Duration::from_millis(500)));
//! ```

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::ports::Deadline;

/// Jittered exponential backoff: before retry `attempt` (0 for the first
/// retry) a wait drawn uniformly from [half, full] of
/// `initial * 2^attempt`, the full wait capped at `max`. The jitter keeps
/// many tasks throttled at once from coming back in step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The full wait before the first retry.
    pub initial: Duration,
    /// The ceiling of any one full wait.
    pub max: Duration,
}

impl Backoff {
    /// The wait before retry `attempt` (0-based), with a fresh [`jitter`].
    pub fn delay(&self, attempt: u32) -> Duration {
        self.delay_at(attempt, jitter())
    }

    /// The wait before retry `attempt` at `fraction` of the jitter range
    /// (0 gives half the full wait, 1 the full wait; anything outside
    /// [0, 1], NaN included, is clamped).
    pub fn delay_at(&self, attempt: u32, fraction: f64) -> Duration {
        // Saturating: attempt 40 of a 1-day initial wait is just `max`.
        let full = self
            .initial
            .saturating_mul(2u32.saturating_pow(attempt))
            .min(self.max);
        let fraction = if fraction.is_nan() {
            0.0
        } else {
            fraction.clamp(0.0, 1.0)
        };
        let half = full / 2;
        // mul_f64 by a fraction in [0, 1] cannot overflow; the sum is at
        // most `full`, give or take float rounding near Duration::MAX.
        half.saturating_add(half.mul_f64(fraction))
    }
}

/// A random fraction in [0, 1), from the process's random hasher keys (no
/// dependency, and good enough to spread retries apart).
pub fn jitter() -> f64 {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(SEQ.fetch_add(1, Ordering::Relaxed));
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// Which forms of `Retry-After` a caller accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfterForms {
    /// Whole seconds only, as Genesys sends them: a value that does not
    /// parse as a `u64` (a fraction, an exponent, a minus sign, a number
    /// past `u64`, an HTTP date) is absent. A huge whole number is kept.
    WholeSeconds,
    /// Anything RFC 9110 allows and more: decimal seconds (fractions,
    /// exponents) or an HTTP date. A number past what a [`Duration`] holds
    /// (`1e30`, `inf`) is [`Duration::MAX`], "longer than anyone waits";
    /// a negative or NaN one is absent; a date in the past is zero.
    Any,
}

/// The wait a `Retry-After` header's `value` asks for, read as `forms`
/// allows; `now` places an HTTP date. `None` when it asks for nothing usable.
pub fn retry_after(value: &str, now: DateTime<Utc>, forms: RetryAfterForms) -> Option<Duration> {
    let v = value.trim();
    if forms == RetryAfterForms::WholeSeconds {
        return v.parse::<u64>().ok().map(Duration::from_secs);
    }
    if let Ok(secs) = v.parse::<f64>() {
        if secs.is_nan() || secs < 0.0 {
            return None;
        }
        // Duration::from_secs_f64 would panic past u64::MAX seconds.
        return Some(Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX));
    }
    let at = DateTime::parse_from_rfc2822(v).ok()?;
    Some(
        at.signed_duration_since(now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

/// A wait in whole milliseconds (Azure's `x-ms-retry-after-ms`,
/// `retry-after-ms`); anything else is absent.
pub fn retry_after_ms(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_millis)
}

/// Whether to sleep `wait` now: it ends before `deadline` and is no longer
/// than `longest` (beyond which the wait belongs to the queue, such as a
/// quota breach asking for hours). `Duration::MAX` sets no such limit.
pub fn fits(deadline: Deadline, now: Instant, wait: Duration, longest: Duration) -> bool {
    wait <= longest && deadline.allows(now, wait)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
    }

    #[test]
    fn backoff_doubles_from_half_to_full_and_stays_under_the_cap() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(10),
        };
        assert_eq!(b.delay_at(0, 0.0), Duration::from_millis(50));
        assert_eq!(b.delay_at(0, 1.0), Duration::from_millis(100));
        assert_eq!(b.delay_at(3, 1.0), Duration::from_millis(800));
        for attempt in [7, 8, 40, u32::MAX] {
            assert_eq!(b.delay_at(attempt, 1.0), Duration::from_secs(10));
            assert_eq!(b.delay_at(attempt, 0.0), Duration::from_secs(5));
        }
        for odd in [f64::NAN, -1.0, 7.0, f64::INFINITY] {
            let d = b.delay_at(2, odd);
            assert!(d >= Duration::from_millis(200) && d <= Duration::from_millis(400));
        }
        let huge = Backoff {
            initial: Duration::MAX,
            max: Duration::MAX,
        };
        assert!(huge.delay_at(u32::MAX, 1.0) >= Duration::MAX / 2);
        for attempt in 0..30 {
            let d = b.delay(attempt);
            let full = b.delay_at(attempt, 1.0);
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?}");
        }
    }

    #[test]
    fn jitter_spreads_over_the_unit_interval() {
        let draws: Vec<f64> = (0..200).map(|_| jitter()).collect();
        assert!(draws.iter().all(|j| (0.0..1.0).contains(j)));
        assert!(draws.iter().any(|j| *j < 0.5) && draws.iter().any(|j| *j >= 0.5));
    }

    #[test]
    fn whole_seconds_accept_only_what_a_u64_parses() {
        let w = |v: &str| retry_after(v, now(), RetryAfterForms::WholeSeconds);
        assert_eq!(w(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(
            w("18446744073709551615"),
            Some(Duration::from_secs(u64::MAX))
        );
        for absent in [
            "1.5",
            "1e30",
            "-1",
            "NaN",
            "inf",
            "99999999999999999999999",
            "Fri, 31 Dec 9999 23:59:59 GMT",
            "",
        ] {
            assert_eq!(w(absent), None, "{absent:?}");
        }
    }

    #[test]
    fn any_form_reads_fractions_and_dates_and_saturates_hostile_numbers() {
        let a = |v: &str| retry_after(v, now(), RetryAfterForms::Any);
        assert_eq!(a("2"), Some(Duration::from_secs(2)));
        assert_eq!(a("0.25"), Some(Duration::from_millis(250)));
        for huge in [
            "1e30",
            "1e400",
            "inf",
            "18446744073709551616",
            "18446744073709551615.5",
        ] {
            assert_eq!(a(huge), Some(Duration::MAX), "{huge}");
        }
        for junk in ["-1", "NaN", "-inf", "soon", ""] {
            assert_eq!(a(junk), None, "{junk}");
        }
        assert_eq!(
            a("Thu, 01 Jan 2026 00:00:30 GMT"),
            Some(Duration::from_secs(30))
        );
        assert_eq!(a("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        assert!(a("Fri, 31 Dec 9999 23:59:59 GMT").unwrap() > Duration::from_secs(1 << 37));
    }

    #[test]
    fn milliseconds_are_whole_and_never_overflow() {
        assert_eq!(retry_after_ms("250"), Some(Duration::from_millis(250)));
        assert_eq!(
            retry_after_ms(&u64::MAX.to_string()),
            Some(Duration::from_millis(u64::MAX))
        );
        for junk in ["1.5", "-1", "1e3", ""] {
            assert_eq!(retry_after_ms(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn a_wait_fits_before_the_deadline_and_under_the_longest() {
        let now = Instant::now();
        let d = Deadline::at(now + Duration::from_secs(10));
        assert!(fits(d, now, Duration::from_secs(9), Duration::MAX));
        assert!(!fits(d, now, Duration::from_secs(10), Duration::MAX));
        assert!(!fits(
            d,
            now,
            Duration::from_secs(5),
            Duration::from_secs(4)
        ));
        assert!(fits(Deadline::NONE, now, Duration::MAX, Duration::MAX));
        assert!(!fits(
            Deadline::NONE,
            now,
            Duration::from_secs(181),
            Duration::from_secs(180)
        ));
    }
}
