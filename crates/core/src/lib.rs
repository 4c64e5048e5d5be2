//! # tvault-core
//!
//! The domain of transcript-vault, with no I/O: what arrives, what is kept,
//! and in which order it is written. Adapters for the outside world live in
//! their own crates and implement the ports defined here.
//!
//! | module | what it holds |
//! |---|---|
//! | [`event`] | splitting SQS / EventBridge input and classifying Genesys events |
//! | [`transcript`] | the normalized transcript (`transcript-vault/transcript/v1`) and its draft |
//! | [`manifest`] | the manifest (`transcript-vault/manifest/v1`) and the generation |
//! | [`keys`] | object names inside the vault container |
//! | [`id`] | safe identifiers and safe file names |
//! | [`hash`] | SHA-256 helpers |
//! | [`ports`] | the [`ports::Vault`] and [`ports::ConversationSource`] traits, deadlines, the clock |
//! | [`archive`] | the [`archive::Archiver`]: one event in, one committed generation out |
//! | [`backoff`] | the retry vocabulary: jittered backoff, `Retry-After`, whether a wait fits the deadline |
//! | [`outcome`] | how a record ends: outcomes, errors and their classification |
//! | [`days`] | inclusive ranges of UTC days (`--from`/`--to`) |
//! | [`reconcile`] | expected conversations against the vault, per day |
//! | [`ledger`] | the hash-chained ledger of sealed days: format, Merkle tree, seal, audit |
//! | [`read`] | reading generations back, checked against their manifests |
//! | [`requeue`] | how long a failed queued record stays hidden ([`requeue::RequeuePolicy`]) |
//! | [`secret`] | [`secret::Secret`], the redacting string for credentials |
//! | [`text`] | percent-encoding for URLs, an error with its causes for messages |
//!
//! ```
//! use tvault_core::event::{classify, Classified};
//! let raw = r#"{"detail-type":"v2.detail.events.conversation.{id}.customer.end",
//!   "detail":{"topicName":"v2.detail.events.conversation.c-1.customer.end",
//!   "eventBody":{"conversationId":"c-1","mediaType":"MESSAGE","eventTime":1789896700123}}}"#;
//! assert!(matches!(classify(raw), Ok(Classified::Lifecycle(_))));
//! ```

pub mod archive;
pub mod backoff;
pub mod days;
pub mod event;
pub mod hash;
pub mod id;
pub mod keys;
pub mod ledger;
pub mod manifest;
pub mod outcome;
pub mod ports;
pub mod read;
pub mod reconcile;
pub mod requeue;
pub mod secret;
pub mod text;
pub mod transcript;

pub use archive::Archiver;
pub use id::{AttachmentId, ConversationId};
pub use outcome::{ArchiveError, ErrorClass, Outcome};
