//! A Lambda invocation's time budget: when its records must stop, and when
//! its visibility changes must be done, from the deadline Lambda gives it.

use std::time::{Duration, Instant};

use tvault_core::ports::Deadline;

use crate::record::now_ms;

/// Time kept back from the invocation's deadline to change visibilities and
/// answer: a fixed part plus a twentieth of what is left.
const RESERVE_FIXED: Duration = Duration::from_secs(2);

/// The last part of the reserve, left to print the metrics line and post the
/// response once the visibility changes are done (or given up).
const ANSWER_MARGIN: Duration = Duration::from_millis(500);

/// No invocation lasts longer than Lambda's 15-minute limit; a deadline
/// header further away than this (a clock jump, a broken emulator) is read
/// as this, so the arithmetic on it cannot overflow.
pub const LONGEST_INVOCATION: Duration = Duration::from_secs(15 * 60);

/// When an invocation's records must stop, and when its visibility changes
/// must be done.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Records are cut off here (the deadline less the reserve).
    pub records_until: Instant,
    /// The same, for the retries inside a record.
    pub deadline: Deadline,
    /// Visibility changes are given up here (the deadline less the answer margin).
    pub changes_until: Instant,
}

impl Budget {
    /// The budget of an invocation whose deadline is `deadline_ms`
    /// (milliseconds since the epoch, as Lambda's deadline header gives it).
    pub fn for_invocation(deadline_ms: u64) -> Self {
        let left =
            Duration::from_millis(deadline_ms.saturating_sub(now_ms())).min(LONGEST_INVOCATION);
        let keep = RESERVE_FIXED + left / 20;
        let now = Instant::now();
        let records_until = now + left.saturating_sub(keep);
        Self {
            records_until,
            deadline: Deadline::at(records_until),
            changes_until: now + left.saturating_sub(ANSWER_MARGIN),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_keeps_time_in_reserve_for_visibility_changes_and_the_answer() {
        let b = Budget::for_invocation(now_ms() + 60_000);
        let left = b.records_until.saturating_duration_since(Instant::now());
        assert!(
            left <= Duration::from_secs(55) && left >= Duration::from_secs(54),
            "{left:?}"
        );
        let changes = b.changes_until.saturating_duration_since(Instant::now());
        assert!(
            changes <= Duration::from_millis(59_500) && changes >= Duration::from_secs(59),
            "{changes:?}"
        );
        let b = Budget::for_invocation(now_ms().saturating_sub(5));
        assert!(b.records_until <= Instant::now() && b.changes_until <= Instant::now());
    }

    #[test]
    fn a_deadline_header_far_in_the_future_is_read_as_the_longest_invocation() {
        for ms in [u64::MAX, u64::MAX / 2, now_ms() + 10 * 3_600_000] {
            let b = Budget::for_invocation(ms);
            let left = b.records_until.saturating_duration_since(Instant::now());
            assert!(left <= LONGEST_INVOCATION, "{ms}: {left:?}");
        }
    }
}
