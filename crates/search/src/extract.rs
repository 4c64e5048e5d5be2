//! What the index keeps of one generation, taken from its checked manifest,
//! transcript and raw payloads. Pure: no I/O.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tvault_core::manifest::Manifest;
use tvault_core::transcript::Transcript;

/// One participant as the result lists show it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Person {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_contact_id: Option<String>,
}

/// One message row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageDoc {
    pub seq: usize,
    pub message_id: Option<String>,
    pub time: Option<String>,
    pub direction: Option<String>,
    pub purpose: Option<String>,
    pub body_type: Option<String>,
    pub sender_name: Option<String>,
    pub sender_address: Option<String>,
    pub sender_external: Option<String>,
    pub sender_user: Option<String>,
    pub text: String,
    /// Attachment names, one per line.
    pub attachments: String,
    /// [`symbols`] of the text: its emoji as words the tokenizer keeps.
    pub symbols: String,
}

/// One generation, ready to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerationDoc {
    pub conversation: String,
    pub generation: String,
    pub day: NaiveDate,
    pub archived_at: String,
    pub transcript_sha256: String,
    pub media_type: Option<String>,
    pub message_type: Option<String>,
    pub queue: Option<String>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub people: Vec<Person>,
    /// Every name, address and id of participants and senders, for `--participant`.
    pub people_text: String,
    pub messages: Vec<MessageDoc>,
    pub attachment_count: usize,
    pub missing_count: usize,
}

/// Facts the transcript does not hold, from the raw payloads under `source/`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceFacts {
    /// Genesys `messageType` (`WEBMESSAGING`, `SMS`, `WHATSAPP`, `OPEN`, ...).
    pub message_type: Option<String>,
    /// Queue ids (and names where a payload gives one), in the order met.
    pub queues: Vec<String>,
}

impl SourceFacts {
    /// Read what a raw payload says; `name` is its name under `source/`
    /// (`event`, `recordings`, `conversation`). Anything unexpected is ignored:
    /// every Genesys field is optional.
    pub fn add(&mut self, name: &str, doc: &Value) {
        match name {
            // A lifecycle event's `eventBody.messageType` (FACTS.md,
            // "EventBridge envelope"; fixtures/genesys/eventbridge_*.json).
            "event" => {
                let body = doc
                    .pointer("/detail/eventBody")
                    .or_else(|| doc.get("detail"))
                    .unwrap_or(doc);
                if self.message_type.is_none()
                    && let Some(t) = body.get("messageType").and_then(Value::as_str)
                {
                    self.message_type = Some(t.to_uppercase());
                }
            }
            // `RecordingMessagingMessage.queue` (AddressableEntityRef: id and
            // selfUri; platform-client-sdk `build/docs/RecordingMessagingMessage.md`,
            // fixtures/genesys/api_get_conversation_recordings__messaging.json).
            "recordings" => {
                for rec in doc.as_array().into_iter().flatten() {
                    let lines = rec.get("messagingTranscript").and_then(Value::as_array);
                    for m in lines.into_iter().flatten() {
                        self.add_queue(m.get("queue"));
                    }
                }
            }
            // The messages API's participants carry `queue` too
            // (fixtures/genesys/api_get_message_conversation.json).
            "conversation" => {
                let ps = doc.get("participants").and_then(Value::as_array);
                for p in ps.into_iter().flatten() {
                    self.add_queue(p.get("queue"));
                }
            }
            _ => {}
        }
    }

    fn add_queue(&mut self, q: Option<&Value>) {
        let Some(q) = q else { return };
        for key in ["id", "name"] {
            if let Some(v) = q.get(key).and_then(Value::as_str)
                && !v.is_empty()
                && !self.queues.iter().any(|x| x == v)
            {
                self.queues.push(v.to_string());
            }
        }
    }
}

/// Which raw payloads [`SourceFacts::add`] reads, by their name under `source/`.
pub fn wanted_source(name: &str) -> bool {
    matches!(name, "event" | "recordings" | "conversation")
}

/// The name of a raw payload from its object name
/// (`conversations/{id}/source/{name}.{sha16}.json`, `-2` suffixes kept off).
pub fn source_name(path: &str) -> Option<&str> {
    let file = path.rsplit('/').next()?;
    let stem = file.strip_suffix(".json")?;
    let (name, _) = stem.rsplit_once('.')?;
    let base = match name.rsplit_once('-') {
        Some((b, n)) if n.bytes().all(|c| c.is_ascii_digit()) => b,
        _ => name,
    };
    Some(base)
}

