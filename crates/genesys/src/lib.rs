//! # tvault-genesys
//!
//! The Genesys Cloud Platform API client of transcript-vault. It implements
//! [`tvault_core::ports::ConversationSource`]: pull a conversation's
//! transcript, resolve attachment ids to URLs, and stream attachment bytes.
//! Genesys does not push transcripts; a lifecycle event triggers the pull.
//! It also lists the conversations that ended on a range of days
//! ([`GenesysSource::ended_conversations`]), for reconciliation.
//!
//! | module | role |
//! |---|---|
//! | [`config`] | region or base URL, credentials, the validating builder (the environment is `tvault_router::Settings`'s) |
//! | [`hosts`] | where requests may go: the region table of Genesys's hosts, local addresses, redirects |
//! | [`tuning`] | retry, timeout and pacing defaults, each with its reason |
//! | [`auth`] | the shared OAuth access token (single-flight renewal) |
//! | [`pacer`] | staying below the per-token request allowance |
//! | [`client`] | HTTP: auth, pacing, retries, error classification |
//! | [`models`] | serde models of the Genesys responses (all fields optional) |
//! | [`recordings`] | recordings API → [`Draft`](tvault_core::transcript::Draft) |
//! | [`chat`] | legacy chat recordings (`transcript[]` of `ChatMessage`) → draft messages |
//! | [`messages`] | messages API: fallback transcript, attachment resolution |
//! | [`response`] | reading any Genesys response: JSON bodies, times, ids, values quoted in errors |
//! | [`download`] | attachment bytes through the downloads API and signed URLs |
//! | [`analytics`] | the conversation-details listing `tvault reconcile` compares against |
//! | [`permissions`] | `tvault check`'s probes: may the OAuth client call each API it needs |
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use tvault_core::{Archiver, ports::{ConversationSource, Deadline, SystemClock}};
//! use tvault_core::secret::Secret;
//! let config = tvault_genesys::Config::builder()
//!     .client_id("my-client-id")
//!     .client_secret(Secret::new("my-client-secret"))
//!     .region("eu-west-1")
//!     .build()?;
//! let source: Arc<dyn ConversationSource> = Arc::new(tvault_genesys::GenesysSource::new(config)?);
//! let vault = tvault_vault::open("./vault")?;
//! let archiver = Archiver::new(vault, Some(source), Arc::new(SystemClock));
//! archiver.archive_raw(r#"{"detail": {}}"#, Deadline::NONE).await.ok();
//! # Ok(()) }
//! ```

pub mod analytics;
pub mod auth;
pub mod chat;
pub mod client;
pub mod config;
pub mod download;
pub mod hosts;
pub mod messages;
pub mod models;
pub mod pacer;
pub mod permissions;
pub mod recordings;
pub mod response;
pub mod tuning;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tracing::Instrument;
use tvault_core::days::DayRange;
use tvault_core::ports::{
    ByteStream, ConversationSource, Deadline, Fetched, Resolved, SourceError,
};
use tvault_core::transcript::AttachmentRef;
use tvault_core::{AttachmentId, ConversationId};

pub use analytics::{ListError, ListProgress, Listing};
pub use config::{Config, ConfigBuilder, ConfigError, Endpoints};
pub use tuning::Tuning;

/// The Genesys Cloud conversation source. One per process: it holds the
/// shared access token and the request pacer, so wrap it in an `Arc` and
/// share it between all concurrent archives.
#[derive(Debug)]
pub struct GenesysSource {
    client: client::Client,
}

impl GenesysSource {
    /// A source for a validated configuration.
    pub fn new(config: Config) -> Result<Self, ConfigError> {
        Ok(Self {
            client: client::Client::new(config)?,
        })
    }

    /// The hosts in use.
    pub fn endpoints(&self) -> &Endpoints {
        self.client.endpoints()
    }

    /// The retry, timeout and pacing settings in use.
    pub fn tuning(&self) -> &Tuning {
        self.client.tuning()
    }

    /// `POST /oauth/token` attempts so far (for tests and metrics).
    pub fn token_requests(&self) -> u64 {
        self.client.token_requests()
    }

    /// Requests sent again after a 429, 502, 503, 504 or a lost connection
    /// (for the retries metric).
    pub fn retries(&self) -> u64 {
        self.client.retries()
    }

    /// `POST /oauth/token` (client credentials) now, for `tvault check`:
    /// proves the login host answers and accepts the client.
    pub async fn check_token(&self, deadline: Deadline) -> Result<(), SourceError> {
        self.client.token(deadline).await.map(|_| ())
    }

    /// One harmless request to each API the archive and reconcile use (see
    /// [`permissions::PROBES`]), for `tvault check`: whether the OAuth
    /// client's roles let it in. `deadline` is called once per probe.
    pub async fn check_permissions(
        &self,
        deadline: &dyn Fn() -> Deadline,
    ) -> Vec<(permissions::Probe, permissions::Verdict)> {
        permissions::check(&self.client, deadline).await
    }

    /// `GET /api/v2/analytics/conversations/details/jobs/availability`: the
    /// analytics data is complete up to this instant.
    pub async fn data_availability(&self) -> Result<DateTime<Utc>, SourceError> {
        analytics::data_availability(&self.client).await
    }

    /// The message and chat conversations that started on `days` (UTC) and
    /// have ended, from the analytics details query or async jobs (see
    /// [`analytics::ended_conversations`]). Refused when `days` ends after
    /// the analytics `dataAvailabilityDate`.
    pub async fn ended_conversations(
        &self,
        days: DayRange,
        progress: &(dyn Fn(ListProgress) + Send + Sync),
    ) -> Result<Listing, ListError> {
        let span = tracing::info_span!("genesys_listing", range = %days);
        analytics::ended_conversations(&self.client, days, progress)
            .instrument(span)
            .await
    }
}

#[async_trait]
impl ConversationSource for GenesysSource {
    /// `GET /api/v2/conversations/{id}/recordings?formatId=NONE`, falling back
    /// to the messages API (see [`recordings::fetch`]).
    async fn fetch_transcript(
        &self,
        conversation: &ConversationId,
        deadline: Deadline,
    ) -> Result<Fetched, SourceError> {
        let span = tracing::info_span!("genesys_transcript", conversation_id = %conversation);
        recordings::fetch(&self.client, conversation, deadline)
            .instrument(span)
            .await
    }

    /// `GET /api/v2/conversations/messages/{conversationId}/messages/{messageId}`
    /// per message (see [`messages::resolve`]).
    async fn resolve_attachments(
        &self,
        conversation: &ConversationId,
        wanted: &[(Option<String>, AttachmentId)],
        deadline: Deadline,
    ) -> Result<Resolved, SourceError> {
        let span = tracing::info_span!("genesys_resolve", conversation_id = %conversation);
        messages::resolve(&self.client, conversation, wanted, deadline)
            .instrument(span)
            .await
    }

    /// `GET /api/v2/downloads/{downloadId}?issueRedirect=false`, then the
    /// signed URL without credentials (see [`download::open`]).
    async fn open_attachment(
        &self,
        attachment: &AttachmentRef,
        deadline: Deadline,
    ) -> Result<ByteStream, SourceError> {
        let span = tracing::info_span!(
            "genesys_attachment",
            message_id = attachment.message_id.as_deref().unwrap_or("")
        );
        download::open(&self.client, attachment, deadline)
            .instrument(span)
            .await
    }
}
