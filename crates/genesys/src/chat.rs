//! Legacy chat recordings: `media` `chat`, its lines in `transcript[]` of
//! `ChatMessage` (platform-client-sdk `Recording.md`, `ChatMessage.md`), not
//! in `messagingTranscript`. A chat is not a message conversation: the
//! messages API answers 404 for it, so the recording is the only source.
//!
//! Each line maps to the transcript's usual message fields (see
//! docs/vault-format.md): `id` (else `message`), `utc`, `participantPurpose`
//! (customer = inbound), `user` (the agent), `from` (else
//! `senderCommunicationId`) as the address, and `body` as the text. Lines whose
//! `bodyType` is not `STANDARD` (notices, members joining and leaving, media
//! requests) are kept and marked with it; only typing indicators without any
//! text are dropped, since they hold nothing a reader could want.

use chrono::{DateTime, Utc};
use serde_json::Value;
use tvault_core::transcript::{DraftMessage, Sender, parse_time};

use crate::models::ChatMessage;
use crate::response::direction_of;

/// Whether a recording's `media` names a legacy chat.
pub fn is_chat(media: Option<&str>) -> bool {
    media.is_some_and(|m| m.eq_ignore_ascii_case("chat"))
}

/// One chat line as a draft message, or `None` for a typing indicator
/// without text.
pub fn chat_message(m: &ChatMessage) -> Option<DraftMessage> {
    let body_type = m
        .body_type
        .as_deref()
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .map(str::to_ascii_uppercase);
    let text = m.body.clone();
    let blank = text.as_deref().is_none_or(|t| t.trim().is_empty());
    if body_type.as_deref() == Some("TYPING") && blank {
        return None;
    }
    let user = m.user.as_ref();
    Some(DraftMessage {
        id: m.id.clone().or_else(|| m.message.clone()),
        timestamp: utc(m.utc.as_ref()),
        direction: m.participant_purpose.as_deref().map(direction_of),
        purpose: m.participant_purpose.clone(),
        sender: Sender {
            participant_id: None,
            user_id: user.and_then(|u| u.id.clone()),
            external_contact_id: None,
            name: user.and_then(|u| u.name.clone().or_else(|| u.display_name.clone())),
            address: m.from.clone().or_else(|| m.sender_communication_id.clone()),
        },
        text,
        attachments: Vec::new(),
        // Ordinary lines carry no mark, like every messaging message.
        body_type: body_type.filter(|b| b != "STANDARD"),
    })
}

/// `ChatMessage.utc`: RFC 3339, or epoch milliseconds as digits or a JSON
/// integer. Anything else (a fraction, `1e30`, a number past what a time can
/// hold) is dropped with a warning; the raw recording is kept under `source/`.
pub fn utc(v: Option<&Value>) -> Option<DateTime<Utc>> {
    let v = v?;
    let parsed = match v {
        Value::Null => return None,
        Value::String(s) if is_integer(s) => s.parse::<i64>().ok().and_then(from_millis),
        Value::String(s) => parse_time(s.trim()).ok(),
        Value::Number(n) => n.as_i64().and_then(from_millis),
        _ => None,
    };
    if parsed.is_none() {
        tracing::warn!(field = "transcript.utc", value = %v, "unreadable time in a Genesys chat recording");
    }
    parsed
}

fn is_integer(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

fn from_millis(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn line(v: Value) -> ChatMessage {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn utc_is_read_as_rfc3339_or_epoch_milliseconds() {
        let want = parse_time("2026-09-21T15:02:15.000Z").unwrap();
        assert_eq!(utc(Some(&json!("2026-09-21T15:02:15.000Z"))), Some(want));
        assert_eq!(utc(Some(&json!("2026-09-21T17:02:15+02:00"))), Some(want));
        assert_eq!(utc(Some(&json!("1790002935000"))), Some(want));
        assert_eq!(utc(Some(&json!(1_790_002_935_000_i64))), Some(want));
    }

    #[test]
    fn hostile_utc_values_are_dropped_without_a_panic() {
        for v in [
            json!(1e30),
            json!(u64::MAX),
            json!(i64::MAX),
            json!("99999999999999999999999"),
            json!("-"),
            json!("yesterday"),
            json!(1.5),
            json!(true),
            json!({}),
        ] {
            assert_eq!(utc(Some(&v)), None, "{v}");
        }
        assert_eq!(utc(Some(&Value::Null)), None);
        assert_eq!(utc(None), None);
    }

    #[test]
    fn an_agent_line_maps_purpose_direction_user_and_address() {
        let m = chat_message(&line(json!({
            "message": "m-2", "body": "I have reset it.", "bodyType": "standard",
            "from": "comm-agent", "utc": "1790002935000", "participantPurpose": "agent",
            "user": {"id": "u-1", "displayName": "Sam O.", "name": "Sam Okafor"}
        })))
        .unwrap();
        assert_eq!(m.id.as_deref(), Some("m-2"));
        assert_eq!(m.direction.as_deref(), Some("outbound"));
        assert_eq!(m.purpose.as_deref(), Some("agent"));
        assert_eq!(m.sender.user_id.as_deref(), Some("u-1"));
        assert_eq!(m.sender.name.as_deref(), Some("Sam Okafor"));
        assert_eq!(m.sender.address.as_deref(), Some("comm-agent"));
        assert_eq!(m.text.as_deref(), Some("I have reset it."));
        assert_eq!(m.body_type, None, "STANDARD carries no mark");
        assert!(m.timestamp.is_some());
    }

    #[test]
    fn a_customer_line_is_inbound_and_falls_back_to_the_sender_communication() {
        let m = chat_message(&line(json!({
            "id": "m-1", "body": "Hello", "senderCommunicationId": "comm-cust",
            "participantPurpose": "Customer"
        })))
        .unwrap();
        assert_eq!(m.direction.as_deref(), Some("inbound"));
        assert_eq!(m.sender.address.as_deref(), Some("comm-cust"));
        assert_eq!(m.sender.name, None);
    }

    #[test]
    fn notices_and_member_changes_are_kept_and_marked_empty_typing_is_dropped() {
        let join = chat_message(&line(json!({"id": "j", "bodyType": "MEMBERJOIN",
            "participantPurpose": "agent", "user": {"name": "Sam Okafor"}})))
        .unwrap();
        assert_eq!(join.body_type.as_deref(), Some("MEMBERJOIN"));
        let notice = chat_message(&line(
            json!({"id": "n", "bodyType": "notice", "body": "Chat transferred"}),
        ))
        .unwrap();
        assert_eq!(notice.body_type.as_deref(), Some("NOTICE"));
        assert_eq!(notice.text.as_deref(), Some("Chat transferred"));
        assert!(chat_message(&line(json!({"id": "t", "bodyType": "TYPING"}))).is_none());
        assert!(
            chat_message(&line(json!({"id": "t", "bodyType": "typing", "body": " "}))).is_none()
        );
        // A typing line that carries text keeps it: text is never dropped.
        let typed = chat_message(&line(
            json!({"id": "t2", "bodyType": "TYPING", "body": "my card number is"}),
        ))
        .unwrap();
        assert_eq!(typed.text.as_deref(), Some("my card number is"));
        assert_eq!(typed.body_type.as_deref(), Some("TYPING"));
    }
}
