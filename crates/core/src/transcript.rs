//! The normalized transcript (`transcript-vault/transcript/v1`) and the draft it is built from.
//!
//! A transcript holds only what identifies a conversation's content: its
//! messages, texts, senders, times, and each attachment's id, name, declared
//! type and size and object name. It holds no time of ours and no downloaded
//! hash, so the same conversation heard about twice serialises to the same
//! bytes, and so to the same generation.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::id::{AttachmentId, ConversationId};
use crate::keys;

/// Schema tag written into every transcript.
pub const TRANSCRIPT_SCHEMA: &str = "transcript-vault/transcript/v1";

/// Format a time the one way the vault writes times: RFC 3339, UTC, milliseconds.
pub fn fmt_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Why a time from outside is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error(transparent)]
    NotRfc3339(#[from] chrono::ParseError),
    /// RFC 3339 has four-digit years only: a time that lands before 0001 or
    /// after 9999 once converted to UTC (`0001-01-01T00:30:00+01:00`) could
    /// not be written back, nor sorted as text with the others.
    #[error("is outside the years 0001-9999 once converted to UTC")]
    OutOfRange,
}

/// Parse an RFC 3339 time into UTC; its UTC year must be 0001-9999.
pub fn parse_time(s: &str) -> Result<DateTime<Utc>, TimeError> {
    let t = DateTime::parse_from_rfc3339(s)?.with_timezone(&Utc);
    in_range(t)
}

/// A time given in epoch milliseconds (Genesys's `eventTime`); its UTC year
/// must be 0001-9999.
pub fn from_epoch_millis(ms: i64) -> Result<DateTime<Utc>, TimeError> {
    let t = Utc
        .timestamp_millis_opt(ms)
        .single()
        .ok_or(TimeError::OutOfRange)?;
    in_range(t)
}

fn in_range(t: DateTime<Utc>) -> Result<DateTime<Utc>, TimeError> {
    if (1..=9999).contains(&t.year()) {
        Ok(t)
    } else {
        Err(TimeError::OutOfRange)
    }
}

/// A normalized transcript, as stored at `conversations/{id}/transcript.{sha16}.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Transcript {
    pub schema: String,
    pub conversation_id: ConversationId,
    pub media_type: Option<String>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub participants: Vec<Participant>,
    pub messages: Vec<Message>,
}

/// Who took part, as far as the messages tell.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Participant {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participant_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_contact_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The sender of one message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sender {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participant_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_contact_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The channel address the message came from (Genesys `from`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// One message, in time order within the transcript.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub id: Option<String>,
    pub timestamp: Option<String>,
    pub direction: Option<String>,
    pub purpose: Option<String>,
    pub sender: Sender,
    pub text: Option<String>,
    pub attachments: Vec<AttachmentEntry>,
    /// What kind of entry a legacy chat line is, when it is not an ordinary
    /// message (`MEMBERJOIN`, `NOTICE`, ...: Genesys `ChatMessage.bodyType`).
    /// Absent for ordinary messages and for every messaging transcript, so
    /// transcripts archived before it existed keep their bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_type: Option<String>,
}

/// An attachment as the transcript names it. Its downloaded hash is in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentEntry {
    pub attachment_id: AttachmentId,
    pub name: Option<String>,
    pub content_type: Option<String>,
    pub size: Option<u64>,
    /// The attachment's object name in the vault.
    pub path: String,
}

impl Transcript {
    /// The canonical bytes: pretty JSON with a final newline. Field order is
    /// fixed by the struct, and there are no maps, so equal transcripts give
    /// equal bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serialising plain structs of strings and numbers cannot fail.
        let mut v = serde_json::to_vec_pretty(self).unwrap_or_default();
        v.push(b'\n');
        v
    }

    /// Number of distinct attachments.
    pub fn attachment_count(&self) -> usize {
        self.messages
            .iter()
            .flat_map(|m| &m.attachments)
            .map(|a| &a.attachment_id)
            .collect::<BTreeSet<_>>()
            .len()
    }

    /// The time of the last message that has one.
    pub fn last_message_time(&self) -> Option<DateTime<Utc>> {
        self.messages
            .iter()
            .filter_map(|m| m.timestamp.as_deref())
            .filter_map(|t| parse_time(t).ok())
            .max()
    }
}

