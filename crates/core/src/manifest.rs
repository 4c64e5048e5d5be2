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

    /// A manifest as the archive writes it: one object of each role, one missing attachment.
    fn written() -> serde_json::Value {
        let entry = |path: &str, role| ObjectEntry {
            path: path.into(),
            role,
            sha256: "ab".repeat(32),
            size: 3,
            content_type: "application/json".into(),
            attachment_id: None,
            source_url: None,
        };
        let mut attachment = entry("conversations/c/attachments/a/x.jpg", Role::Attachment);
        attachment.attachment_id = Some(AttachmentId::new("a").unwrap());
        attachment.source_url =
            Some("https://api-downloads.mypurecloud.ie/api/v2/downloads/d".into());
        let m = Manifest {
            schema: MANIFEST_SCHEMA.into(),
            conversation_id: ConversationId::new("c").unwrap(),
            generation: "0123456789abcdef".into(),
            archived_at: "2026-09-20T09:32:01.417Z".into(),
            trigger: Trigger {
                kind: TriggerKind::Lifecycle,
                topic: Some("v2.detail.events.conversation.c.customer.end".into()),
                event_id: Some("e".into()),
            },
            conversation: ConversationSummary {
                start_time: None,
                end_time: None,
                media_type: Some("MESSAGE".into()),
                message_count: 5,
                attachment_count: 2,
            },
            objects: vec![
                entry(
                    "conversations/c/transcript.0123456789abcdef.json",
                    Role::Transcript,
                ),
                entry(
                    "conversations/c/source/event.0123456789abcdef.json",
                    Role::Source,
                ),
                attachment,
            ],
            missing: vec![Missing {
                attachment_id: AttachmentId::new("b").unwrap(),
                reason: "gone".into(),
            }],
        };
        serde_json::from_slice(&m.to_bytes()).unwrap()
    }

    fn parse(v: &serde_json::Value) -> Result<Manifest, String> {
        Manifest::from_slice(v.to_string().as_bytes())
    }

    #[test]
    fn manifest_with_other_schema_is_refused() {
        // Complete in every other field, so only the schema tag can refuse it.
        let mut v = written();
        assert!(parse(&v).is_ok());
        v["schema"] = "transcript-vault/manifest/v2".into();
        assert_eq!(
            parse(&v).unwrap_err(),
            r#"unknown schema "transcript-vault/manifest/v2""#
        );
    }

    #[test]
    fn a_manifest_missing_any_required_field_is_refused_naming_it() {
        // docs/vault-format.md, "Manifest": every field shown is always
        // written; only values Genesys may not give (times, topic, event id,
        // media type) may be null, and `sourceUrl`/`attachmentId` belong to
        // attachments.
        let required: [(&[&str], &str); 18] = [
            (&[], "schema"),
            (&[], "conversationId"),
            (&[], "generation"),
            (&[], "archivedAt"),
            (&[], "trigger"),
            (&[], "conversation"),
            (&[], "objects"),
            (&[], "missing"),
            (&["trigger"], "kind"),
            (&["conversation"], "messageCount"),
            (&["conversation"], "attachmentCount"),
            (&["objects", "0"], "path"),
            (&["objects", "0"], "role"),
            (&["objects", "0"], "sha256"),
            (&["objects", "0"], "size"),
            (&["objects", "0"], "contentType"),
            (&["missing", "0"], "attachmentId"),
            (&["missing", "0"], "reason"),
        ];
        for (parent, field) in required {
            let mut v = written();
            let mut at = &mut v;
            for p in parent {
                at = match p.parse::<usize>() {
                    Ok(i) => &mut at[i],
                    Err(_) => &mut at[*p],
                };
            }
            assert!(
                at.as_object_mut().unwrap().remove(field).is_some(),
                "{parent:?}.{field} is in a written manifest"
            );
            let err = parse(&v).expect_err(field);
            assert!(
                err.contains(&format!("missing field `{field}`")),
                "{parent:?}.{field}: {err}"
            );
        }
    }
}
