//! How an archive ends: the [`Outcome`] of a record that went well, and the
//! [`ArchiveError`] of one that did not, classified once in [`ArchiveError::class`].

use std::time::Duration;

use crate::event::InvalidInput;
use crate::id::ConversationId;
use crate::manifest::Missing;
use crate::ports::{SourceError, VaultError};

/// How one record ended, when it ended well.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A new generation was committed.
    Archived(Archived),
    /// This generation's manifest already existed: nothing was written.
    AlreadyInVault {
        conversation_id: ConversationId,
        generation: String,
    },
    /// Acknowledged and not archived (another topic or media type).
    Skipped { topic: String, reason: String },
}

/// Figures about a committed generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archived {
    pub conversation_id: ConversationId,
    pub generation: String,
    pub attachments: usize,
    pub missing: Vec<Missing>,
    /// Bytes this call wrote (objects that were already present do not count).
    pub bytes_written: u64,
}

/// How a failed record should be treated. Decided once, here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The input itself is wrong; retrying cannot help.
    Invalid,
    /// The transcript is not there yet; retry later with growing delay.
    NotReady,
    /// A passing fault (throttling, 5xx, network); retry.
    Transient,
    /// Something needs a person: an integrity conflict, refused credentials, missing configuration.
    Permanent,
}

/// Why a record failed.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("invalid input: {0}")]
    Invalid(#[from] InvalidInput),
    #[error("conversation {conversation}: {message}")]
    Config {
        conversation: ConversationId,
        message: String,
    },
    #[error("conversation {conversation}: Genesys: {source}")]
    Source {
        conversation: ConversationId,
        source: SourceError,
    },
    #[error("conversation {conversation}: {source}")]
    Vault {
        conversation: ConversationId,
        source: VaultError,
    },
    /// The record's deadline passed before its archive completed. What was
    /// written is content-named, so the next try completes it.
    #[error("the record's time ran out before its archive completed")]
    TimedOut,
    /// The archive of this record panicked: a bug. Only this record fails;
    /// the others of its batch go on.
    #[error("the archive of this record stopped unexpectedly ({0}); this is a bug")]
    Crashed(String),
}

impl ArchiveError {
    /// The one place errors are classified.
    pub fn class(&self) -> ErrorClass {
        match self {
            ArchiveError::Invalid(_) => ErrorClass::Invalid,
            ArchiveError::Config { .. } | ArchiveError::Crashed(_) => ErrorClass::Permanent,
            ArchiveError::TimedOut => ErrorClass::Transient,
            ArchiveError::Source { source, .. } => match source {
                SourceError::NotReady { .. } => ErrorClass::NotReady,
                SourceError::Transient { .. }
                | SourceError::Gone { .. }
                | SourceError::BadResponse { .. } => ErrorClass::Transient,
                SourceError::Access { .. } => ErrorClass::Permanent,
            },
            ArchiveError::Vault { source, .. } => match source {
                VaultError::Integrity { .. } | VaultError::Access { .. } => ErrorClass::Permanent,
                VaultError::Backend {
                    transient: false, ..
                } => ErrorClass::Permanent,
                _ => ErrorClass::Transient,
            },
        }
    }

    /// Whether a credential was refused (Genesys or the vault): the settings
    /// secret may have been rotated and is worth reading again.
    pub fn is_access_refused(&self) -> bool {
        matches!(
            self,
            ArchiveError::Source {
                source: SourceError::Access { .. },
                ..
            } | ArchiveError::Vault {
                source: VaultError::Access { .. },
                ..
            }
        )
    }

    /// A delay the other side asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ArchiveError::Source {
                source:
                    SourceError::NotReady { retry_after, .. }
                    | SourceError::Transient { retry_after, .. },
                ..
            } => *retry_after,
            _ => None,
        }
    }
}
