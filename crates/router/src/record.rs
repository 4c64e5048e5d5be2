//! A queued record's whole life: its age noted, its archive run on a task of
//! its own within its deadline, cut off at the caller's limit, and every
//! outcome counted. The Lambda and the worker both come through here, so a
//! metric cannot be forgotten on one of their paths.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tracing::{Instrument, info_span, warn};
use tvault_core::ArchiveError;
use tvault_core::ports::Deadline;

use crate::router::{Handled, Router};
use crate::telemetry;

/// One record as a queue (or a direct invocation) hands it over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The SQS message id (for a direct invocation, the event's id).
    pub message_id: String,
    /// The EventBridge event text.
    pub body: String,
    /// SQS's `ApproximateReceiveCount` (1 when not queued).
    pub receive_count: u32,
    /// SQS's `SentTimestamp`, milliseconds since the epoch, for the record
    /// age metric; `None` when not queued.
    pub sent_at_ms: Option<u64>,
}

impl Router {
    /// Handle one record from start to end, in a span of its own
    /// (`message_id`, then `conversation_id` once the event names one) that
    /// every line about it carries: archive it on a task of its own
    /// ([`Router::handle_isolated`]: a panic fails this record only) with
    /// `deadline` for the retries inside it, give up at `cut_off` when one is
    /// given (the Lambda must answer before its own timeout: a record cut off
    /// fails as [`ArchiveError::TimedOut`] and returns to the queue after its
    /// visibility timeout), and count it, whatever became of it: outcome,
    /// what it wrote, its age, its duration, the retries it caused.
    pub async fn process(
        self: &Arc<Self>,
        record: &Record,
        deadline: Deadline,
        cut_off: Option<Instant>,
    ) -> Handled {
        let span = info_span!(
            "record",
            message_id = %record.message_id,
            conversation_id = tracing::field::Empty
        );
        async {
            let started = Instant::now();
            let handled = self.run(record, deadline, cut_off).await;
            let age = record
                .sent_at_ms
                .map(|sent| Duration::from_millis(now_ms().saturating_sub(sent)));
            self.tally.record(&handled.result);
            telemetry::count(&handled.result, age, started.elapsed());
            self.publish_retries().await;
            handled
        }
        .instrument(span)
        .await
    }

    async fn run(
        self: &Arc<Self>,
        record: &Record,
        deadline: Deadline,
        cut_off: Option<Instant>,
    ) -> Handled {
        let handling = self.handle_isolated(&record.body, record.receive_count, deadline);
        let Some(cut_off) = cut_off else {
            return handling.await;
        };
        match tokio::time::timeout_at(cut_off.into(), handling).await {
            Ok(handled) => handled,
            Err(_) => {
                warn!("record cut off at the invocation deadline; it returns to the queue");
                Handled {
                    result: Err(ArchiveError::TimedOut),
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

    /// `f` on a current-thread runtime with `registry` as the recorder: the
    /// facade's recorder is the thread's, and every task of such a runtime
    /// runs on this thread, so no other test's counts mix in.
    fn counted<T>(registry: &telemetry::Registry, f: impl std::future::Future<Output = T>) -> T {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        metrics::with_local_recorder(registry, || rt.block_on(f))
    }

    #[test]
    fn a_record_cut_off_fails_as_timed_out_and_every_record_is_counted() {
        let registry = telemetry::Registry::new();
        let router = counted(&registry, async {
            let vault = tvault_vault::open("memory://").unwrap();
            let archiver = Archiver::new(
                vault.clone(),
                Some(Arc::new(SilentSource)),
                Arc::new(SystemClock),
            );
            let router = Arc::new(Router::from_parts(archiver, vault));
            let lifecycle = tvault_testkit::pipeline::customer_end("hung-8d3f4c1e");
            let cut_off = Instant::now() + Duration::from_millis(200);
            let handled = router
                .process(
                    &record("m-hung", lifecycle, Some(now_ms() - 5_000)),
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

            // Without a cut-off the same router archives what needs no Genesys.
            let calm = tvault_testkit::panic::transcript_event("calm-8d3f4c1e");
            let handled = router
                .process(
                    &record("m-calm", calm, Some(now_ms() - 7_000)),
                    Deadline::NONE,
                    None,
                )
                .await;
            assert!(handled.is_done(), "{:?}", handled.result);
            router
        });
        assert_eq!(router.totals().archived, 1);
        assert_eq!(router.totals().failed, 1);
        let outcome = |o| registry.counter(telemetry::RECORDS, &[("outcome", o)]);
        assert_eq!((outcome("transient"), outcome("archived")), (1, 1));
        assert_eq!(outcome("permanent"), 0, "announced at zero");
        assert!(registry.counter(telemetry::BYTES_WRITTEN, &[]) > 0);
        let took = registry
            .histogram(telemetry::TIME_TO_ARCHIVE)
            .unwrap()
            .snapshot();
        assert_eq!(took.count, 2, "the cut-off record is timed too");
        assert!(took.sum >= 0.2, "{took:?}");
        // Only the archived record has an age at archive: about 7 s.
        let (ages, _) = registry
            .histogram(telemetry::RECORD_AGE)
            .unwrap()
            .take_window();
        assert_eq!(ages.len(), 1, "{ages:?}");
        assert!((7.0..60.0).contains(&ages[0]), "{ages:?}");
    }
}