/// Where an attachment's bytes can be fetched, and what Genesys says about them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttachmentRef {
    pub message_id: Option<String>,
    pub name: Option<String>,
    pub content_type: Option<String>,
    pub size: Option<u64>,
    /// SHA-256 as Genesys states it (hex), to check the download against.
    pub sha256: Option<String>,
    /// Download URL; `None` until resolved through the messages API.
    pub url: Option<String>,
}

/// One message before normalization.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DraftMessage {
    pub id: Option<String>,
    pub timestamp: Option<DateTime<Utc>>,
    pub direction: Option<String>,
    pub purpose: Option<String>,
    pub sender: Sender,
    pub text: Option<String>,
    pub attachments: Vec<(AttachmentId, AttachmentRef)>,
    /// See [`Message::body_type`].
    pub body_type: Option<String>,
}

/// A transcript as gathered from an event or the API, before it is normalized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub conversation_id: ConversationId,
    pub media_type: Option<String>,
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
    pub messages: Vec<DraftMessage>,
}

/// An attachment to fetch and where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedAttachment {
    pub attachment_id: AttachmentId,
    pub path: String,
    pub source: AttachmentRef,
}

impl Draft {
    /// An empty draft for `conversation_id`.
    pub fn new(conversation_id: ConversationId) -> Self {
        Self {
            conversation_id,
            media_type: None,
            start_time: None,
            end_time: None,
            messages: vec![],
        }
    }

    /// Attachment ids that still need a download URL.
    pub fn unresolved_attachments(&self) -> Vec<(Option<String>, AttachmentId)> {
        self.messages
            .iter()
            .flat_map(|m| {
                m.attachments
                    .iter()
                    .map(move |(id, r)| (m.id.clone(), id.clone(), r))
            })
            .filter(|(_, _, r)| r.url.is_none())
            .map(|(m, id, _)| (m, id))
            .collect()
    }

