//! The manifest (`transcript-vault/manifest/v1`): the commit marker of one generation.

use serde::{Deserialize, Serialize};

use crate::hash::{sha16, sha256_hex};
use crate::id::{AttachmentId, ConversationId};

/// Schema tag written into every manifest.
pub const MANIFEST_SCHEMA: &str = "transcript-vault/manifest/v1";

/// What caused an archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TriggerKind {
    /// A Genesys lifecycle event; the transcript was pulled from the API.
    Lifecycle,
    /// An event that carried its transcript.
    TranscriptEvent,
    /// `tvault reconcile --backfill`.
    Backfill,
}

/// The event behind a generation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Trigger {
    pub kind: TriggerKind,
    pub topic: Option<String>,
    pub event_id: Option<String>,
}

/// Facts about the conversation, for readers who do not open the transcript.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationSummary {
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub media_type: Option<String>,
    pub message_count: usize,
    pub attachment_count: usize,
}

/// The role of an object in a generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Transcript,
    Source,
    Attachment,
}

/// One object a generation consists of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectEntry {
    /// Full object name inside the container.
    pub path: String,
    pub role: Role,
    /// Full lowercase hex SHA-256 of the object's bytes.
    pub sha256: String,
    pub size: u64,
    pub content_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment_id: Option<AttachmentId>,
    /// Where the attachment came from, without its query string (which may hold a signature).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_url: Option<String>,
}

/// An attachment that could not be fetched for good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Missing {
    pub attachment_id: AttachmentId,
    pub reason: String,
}

/// A manifest, stored at `conversations/{id}/manifest.{generation}.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema: String,
    pub conversation_id: ConversationId,
    pub generation: String,
    pub archived_at: String,
    pub trigger: Trigger,
    pub conversation: ConversationSummary,
    pub objects: Vec<ObjectEntry>,
    pub missing: Vec<Missing>,
}

impl Manifest {
    /// Pretty JSON with a final newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serialising plain structs of strings and numbers cannot fail.
        let mut v = serde_json::to_vec_pretty(self).unwrap_or_default();
        v.push(b'\n');
        v
    }

    /// Parse a stored manifest, checking its schema tag.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, String> {
        let m: Manifest = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if m.schema != MANIFEST_SCHEMA {
            return Err(format!("unknown schema {:?}", m.schema));
        }
        Ok(m)
    }

    /// The entry of the transcript object.
    pub fn transcript(&self) -> Option<&ObjectEntry> {
        self.objects.iter().find(|o| o.role == Role::Transcript)
    }
}

/// The generation of a conversation's content: the sha16 of the transcript's
/// full SHA-256 followed by one line per missing attachment id, sorted.
///
/// ```
/// # use tvault_core::manifest::generation;
/// let complete = generation("ab12", &[]);
/// let partial = generation("ab12", &["att-1"]);
/// assert_ne!(complete, partial);
/// assert_eq!(complete.len(), 16);
/// ```
pub fn generation(transcript_sha256: &str, missing_ids: &[&str]) -> String {
    let mut ids = missing_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let mut text = transcript_sha256.to_string();
    for id in ids {
        text.push('\n');
        text.push_str(id);
    }
    sha16(&sha256_hex(text.as_bytes())).to_string()
}

/// Drop the query string and fragment of a URL (signed URLs carry secrets there).
pub fn strip_query(url: &str) -> String {
    url.split(['?', '#']).next().unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_ignores_order_of_missing_ids() {
        assert_eq!(generation("x", &["b", "a"]), generation("x", &["a", "b"]));
        assert_ne!(generation("x", &["a"]), generation("y", &["a"]));
    }

    #[test]
    fn generation_text_is_documented_form() {
        // docs/vault-format.md: sha16(sha256("{transcript sha256}\n{id}\n{id}")).
        assert_eq!(
            generation("abc", &["z", "y"]),
            &sha256_hex(b"abc\ny\nz")[..16]
        );
        assert_eq!(generation("abc", &[]), &sha256_hex(b"abc")[..16]);
    }

    #[test]
    fn signed_url_loses_its_signature() {
        assert_eq!(
            strip_query("https://h/a/b.jpg?Expires=1&Signature=s#f"),
            "https://h/a/b.jpg"
        );
    }

    #[test]
    fn manifest_with_other_schema_is_refused() {
        let err = Manifest::from_slice(br#"{"schema":"x"}"#).unwrap_err();
        assert!(
            err.contains("missing field") || err.contains("unknown schema"),
            "{err}"
        );
    }
}
