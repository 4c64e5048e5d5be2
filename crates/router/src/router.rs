//! [`Router`]: one queued record in, one [`Handled`] out.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::RwLock;
use tracing::{Instrument, error, info, info_span, warn};
use tvault_aws::secret::SecretSource;
use tvault_core::ports::Deadline;
use tvault_core::requeue::RequeuePolicy;
use tvault_core::{ArchiveError, Archiver, ErrorClass, Outcome};
use tvault_vault::ObjectVault;
use tvault_vault::azure::retry::with_deadline;

use chrono::{NaiveDate, Utc};
use tvault_aws::witness::SsmWitness;

use crate::metrics::{Metrics, Totals};
use crate::seal::{SealFailure, SealReport, seal_and_witness};
use crate::settings::{Settings, SettingsError};

/// The result of one record and what the queue should do with it.
#[derive(Debug)]
pub struct Handled {
    pub result: Result<Outcome, ArchiveError>,
    /// For a failed record: how long to hide it before the next try
    /// (`None`: the queue's default visibility).
    pub requeue_after: Option<Duration>,
}

impl Handled {
    /// Archived, already in vault, or skipped: the message can be deleted.
    pub fn is_done(&self) -> bool {
        self.result.is_ok()
    }
}

/// Handles records with one archiver, rebuilt when a rotated secret changes it.
pub struct Router {
    archiver: RwLock<(Arc<Archiver>, Arc<ObjectVault>)>,
    /// Azure retries already published, to publish only the increase.
    azure_retries_seen: AtomicU64,
    base: Settings,
    secret: Option<SecretSource>,
    policy: RequeuePolicy,
    pub(crate) metrics: Metrics,
    /// Where sealed days' witness lines go besides the log (SSM), if configured.
    witness: Option<SsmWitness>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("settings", &self.base)
            .finish_non_exhaustive()
    }
}

impl Router {
    /// A router over fixed settings (no secret).
    pub fn new(settings: Settings) -> Result<Self, SettingsError> {
        let (archiver, vault) = settings.build()?;
        Ok(Self::from_parts(archiver, vault).with_base(settings))
    }

    /// A router over an archiver built elsewhere, and the vault whose request
    /// counters feed the metrics (usually the archiver's own). No secret: a
    /// refused credential is not re-read.
    pub fn from_parts(archiver: Archiver, vault: Arc<ObjectVault>) -> Self {
        Self {
            archiver: RwLock::new((Arc::new(archiver), vault)),
            azure_retries_seen: AtomicU64::new(0),
            base: Settings::default(),
            secret: None,
            policy: RequeuePolicy::default(),
            metrics: Metrics::default(),
            witness: None,
        }
    }

    fn with_base(mut self, base: Settings) -> Self {
        self.base = base;
        self
    }

    /// A router over `base`, reading the settings secret with `config` when
    /// `base.secret_id` names one.
    pub async fn load(
        base: Settings,
        config: Option<&tvault_aws::SdkConfig>,
    ) -> Result<Self, SettingsError> {
        let witness = match config {
            Some(c) => base.witness(c)?,
            None => None,
        };
        let (Some(id), Some(config)) = (base.secret_id.clone(), config) else {
            return Ok(Self {
                witness,
                ..Self::new(base)?
            });
        };
        let source = base.secret_source(config, id);
        let values = source.get().await.map_err(SettingsError::Secret)?;
        let settings = base.clone().with_secret(&values);
        let (archiver, vault) = settings.build()?;
        Ok(Self {
            archiver: RwLock::new((Arc::new(archiver), vault)),
            azure_retries_seen: AtomicU64::new(0),
            base,
            secret: Some(source),
            policy: RequeuePolicy::default(),
            metrics: Metrics::default(),
            witness,
        })
    }

    /// Seal `day` into the current vault, then keep its witness line (the
    /// log, and SSM when configured): the Lambda's scheduled invocation and
    /// `tvault worker --seal-at`. Touches no queue.
    pub async fn seal(
        &self,
        day: NaiveDate,
        deadline: Deadline,
    ) -> Result<SealReport, SealFailure> {
        let vault = self.archiver.read().await.1.clone();
        let sealing = seal_and_witness(
            vault.as_ref(),
            self.witness.as_ref(),
            day,
            Utc::now(),
            deadline,
        );
        with_deadline(deadline, sealing).await
    }

    /// The current archiver.
    pub async fn archiver(&self) -> Arc<Archiver> {
        self.archiver.read().await.0.clone()
    }

    /// The records counted since this router started, or since the last
    /// [`Router::emf_line`] (which starts the counters again from zero).
    pub fn totals(&self) -> Totals {
        self.metrics.totals()
    }

    /// The CloudWatch Embedded Metric Format line (one JSON line, namespace
    /// `TranscriptVault`, dimension `FunctionName`) for what happened since
    /// the last one, with the Azure retries the vault counted; the counters
    /// start again from zero.
    pub async fn emf_line(&self, function_name: &str, timestamp_ms: i64) -> String {
        let vault = self.archiver.read().await.1.clone();
        if let Some(stats) = vault.azure_stats() {
            let before = self
                .azure_retries_seen
                .swap(stats.retries, Ordering::Relaxed);
            self.metrics
                .azure_retries
                .fetch_add(stats.retries.saturating_sub(before), Ordering::Relaxed);
        }
        self.metrics.emf_line(function_name, timestamp_ms, true)
    }

