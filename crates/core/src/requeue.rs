//! The pure requeue policy for queued records: how long a failed record stays
//! hidden before the queue offers it again.
//!
//! SQS counts receives (`ApproximateReceiveCount`) and moves a message to the
//! dead-letter queue after `maxReceiveCount` of them. A record that is merely
//! early (the transcript is not produced yet) or throttled should not burn
//! those receives in quick succession, so its visibility grows with each
//! receive. An invalid record is the opposite: no retry can help it, so it is
//! released at once (visibility 0) and burns its receives in seconds, reaching
//! the DLQ unchanged instead of waiting out the queue's visibility timeout
//! (half an hour behind the Lambda) once per receive. A permanent failure
//! keeps the queue's default: a person may fix its cause (a credential, a
//! division) before its receives run out.

use std::time::Duration;

use crate::outcome::ErrorClass;

/// SQS refuses a visibility timeout above 12 hours.
pub const SQS_MAX_VISIBILITY: Duration = Duration::from_secs(12 * 60 * 60);

/// Delays for failed records. Defaults explained field by field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequeuePolicy {
    /// First delay for a not-ready record: Genesys produces the messaging
    /// recording within seconds to minutes after the conversation ends.
    pub not_ready_base: Duration,
    /// Cap for not-ready delays: with `maxReceiveCount` 5 the doubling
    /// 60 s, 2 min, 4 min, 8 min, 15 min gives about half an hour before the DLQ.
    pub not_ready_cap: Duration,
    /// First delay after a transient fault (throttling, 5xx): short, the
    /// fault usually passes within seconds.
    pub transient_base: Duration,
    /// Cap for transient delays: an Azure or Genesys outage is waited out by the
    /// queue (which holds messages up to 14 days), not by burning receives.
    pub transient_cap: Duration,
}

impl Default for RequeuePolicy {
    fn default() -> Self {
        Self {
            not_ready_base: Duration::from_secs(60),
            not_ready_cap: Duration::from_secs(15 * 60),
            transient_base: Duration::from_secs(10),
            transient_cap: Duration::from_secs(5 * 60),
        }
    }
}

impl RequeuePolicy {
    /// How long to hide a record that failed with `class` on its
    /// `receive_count`-th receive (1 for the first). `retry_after` is what
    /// the other side asked for. `None` keeps the queue's default visibility;
    /// zero makes the record visible again at once.
    pub fn delay(
        &self,
        class: ErrorClass,
        receive_count: u32,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        let (base, cap) = match class {
            ErrorClass::NotReady => (self.not_ready_base, self.not_ready_cap),
            ErrorClass::Transient => (self.transient_base, self.transient_cap),
            ErrorClass::Invalid => return Some(Duration::ZERO),
            ErrorClass::Permanent => return None,
        };
        let doublings = receive_count.saturating_sub(1).min(16);
        let grown = base.saturating_mul(1u32 << doublings).min(cap);
        Some(
            grown
                .max(retry_after.unwrap_or_default())
                .min(SQS_MAX_VISIBILITY),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_ready_delay_doubles_up_to_the_cap() {
        let p = RequeuePolicy::default();
        let secs: Vec<u64> = (1..=6)
            .map(|n| p.delay(ErrorClass::NotReady, n, None).unwrap().as_secs())
            .collect();
        assert_eq!(secs, [60, 120, 240, 480, 900, 900]);
    }

    #[test]
    fn retry_after_wins_when_longer_and_sqs_limit_holds() {
        let p = RequeuePolicy::default();
        assert_eq!(
            p.delay(ErrorClass::Transient, 1, Some(Duration::from_secs(3600))),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(
            p.delay(ErrorClass::Transient, 1, Some(Duration::from_secs(86_400))),
            Some(SQS_MAX_VISIBILITY)
        );
        assert_eq!(
            p.delay(ErrorClass::Transient, 1, Some(Duration::from_secs(1))),
            Some(Duration::from_secs(10))
        );
    }

    #[test]
    fn invalid_is_released_at_once_whatever_was_asked() {
        let p = RequeuePolicy::default();
        for n in [1, 3, u32::MAX] {
            assert_eq!(p.delay(ErrorClass::Invalid, n, None), Some(Duration::ZERO));
        }
        assert_eq!(
            p.delay(ErrorClass::Invalid, 1, Some(Duration::from_secs(60))),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn permanent_keeps_the_queue_default() {
        let p = RequeuePolicy::default();
        assert_eq!(
            p.delay(ErrorClass::Permanent, 1, Some(Duration::from_secs(5))),
            None
        );
    }

    #[test]
    fn huge_receive_counts_do_not_overflow() {
        let p = RequeuePolicy::default();
        assert_eq!(
            p.delay(ErrorClass::NotReady, u32::MAX, None),
            Some(Duration::from_secs(900))
        );
    }
}