/// The document of one generation.
pub fn generation_doc(
    day: NaiveDate,
    manifest: &Manifest,
    transcript_sha256: &str,
    transcript: &Transcript,
    facts: &SourceFacts,
) -> GenerationDoc {
    let mut people: Vec<Person> = Vec::new();
    let mut words: Vec<&str> = Vec::new();
    for p in &transcript.participants {
        let person = Person {
            purpose: p.purpose.clone(),
            name: p.name.clone(),
            address: None,
            external_contact_id: p.external_contact_id.clone(),
        };
        if !people.contains(&person) {
            people.push(person);
        }
        words.extend(
            [
                &p.name,
                &p.external_contact_id,
                &p.user_id,
                &p.participant_id,
            ]
            .into_iter()
            .flatten()
            .map(String::as_str),
        );
    }
    let mut messages =
        Vec::with_capacity(transcript.messages.len().min(crate::schema::MAX_MESSAGES));
    for (seq, m) in transcript
        .messages
        .iter()
        .enumerate()
        .take(crate::schema::MAX_MESSAGES)
    {
        let s = &m.sender;
        // An address belongs to the sender who used it: the first person of
        // that name and purpose without one gets it.
        if let Some(addr) = &s.address
            && let Some(p) = people
                .iter_mut()
                .find(|p| p.address.is_none() && p.name == s.name && p.purpose == m.purpose)
        {
            p.address = Some(addr.clone());
        }
        words.extend(
            [
                &s.name,
                &s.address,
                &s.external_contact_id,
                &s.user_id,
                &s.participant_id,
            ]
            .into_iter()
            .flatten()
            .map(String::as_str),
        );
        let text = m.text.clone().unwrap_or_default();
        let attachments = m
            .attachments
            .iter()
            .filter_map(|a| a.name.as_deref())
            .collect::<Vec<_>>()
            .join("\n");
        messages.push(MessageDoc {
            seq,
            message_id: m.id.clone(),
            time: m.timestamp.clone(),
            direction: m.direction.clone(),
            purpose: m.purpose.clone(),
            body_type: m.body_type.clone(),
            sender_name: s.name.clone(),
            sender_address: s.address.clone(),
            sender_external: s.external_contact_id.clone(),
            sender_user: s.user_id.clone(),
            symbols: symbols(&format!("{text}\n{attachments}")),
            text,
            attachments,
        });
    }
    let mut seen = std::collections::BTreeSet::new();
    words.retain(|w| seen.insert(*w));
    GenerationDoc {
        conversation: manifest.conversation_id.to_string(),
        generation: manifest.generation.clone(),
        day,
        archived_at: manifest.archived_at.clone(),
        transcript_sha256: transcript_sha256.to_string(),
        media_type: transcript
            .media_type
            .clone()
            .or_else(|| manifest.conversation.media_type.clone())
            .map(|m| m.to_uppercase()),
        message_type: facts.message_type.clone(),
        queue: (!facts.queues.is_empty()).then(|| facts.queues.join(" ")),
        start_time: transcript.start_time.clone(),
        end_time: transcript.end_time.clone(),
        people,
        people_text: words.join("\n"),
        messages,
        attachment_count: transcript.attachment_count(),
        missing_count: manifest.missing.len(),
    }
}

/// Whether `c` is a pictograph (emoji and the symbol blocks they live in).
/// `unicode61` treats these as separators, so they are indexed as words of
/// their own: [`symbol_word`].
pub fn is_pictograph(c: char) -> bool {
    matches!(c as u32,
        0x2300..=0x23FF | 0x2600..=0x27BF | 0x2B00..=0x2BFF | 0x1F000..=0x1FAFF)
}

/// The word a pictograph is indexed as: `emoji` and its code point in hex.
pub fn symbol_word(c: char) -> String {
    format!("emoji{:x}", c as u32)
}

/// The pictographs of `text` as words, each once, in order.
pub fn symbols(text: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    for c in text.chars().filter(|c| is_pictograph(*c)) {
        let w = symbol_word(c);
        if !out.contains(&w) {
            out.push(w);
        }
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn source_names_drop_hash_and_counter() {
        assert_eq!(
            source_name("conversations/c/source/event.0123456789abcdef.json"),
            Some("event")
        );
        assert_eq!(
            source_name("conversations/c/source/recordings-2.0123456789abcdef.json"),
            Some("recordings")
        );
        assert_eq!(
            source_name("conversations/c/source/messages-bulk.0123456789abcdef.json"),
            Some("messages-bulk")
        );
        assert_eq!(source_name("conversations/c/transcript"), None);
    }

    #[test]
    fn message_type_and_queues_come_from_the_raw_payloads() {
        let mut f = SourceFacts::default();
        f.add(
            "event",
            &json!({"detail": {"eventBody": {"messageType": "whatsapp"}}}),
        );
        f.add(
            "recordings",
            &json!([{"messagingTranscript": [
                {"queue": {"id": "q-1"}}, {"queue": {"id": "q-1"}}, {"queue": "junk"}, {}
            ]}]),
        );
        f.add(
            "conversation",
            &json!({"participants": [{"queue": {"id": "q-2", "name": "Billing"}}]}),
        );
        f.add("recordings", &json!({"not": "an array"}));
        assert_eq!(f.message_type.as_deref(), Some("WHATSAPP"));
        assert_eq!(f.queues, ["q-1", "q-2", "Billing"]);
    }

    #[test]
    fn pictographs_become_words_once_each() {
        assert_eq!(symbols("Danke 🎉🎉 und ☕, ok"), "emoji1f389 emoji2615");
        assert_eq!(symbols("Grüße aus Köln"), "");
    }
}