    /// Archive one EventBridge event text. `receive_count` is SQS's
    /// `ApproximateReceiveCount` (1 when not queued).
    pub(crate) async fn handle(
        &self,
        message_id: &str,
        body: &str,
        receive_count: u32,
        deadline: Deadline,
    ) -> Handled {
        let span = info_span!(
            "record",
            message_id,
            conversation_id = tracing::field::Empty
        );
        // The vault port's reads (exists, get, list) take no deadline; in
        // this scope the Azure retry layer sees the record's all the same, so
        // a Retry-After on a read longer than the record has left hands the
        // record back at once instead of sleeping through it.
        let archive = || async {
            let archiver = self.archiver().await;
            with_deadline(deadline, archiver.archive_raw(body, deadline)).await
        };
        async {
            let mut result = archive().await;
            if let Err(e) = &result
                && e.is_access_refused()
                && self.reload().await
            {
                info!("retrying with the re-read settings secret");
                result = archive().await;
            }
            self.metrics.record(&result);
            let requeue_after = match &result {
                Ok(outcome) => {
                    if let Outcome::Archived(a) = outcome {
                        tracing::Span::current()
                            .record("conversation_id", a.conversation_id.as_str());
                    }
                    None
                }
                Err(e) => {
                    let class = e.class();
                    match class {
                        ErrorClass::Permanent => {
                            error!(error = %e, "record failed; needs attention")
                        }
                        ErrorClass::Invalid => warn!(error = %e, "invalid record"),
                        _ => warn!(error = %e, ?class, "record will be retried"),
                    }
                    self.policy.delay(class, receive_count, e.retry_after())
                }
            };
            Handled {
                result,
                requeue_after,
            }
        }
        .instrument(span)
        .await
    }

    /// [`Router::handle`] on a task of its own, so that a panic anywhere in
    /// this record's archive (a library, an arithmetic slip on a hostile
    /// header) fails this record only: it comes back as
    /// [`ArchiveError::Crashed`], counted and logged, with the queue's default
    /// visibility (a bug does not go away on a quick retry), while the other
    /// records of the batch go on. Dropping the returned future aborts the
    /// task (a Lambda record cut off at its deadline, a worker shutting down),
    /// so no archive outlives the wait for it.
    pub(crate) async fn handle_isolated(
        self: &Arc<Self>,
        message_id: &str,
        body: &str,
        receive_count: u32,
        deadline: Deadline,
    ) -> Handled {
        let router = Arc::clone(self);
        let (id, text) = (message_id.to_string(), body.to_string());
        let mut task = AbortOnDrop(tokio::spawn(async move {
            router.handle(&id, &text, receive_count, deadline).await
        }));
        let failure = match (&mut task.0).await {
            Ok(handled) => return handled,
            Err(e) if e.is_panic() => panic_text(e.into_panic()),
            Err(_) => "its task was cancelled".to_string(),
        };
        error!(message_id, reason = %failure, "record failed; its archive panicked (a bug)");
        let result = Err(ArchiveError::Crashed(failure));
        self.metrics.record(&result);
        Handled {
            result,
            requeue_after: None,
        }
    }

    /// Re-read the secret after a rejected credential; rebuild the archiver
    /// when it changed. Returns whether anything changed.
    async fn reload(&self) -> bool {
        let Some(secret) = &self.secret else {
            return false;
        };
        match secret.reread().await {
            Ok(Some(values)) => match self.base.clone().with_secret(&values).build() {
                Ok((a, v)) => {
                    *self.archiver.write().await = (Arc::new(a), v);
                    // A new vault client counts from zero.
                    self.azure_retries_seen.store(0, Ordering::Relaxed);
                    true
                }
                Err(e) => {
                    let e = tvault_aws::error_text(&e);
                    error!(error = %e, "the re-read settings secret is not usable");
                    false
                }
            },
            Ok(None) => false,
            Err(e) => {
                error!(error = %e, "could not re-read the settings secret");
                false
            }
        }
    }
}

/// Aborts the task when dropped, so the task lives no longer than its awaiter.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The text of a panic, at most 200 characters (the full message and its
/// location are on stderr from the panic hook).
fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string());
    let mut short: String = text.chars().take(200).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    format!("panicked: {short}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering::Relaxed;
    use tvault_core::ports::SystemClock;
    use tvault_testkit::panic::{PanickingSource, transcript_event};

    /// A router over a memory vault whose Genesys source panics on any call.
    fn router_whose_source_panics() -> Arc<Router> {
        let vault = tvault_vault::open("memory://").unwrap();
        let archiver = Archiver::new(
            vault.clone(),
            Some(Arc::new(PanickingSource)),
            Arc::new(SystemClock),
        );
        Arc::new(Router::from_parts(archiver, vault))
    }

    #[tokio::test]
    async fn a_panicking_record_fails_alone_and_the_router_goes_on() {
        let router = router_whose_source_panics();
        let lifecycle = tvault_testkit::pipeline::customer_end("boom-8d3f4c1e");
        let h = router
            .handle_isolated("m-1", &lifecycle, 1, Deadline::NONE)
            .await;
        let Err(ArchiveError::Crashed(why)) = &h.result else {
            panic!("expected a crashed record, got {:?}", h.result)
        };
        assert!(why.contains("panics on purpose"), "{why}");
        assert_eq!(
            h.result.as_ref().unwrap_err().class(),
            ErrorClass::Permanent
        );
        assert_eq!(h.requeue_after, None, "the queue's default visibility");

        let ok = router
            .handle_isolated("m-2", &transcript_event("calm-8d3f4c1e"), 1, Deadline::NONE)
            .await;
        assert!(
            matches!(ok.result, Ok(Outcome::Archived(_))),
            "{:?}",
            ok.result
        );
        assert_eq!(router.metrics.failed.load(Relaxed), 1);
        assert_eq!(router.metrics.archived.load(Relaxed), 1);
    }
}
