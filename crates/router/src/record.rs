//! A queued record's whole life: its age noted, its archive run on a task of
//! its own within its deadline, cut off at the caller's limit, and every
//! outcome counted. The Lambda and the worker both come through here, so a
//! metric cannot be forgotten on one of their paths.

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tracing::warn;
use tvault_core::ArchiveError;
use tvault_core::ports::Deadline;

use crate::router::{Handled, Router};

/// One record as a queue (or a direct invocation) hands it over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The SQS message id (for a direct invocation, the event's id).
    pub message_id: String,
    /// The EventBridge event text.
    pub body: String,
    /// SQS's `ApproximateReceiveCount` (1 when not queued).
    pub receive_count: u32,
    /// SQS's `SentTimestamp`, milliseconds since the epoch, for the
    /// `OldestEventAge` metric; `None` when not queued.
    pub sent_at_ms: Option<u64>,
}

impl Router {
    /// Handle one record from start to end: note its age, archive it on a
    /// task of its own ([`Router::handle_isolated`]: a panic fails this
    /// record only) with `deadline` for the retries inside it, and give up
    /// at `cut_off` when one is given (the Lambda must answer before its own
    /// timeout): a record cut off fails as [`ArchiveError::TimedOut`], is
    /// counted, and returns to the queue after its visibility timeout.
    pub async fn process(
        self: &Arc<Self>,
        record: &Record,
        deadline: Deadline,
        cut_off: Option<Instant>,
    ) -> Handled {
        if let Some(sent) = record.sent_at_ms {
            self.metrics.saw_age_ms(now_ms().saturating_sub(sent));
        }
        let handling = self.handle_isolated(
            &record.message_id,
            &record.body,
            record.receive_count,
            deadline,
        );
        let Some(cut_off) = cut_off else {
            return handling.await;
        };
        match tokio::time::timeout_at(cut_off.into(), handling).await {
            Ok(handled) => handled,
            Err(_) => {
                warn!(
                    message_id = %record.message_id,
                    "record cut off at the invocation deadline; it returns to the queue"
                );
                let result = Err(ArchiveError::TimedOut);
                self.metrics.record(&result);
                Handled {
                    result,
                    requeue_after: None,
                }
            }
        }
    }
}

/// Milliseconds since the epoch (0 before it: a clock that far off makes
/// every age 0, not a panic).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering::Relaxed;
    use std::time::Duration;
    use tvault_core::Archiver;
    use tvault_core::id::{AttachmentId, ConversationId};
    use tvault_core::ports::{
        ByteStream, ConversationSource, Fetched, Resolved, SourceError, SystemClock,
    };
    use tvault_core::transcript::AttachmentRef;

    /// A Genesys that never answers (a hung connection).
    struct SilentSource;

    #[async_trait::async_trait]
    impl ConversationSource for SilentSource {
        async fn fetch_transcript(
            &self,
            _: &ConversationId,
            _: Deadline,
        ) -> Result<Fetched, SourceError> {
            std::future::pending().await
        }

        async fn resolve_attachments(
            &self,
            _: &ConversationId,
            _: &[(Option<String>, AttachmentId)],
            _: Deadline,
        ) -> Result<Resolved, SourceError> {
            std::future::pending().await
        }

        async fn open_attachment(
            &self,
            _: &AttachmentRef,
            _: Deadline,
        ) -> Result<ByteStream, SourceError> {
            std::future::pending().await
        }
    }

    fn record(id: &str, body: String, sent_at_ms: Option<u64>) -> Record {
        Record {
            message_id: id.into(),
            body,
            receive_count: 1,
            sent_at_ms,
        }
    }

    #[tokio::test]
    async fn a_record_cut_off_fails_as_timed_out_is_counted_and_its_age_noted() {
        let vault = tvault_vault::open("memory://").unwrap();
        let archiver = Archiver::new(
            vault.clone(),
            Some(Arc::new(SilentSource)),
            Arc::new(SystemClock),
        );
        let router = Arc::new(Router::from_parts(archiver, vault));
        let lifecycle = tvault_testkit::pipeline::customer_end("hung-8d3f4c1e");
        let sent = now_ms() - 5_000;
        let cut_off = Instant::now() + Duration::from_millis(200);
        let handled = router
            .process(
                &record("m-hung", lifecycle, Some(sent)),
                Deadline::at(cut_off),
                Some(cut_off),
            )
            .await;
        assert!(
            matches!(handled.result, Err(ArchiveError::TimedOut)),
            "{:?}",
            handled.result
        );
        assert_eq!(handled.requeue_after, None, "the queue's own visibility");
        assert_eq!(router.metrics.failed.load(Relaxed), 1);
        assert!(router.metrics.oldest_event_age_ms.load(Relaxed) >= 5_000);

        // Without a cut-off the same router archives what needs no Genesys.
        let calm = tvault_testkit::panic::transcript_event("calm-8d3f4c1e");
        let handled = router
            .process(&record("m-calm", calm, None), Deadline::NONE, None)
            .await;
        assert!(handled.is_done(), "{:?}", handled.result);
        assert_eq!(router.totals().archived, 1);
        assert_eq!(router.totals().failed, 1);
    }
}