    /// Normalize: messages in time order (then id, then arrival), one
    /// participant per distinct sender, every attachment given its path.
    /// Returns the transcript and the distinct attachments to fetch.
    pub fn build(&self) -> (Transcript, Vec<PlannedAttachment>) {
        let mut order: Vec<usize> = (0..self.messages.len()).collect();
        // `None` timestamps sort first under Option's order; put them last instead,
        // so an undated message never claims the start of a conversation.
        order.sort_by(|&a, &b| {
            let (ma, mb) = (&self.messages[a], &self.messages[b]);
            (ma.timestamp.is_none(), ma.timestamp, &ma.id, a).cmp(&(
                mb.timestamp.is_none(),
                mb.timestamp,
                &mb.id,
                b,
            ))
        });

        let mut participants: Vec<Participant> = Vec::new();
        let mut planned: Vec<PlannedAttachment> = Vec::new();
        let mut messages = Vec::with_capacity(order.len());
        for i in order {
            let m = &self.messages[i];
            let p = Participant {
                participant_id: m.sender.participant_id.clone(),
                purpose: m.purpose.clone(),
                user_id: m.sender.user_id.clone(),
                external_contact_id: m.sender.external_contact_id.clone(),
                name: m.sender.name.clone(),
            };
            if p != Participant::default() && !participants.contains(&p) {
                participants.push(p);
            }
            let mut attachments = Vec::with_capacity(m.attachments.len());
            for (id, r) in &m.attachments {
                let existing = planned.iter().find(|p| &p.attachment_id == id);
                let path = match existing {
                    Some(p) => p.path.clone(),
                    None => {
                        let path = keys::attachment(
                            &self.conversation_id,
                            id,
                            r.name.as_deref().unwrap_or("attachment"),
                        );
                        planned.push(PlannedAttachment {
                            attachment_id: id.clone(),
                            path: path.clone(),
                            source: r.clone(),
                        });
                        path
                    }
                };
                attachments.push(AttachmentEntry {
                    attachment_id: id.clone(),
                    name: r.name.clone(),
                    content_type: r.content_type.clone(),
                    size: r.size,
                    path,
                });
            }
            messages.push(Message {
                id: m.id.clone(),
                timestamp: m.timestamp.map(fmt_time),
                direction: m.direction.clone(),
                purpose: m.purpose.clone(),
                sender: m.sender.clone(),
                text: m.text.clone(),
                attachments,
                body_type: m.body_type.clone(),
            });
        }
        let first = self.messages.iter().filter_map(|m| m.timestamp).min();
        let transcript = Transcript {
            schema: TRANSCRIPT_SCHEMA.to_string(),
            conversation_id: self.conversation_id.clone(),
            media_type: self.media_type.clone(),
            start_time: self.start_time.or(first).map(fmt_time),
            end_time: self.end_time.map(fmt_time),
            participants,
            messages,
        };
        (transcript, planned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Option<DateTime<Utc>> {
        Some(parse_time(s).unwrap())
    }

    fn draft() -> Draft {
        let mut d = Draft::new(ConversationId::new("c1").unwrap());
        let att = AttachmentId::new("a1").unwrap();
        d.messages = vec![
            DraftMessage {
                id: Some("m2".into()),
                timestamp: t("2026-09-20T09:15:10.044Z"),
                text: Some("second".into()),
                ..Default::default()
            },
            DraftMessage {
                id: Some("m1".into()),
                timestamp: t("2026-09-20T10:14:03.512+01:00"),
                purpose: Some("customer".into()),
                text: Some("first".into()),
                attachments: vec![(
                    att,
                    AttachmentRef {
                        name: Some("../a b.jpg".into()),
                        ..Default::default()
                    },
                )],
                ..Default::default()
            },
            DraftMessage {
                id: Some("m0".into()),
                timestamp: None,
                text: Some("undated".into()),
                ..Default::default()
            },
        ];
        d
    }

    #[test]
    fn messages_are_put_in_time_order_with_undated_last() {
        let (tr, planned) = draft().build();
        let texts: Vec<_> = tr
            .messages
            .iter()
            .map(|m| m.text.clone().unwrap())
            .collect();
        assert_eq!(texts, ["first", "second", "undated"]);
        assert_eq!(
            tr.messages[0].timestamp.as_deref(),
            Some("2026-09-20T09:14:03.512Z")
        );
        assert_eq!(tr.start_time.as_deref(), Some("2026-09-20T09:14:03.512Z"));
        assert_eq!(planned.len(), 1);
        assert_eq!(planned[0].path, "conversations/c1/attachments/a1/a_b.jpg");
        assert_eq!(tr.messages[0].attachments[0].path, planned[0].path);
    }

    #[test]
    fn serialisation_is_deterministic_whatever_the_arrival_order() {
        let a = draft();
        let mut b = draft();
        b.messages.reverse();
        assert_eq!(a.build().0.to_bytes(), b.build().0.to_bytes());
    }

    #[test]
    fn body_type_is_written_only_when_set_so_messaging_bytes_stay_as_they_were() {
        let plain = String::from_utf8(draft().build().0.to_bytes()).unwrap();
        assert!(!plain.contains("bodyType"), "{plain}");
        let mut d = draft();
        d.messages[0].body_type = Some("NOTICE".into());
        let marked = String::from_utf8(d.build().0.to_bytes()).unwrap();
        assert_eq!(
            marked.matches("\"bodyType\": \"NOTICE\"").count(),
            1,
            "{marked}"
        );
    }

    #[test]
    fn times_outside_years_1_to_9999_in_utc_are_refused() {
        for bad in [
            "0000-06-01T00:00:00Z",
            "0001-01-01T00:30:00+01:00",
            "9999-12-31T23:30:00-01:00",
        ] {
            assert_eq!(parse_time(bad), Err(TimeError::OutOfRange), "{bad}");
        }
        assert!(matches!(
            parse_time("yesterday"),
            Err(TimeError::NotRfc3339(_))
        ));
        assert_eq!(
            fmt_time(parse_time("0001-01-01T00:30:00+00:30").unwrap()),
            "0001-01-01T00:00:00.000Z"
        );
        assert_eq!(
            fmt_time(parse_time("9999-12-31T23:59:59.999Z").unwrap()),
            "9999-12-31T23:59:59.999Z"
        );
        assert_eq!(
            from_epoch_millis(253_402_300_799_999).map(fmt_time),
            Ok("9999-12-31T23:59:59.999Z".into())
        );
        for bad in [253_402_300_800_000, -62_135_596_800_001, i64::MAX, i64::MIN] {
            assert_eq!(from_epoch_millis(bad), Err(TimeError::OutOfRange), "{bad}");
        }
        assert!(from_epoch_millis(-62_135_596_800_000).is_ok());
    }

    #[test]
    fn transcript_round_trips_through_json() {
        let (tr, _) = draft().build();
        let back: Transcript = serde_json::from_slice(&tr.to_bytes()).unwrap();
        assert_eq!(back, tr);
        assert_eq!(back.attachment_count(), 1);
    }
}
