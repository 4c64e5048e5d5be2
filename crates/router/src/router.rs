//! [`Router`]: one queued record in, one [`Handled`] out.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::RwLock;
use tracing::{Instrument, error, info, info_span, warn};
use tvault_aws::secret::SecretSource;
use tvault_core::ports::Deadline;
use tvault_core::retry::RequeuePolicy;
use tvault_core::{ArchiveError, Archiver, ErrorClass, Outcome};
use tvault_vault::ObjectVault;

use crate::metrics::Metrics;
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
    pub metrics: Metrics,
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
        Ok(Self {
            archiver: RwLock::new((Arc::new(archiver), vault)),
            azure_retries_seen: AtomicU64::new(0),
            base: settings,
            secret: None,
            policy: RequeuePolicy::default(),
            metrics: Metrics::default(),
        })
    }

    /// Settings from the environment; when `TVAULT_SECRET_ID` is set, the
    /// secret is read through the standard AWS configuration and overlaid.
    pub async fn from_env() -> Result<Self, SettingsError> {
        let base = Settings::from_env();
        let config = match base.secret_id {
            Some(_) => Some(tvault_aws::sdk_config().await),
            None => None,
        };
        Self::load(base, config.as_ref()).await
    }

    /// A router over `base`, reading the settings secret with `config` when
    /// `base.secret_id` names one.
    pub async fn load(
        base: Settings,
        config: Option<&tvault_aws::SdkConfig>,
    ) -> Result<Self, SettingsError> {
        let (Some(id), Some(config)) = (base.secret_id.clone(), config) else {
            return Self::new(base);
        };
        // TVAULT_SECRET_MIN_REREAD_SECONDS shortens the one-minute floor
        // between re-reads (tests; an operator mid-rotation).
        let min_reread = std::env::var("TVAULT_SECRET_MIN_REREAD_SECONDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .map_or(tvault_aws::secret::REREAD_INTERVAL, Duration::from_secs);
        let source = SecretSource::new(config, id).with_min_reread(min_reread);
        let values = source.get().await?;
        let settings = base.clone().with_secret(&values);
        let (archiver, vault) = settings.build()?;
        Ok(Self {
            archiver: RwLock::new((Arc::new(archiver), vault)),
            azure_retries_seen: AtomicU64::new(0),
            base,
            secret: Some(source),
            policy: RequeuePolicy::default(),
            metrics: Metrics::default(),
        })
    }

    /// The current archiver.
    pub async fn archiver(&self) -> Arc<Archiver> {
        self.archiver.read().await.0.clone()
    }

    /// The metrics line for what happened since the last one (see
    /// [`Metrics::emf_line`]), with the Azure retries the vault counted.
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
    pub async fn handle(
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
        async {
            let mut result = self.archiver().await.archive_raw(body, deadline).await;
            if let Err(e) = &result
                && e.is_access_refused()
                && self.reload().await
            {
                info!("retrying with the re-read settings secret");
                result = self.archiver().await.archive_raw(body, deadline).await;
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
