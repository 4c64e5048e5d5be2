//! [`Router`]: one queued record in, one [`Handled`] out.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::RwLock;
use tracing::{Instrument, Span, error, info, warn};
use tvault_aws::secret::SecretSource;
use tvault_core::event::classify;
use tvault_core::ports::Deadline;
use tvault_core::requeue::RequeuePolicy;
use tvault_core::{ArchiveError, Archiver, ErrorClass, Outcome};
use tvault_vault::ObjectVault;
use tvault_vault::azure::retry::with_deadline;

use chrono::{NaiveDate, Utc};
use tvault_aws::witness::SsmWitness;

use crate::seal::{SealFailure, SealReport, seal_and_witness};
use crate::settings::{Settings, SettingsError, Wiring};
use crate::telemetry::{self, Retries, Tally, Totals};

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
    wiring: RwLock<Wiring>,
    azure_retries: Retries,
    genesys_retries: Retries,
    base: Settings,
    secret: Option<SecretSource>,
    policy: RequeuePolicy,
    pub(crate) tally: Tally,
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
        let wiring = settings.wire()?;
        Ok(Self::wired(wiring, settings, None))
    }

    /// A router over an archiver built elsewhere, and the vault whose request
    /// counters feed the metrics (usually the archiver's own). No secret: a
    /// refused credential is not re-read.
    pub fn from_parts(archiver: Archiver, vault: Arc<ObjectVault>) -> Self {
        let wiring = Wiring {
            archiver: Arc::new(archiver),
            vault,
            genesys: None,
        };
        Self::wired(wiring, Settings::default(), None)
    }

    fn wired(wiring: Wiring, base: Settings, secret: Option<SecretSource>) -> Self {
        // Every counter at zero from the start, in whatever recorder the
        // process installed.
        telemetry::announce();
        Self {
            wiring: RwLock::new(wiring),
            azure_retries: Retries::default(),
            genesys_retries: Retries::default(),
            base,
            secret,
            policy: RequeuePolicy::default(),
            tally: Tally::default(),
            witness: None,
        }
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
        let wiring = settings.wire()?;
        Ok(Self {
            witness,
            ..Self::wired(wiring, base, Some(source))
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
        let vault = self.vault().await;
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
        self.wiring.read().await.archiver.clone()
    }

    /// The current vault (for a readiness check).
    pub async fn vault(&self) -> Arc<ObjectVault> {
        self.wiring.read().await.vault.clone()
    }

    /// The records this router has handled since it started.
    pub fn totals(&self) -> Totals {
        self.tally.totals()
    }

    /// Add the retries the vault and the Genesys client counted since the
    /// last call to the facade's counters.
    pub(crate) async fn publish_retries(&self) {
        let wiring = self.wiring.read().await.clone();
        if let Some(stats) = wiring.vault.azure_stats() {
            self.azure_retries
                .publish(telemetry::AZURE_RETRIES, stats.retries);
        }
        if let Some(genesys) = &wiring.genesys {
            self.genesys_retries
                .publish(telemetry::GENESYS_RETRIES, genesys.retries());
        }
    }

    /// Archive one EventBridge event text. `receive_count` is SQS's
    /// `ApproximateReceiveCount` (1 when not queued). Runs in the record's
    /// span ([`Router::process`]), whose `conversation_id` it fills in as soon
    /// as the event names one, so every line about the record carries it.
    pub(crate) async fn handle(
        &self,
        body: &str,
        receive_count: u32,
        deadline: Deadline,
    ) -> Handled {
        // The vault port's reads (exists, get, list) take no deadline; in
        // this scope the Azure retry layer sees the record's all the same, so
        // a Retry-After on a read longer than the record has left hands the
        // record back at once instead of sleeping through it.
        let archive = || async {
            let archiver = self.archiver().await;
            with_deadline(deadline, async {
                let event = classify(body)?;
                if let Some(id) = event.conversation_id() {
                    Span::current().record("conversation_id", id.as_str());
                }
                archiver.archive(event, None, deadline).await
            })
            .await
        };
        {
            let mut result = archive().await;
            if let Err(e) = &result
                && e.is_access_refused()
                && self.reload().await
            {
                info!("retrying with the re-read settings secret");
                result = archive().await;
            }
            let requeue_after = match &result {
                Ok(_) => None,
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
    }

    /// [`Router::handle`] on a task of its own (in the caller's span), so
    /// that a panic anywhere in this record's archive (a library, an
    /// arithmetic slip on a hostile header) fails this record only: it comes
    /// back as [`ArchiveError::Crashed`], logged, with the queue's default
    /// visibility (a bug does not go away on a quick retry), while the other
    /// records of the batch go on. Dropping the returned future aborts the
    /// task (a Lambda record cut off at its deadline, a worker shutting down),
    /// so no archive outlives the wait for it.
    pub(crate) async fn handle_isolated(
        self: &Arc<Self>,
        body: &str,
        receive_count: u32,
        deadline: Deadline,
    ) -> Handled {
        let router = Arc::clone(self);
        let text = body.to_string();
        let mut task = AbortOnDrop(tokio::spawn(
            async move { router.handle(&text, receive_count, deadline).await }
                .instrument(Span::current()),
        ));
        let failure = match (&mut task.0).await {
            Ok(handled) => return handled,
            Err(e) if e.is_panic() => panic_text(e.into_panic()),
            Err(_) => "its task was cancelled".to_string(),
        };
        error!(reason = %failure, "record failed; its archive panicked (a bug)");
        let result = Err(ArchiveError::Crashed(failure));
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
            Ok(Some(values)) => match self.base.clone().with_secret(&values).wire() {
                Ok(wiring) => {
                    *self.wiring.write().await = wiring;
                    // New clients count from zero.
                    self.azure_retries.restart();
                    self.genesys_retries.restart();
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

    fn record(id: &str, body: &str) -> crate::Record {
        crate::Record {
            message_id: id.into(),
            body: body.into(),
            receive_count: 1,
            sent_at_ms: None,
        }
    }

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
            .process(&record("m-1", &lifecycle), Deadline::NONE, None)
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

        let calm = transcript_event("calm-8d3f4c1e");
        let ok = router
            .process(&record("m-2", &calm), Deadline::NONE, None)
            .await;
        assert!(
            matches!(ok.result, Ok(Outcome::Archived(_))),
            "{:?}",
            ok.result
        );
        assert_eq!(router.tally.failed.load(Relaxed), 1);
        assert_eq!(router.tally.archived.load(Relaxed), 1);
    }
}
