//! The ports: what the archive needs from the outside world. Adapters in
//! other crates implement them (`tvault-vault` the [`Vault`], the Genesys
//! crate the [`ConversationSource`]).

use std::fmt;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;

use crate::id::{AttachmentId, ConversationId};
use crate::transcript::{AttachmentRef, Draft};

/// A stream of bytes with I/O errors, as attachments arrive and leave.
pub type ByteStream = BoxStream<'static, Result<Bytes, std::io::Error>>;

/// The latest moment a piece of work may still use. Adapters compare it with
/// the clock to decide whether a `Retry-After` can be waited out or must be
/// handed back to the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline(Option<Instant>);

impl Deadline {
    /// No limit (the command line).
    pub const NONE: Deadline = Deadline(None);

    /// A limit at `at`.
    pub fn at(at: Instant) -> Self {
        Deadline(Some(at))
    }

    /// Time left at `now`; `None` for no limit.
    pub fn remaining(&self, now: Instant) -> Option<Duration> {
        self.0.map(|d| d.saturating_duration_since(now))
    }

    /// Whether waiting `wait` from `now` still ends before the deadline.
    pub fn allows(&self, now: Instant, wait: Duration) -> bool {
        self.remaining(now).is_none_or(|left| wait < left)
    }
}

/// How a create-only write ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    /// The object did not exist and now does.
    Created,
    /// The object already existed with the same bytes (a redelivery).
    AlreadyPresent,
}

/// A stored object: its hash and size, and whether this call created it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub sha256: String,
    pub size: u64,
    pub outcome: PutOutcome,
}

/// What the caller knows about a stream before it arrives, to check it on the way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expect {
    pub size: Option<u64>,
    pub sha256: Option<String>,
}

/// An object as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub path: String,
    pub size: u64,
    pub last_modified: DateTime<Utc>,
    pub e_tag: Option<String>,
}

/// Errors of the vault port.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The name is taken by other bytes. Never overwritten; reported loudly.
    #[error(
        "integrity error: {path} already exists with other content (stored sha256 {stored}, new {new}); left untouched"
    )]
    Integrity {
        path: String,
        stored: String,
        new: String,
    },
    /// A stream did not match what was expected of it; nothing was stored.
    #[error("{path}: received bytes do not match: {reason}; nothing stored")]
    ContentMismatch { path: String, reason: String },
    /// Reading the incoming stream failed; nothing was stored.
    #[error("{path}: reading the incoming bytes failed: {source}; nothing stored")]
    Body {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} not found in the vault")]
    NotFound { path: String },
    /// The store refused the credential (expired, rotated, or lacking a right).
    #[error("vault {op} {path}: access refused: {message}")]
    Access {
        op: &'static str,
        path: String,
        message: String,
    },
    /// The store failed. `transient` says whether a retry may help.
    #[error("vault {op} {path}: {message}")]
    Backend {
        op: &'static str,
        path: String,
        message: String,
        transient: bool,
    },
}

/// The write-once vault.
///
/// Every write is create-only. Writing a name that exists with the same bytes
/// is success ([`PutOutcome::AlreadyPresent`]); with other bytes it is
/// [`VaultError::Integrity`] and the stored object is left as it was.
#[async_trait]
pub trait Vault: Send + Sync + fmt::Debug {
    /// Create `path` with `bytes` (small objects whose bytes are known).
    async fn put_new(
        &self,
        path: &str,
        bytes: Bytes,
        content_type: &str,
        deadline: Deadline,
    ) -> Result<Stored, VaultError>;

    /// Create `path` from a stream, in bounded memory, hashing on the way.
    /// If `expect` states a size or hash the bytes must match, or nothing is stored.
    async fn put_new_stream(
        &self,
        path: &str,
        body: ByteStream,
        content_type: &str,
        expect: &Expect,
        deadline: Deadline,
    ) -> Result<Stored, VaultError>;

    /// Whether `path` exists.
    async fn exists(&self, path: &str) -> Result<bool, VaultError>;

    /// Read a whole (small) object.
    async fn get(&self, path: &str) -> Result<Bytes, VaultError>;

    /// Read an object as a stream.
    async fn get_stream(&self, path: &str) -> Result<ByteStream, VaultError>;

    /// Every object whose name starts with `prefix` (a `/`-terminated
    /// folder, or empty), once each, in byte order of name, as the backend
    /// pages them in: memory stays at about one page (or one directory)
    /// whatever the listing's length. An error ends the stream.
    fn list_stream<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, Result<Listed, VaultError>>;

    /// [`list_stream`](Vault::list_stream), collected: for listings known to
    /// be small (one conversation's objects, the ledger's names).
    async fn list(&self, prefix: &str) -> Result<Vec<Listed>, VaultError> {
        use futures::TryStreamExt;
        self.list_stream(prefix).try_collect().await
    }
}

/// A raw payload to keep under `source/`, exactly as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceDoc {
    /// Our name for it (`recordings`, `messages-bulk`, ...): `[a-z0-9-]+`.
    pub name: String,
    pub bytes: Bytes,
}

/// A transcript fetched from the API, with the responses it came from.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub draft: Draft,
    pub sources: Vec<SourceDoc>,
}

/// Attachment ids resolved to download references.
#[derive(Debug, Clone, Default)]
pub struct Resolved {
    /// One entry per id that was found.
    pub found: Vec<(AttachmentId, AttachmentRef)>,
    /// Ids that could not be resolved for good, with the reason.
    pub missing: Vec<(AttachmentId, String)>,
    pub sources: Vec<SourceDoc>,
}

/// Errors of the conversation source.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The transcript is not produced yet (HTTP 202, or nothing to read yet).
    #[error("not ready: {reason}")]
    NotReady {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// Cannot be fetched for good (404, 410; for attachments also a URL or
    /// redirect the source refuses, or a 401/403 to a request made without
    /// credentials): record as missing.
    #[error("gone: {reason}")]
    Gone { reason: String },
    /// Worth retrying later (429, 5xx, timeouts, a Retry-After past the deadline).
    #[error("{reason}")]
    Transient {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// Credentials were refused, or a permission is missing.
    #[error("access refused: {reason}")]
    Access { reason: String },
    /// The API answered something we cannot use.
    #[error("bad response: {reason}")]
    BadResponse { reason: String },
}

/// Where transcripts and attachment bytes come from (the Genesys Cloud API).
#[async_trait]
pub trait ConversationSource: Send + Sync {
    /// Fetch the transcript of a conversation.
    async fn fetch_transcript(
        &self,
        conversation: &ConversationId,
        deadline: Deadline,
    ) -> Result<Fetched, SourceError>;

    /// Find download references for attachment ids (`(message id, attachment id)`).
    async fn resolve_attachments(
        &self,
        conversation: &ConversationId,
        wanted: &[(Option<String>, AttachmentId)],
        deadline: Deadline,
    ) -> Result<Resolved, SourceError>;

    /// Open the bytes of one attachment.
    async fn open_attachment(
        &self,
        attachment: &AttachmentRef,
        deadline: Deadline,
    ) -> Result<ByteStream, SourceError>;
}

/// The time, injected so tests do not fight the clock.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
