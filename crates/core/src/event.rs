//! Recognising and classifying what arrives: SQS records, EventBridge events,
//! Genesys lifecycle events and transcript-carrying events.
//!
//! Every row of the "What happens to each input" table in `docs/architecture.md`
//! maps to one [`Classified`] variant or one [`InvalidInput`] error. Parsing
//! works on `serde_json::Value` so that unknown and missing fields are
//! tolerated (every Genesys field is optional), while a field that is present
//! with the wrong type is a precise error.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::id::{AttachmentId, ConversationId, IdError};
use crate::transcript::{
    AttachmentRef, Draft, DraftMessage, Sender, TimeError, from_epoch_millis, parse_time,
};

/// Topic suffixes of the conversation lifecycle events that trigger an archive.
/// The EventBridge rule in `deploy/aws/template.yaml` subscribes to exactly
/// these (`deploy/checks/test_templates.py` reads this line to check it).
pub const LIFECYCLE_SUFFIXES: [&str; 2] = ["customer.end", "acw"];

/// A lifecycle topic that is heard but deliberately not archived, and why.
pub const USER_END_SUFFIX: &str = "user.end";

/// Why `user.end` is skipped: the conversation may go on after it.
pub const USER_END_REASON: &str = "user.end fires for each agent session, transfers included, \
    while the conversation may go on; customer.end marks the customer's end and acw follows, \
    so those trigger the archive";

/// Media types this archive keeps (Genesys writes them upper-case).
pub const DIGITAL_MEDIA: [&str; 2] = ["MESSAGE", "CHAT"];

/// Why a record cannot be processed. The text names the field and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidInput {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("not an event: {0}")]
    NotAnEvent(String),
    #[error("no conversation id: {0}")]
    NoConversationId(String),
    #[error("unsafe {field} {value:?}: {reason}")]
    UnsafeId {
        field: String,
        value: String,
        reason: IdError,
    },
    #[error("{field}: expected {expected}, found {found}")]
    WrongType {
        field: String,
        expected: &'static str,
        found: String,
    },
    #[error("{field}: {reason}")]
    BadValue { field: String, reason: String },
}

/// What we know about the event that triggered an archive (for the manifest
/// and the logs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventInfo {
    /// EventBridge `id`.
    pub id: Option<String>,
    /// The concrete topic (`detail.topicName`), else `detail-type`.
    pub topic: Option<String>,
    /// EventBridge `source`.
    pub source: Option<String>,
    /// Best event time: `eventBody.eventTime`, `detail.timestamp`, then `time`.
    pub time: Option<DateTime<Utc>>,
    /// The EventBridge event exactly as received (kept under `source/`).
    pub raw: String,
}

/// A conversation lifecycle event: archive by pulling from the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleEvent {
    pub conversation_id: ConversationId,
    pub media_type: Option<String>,
    pub info: EventInfo,
}

/// An event that carries its transcript (`detail` or `detail.eventBody` has
/// `conversationId` and `messages[]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranscriptEvent {
    pub draft: Draft,
    pub info: EventInfo,
}

/// An event acknowledged but not archived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub topic: String,
    pub reason: String,
}

/// The classification of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Classified {
    Lifecycle(LifecycleEvent),
    Transcript(TranscriptEvent),
    Skipped(Skipped),
}

impl Classified {
    /// The conversation this event is about, if it names one.
    pub fn conversation_id(&self) -> Option<&ConversationId> {
        match self {
            Classified::Lifecycle(e) => Some(&e.conversation_id),
            Classified::Transcript(e) => Some(&e.draft.conversation_id),
            Classified::Skipped(_) => None,
        }
    }
}

/// One record found in an input document, before classification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRecord {
    /// The SQS `messageId`, when the record came wrapped in SQS.
    pub message_id: Option<String>,
    /// The EventBridge event text (an SQS body, or the document itself).
    pub body: Result<String, InvalidInput>,
}

/// Split one input document into records: an SQS event (`Records[]`) gives one
/// per record, an SQS record gives its body, anything else is one event.
pub fn split_document(text: &str) -> Result<Vec<RawRecord>, InvalidInput> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| InvalidInput::NotJson(e.to_string()))?;
    let Some(obj) = value.as_object() else {
        return Err(InvalidInput::NotAnEvent(format!(
            "expected a JSON object, found {}",
            kind(&value)
        )));
    };
    if let Some(records) = obj.get("Records") {
        let records = records
            .as_array()
            .ok_or_else(|| wrong_type("Records", "an array", records))?;
        return Ok(records
            .iter()
            .enumerate()
            .map(|(i, r)| sqs_record(r, &format!("Records[{i}]")))
            .collect());
    }
    if obj.contains_key("body")
        && (obj.contains_key("messageId") || obj.contains_key("receiptHandle"))
    {
        return Ok(vec![sqs_record(&value, "record")]);
    }
    Ok(vec![RawRecord {
        message_id: None,
        body: Ok(text.to_string()),
    }])
}

fn sqs_record(r: &Value, at: &str) -> RawRecord {
    let message_id = r
        .get("messageId")
        .and_then(Value::as_str)
        .map(str::to_string);
    let body = match r.get("body") {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(wrong_type(&format!("{at}.body"), "a string", other)),
        None => Err(InvalidInput::NotAnEvent(format!("{at} has no body"))),
    };
    RawRecord { message_id, body }
}

/// Classify one EventBridge event (the text of an SQS body, or a document).
pub fn classify(raw: &str) -> Result<Classified, InvalidInput> {
    let value: Value =
        serde_json::from_str(raw).map_err(|e| InvalidInput::NotJson(e.to_string()))?;
    let event = value.as_object().ok_or_else(|| {
        InvalidInput::NotAnEvent(format!("expected a JSON object, found {}", kind(&value)))
    })?;
    let detail = match event.get("detail") {
        Some(Value::Object(d)) => d,
        Some(other) => return Err(wrong_type("detail", "an object", other)),
        None => {
            return Err(InvalidInput::NotAnEvent(
                "no `detail` object (expected an EventBridge event, an SQS record or an SQS event)"
                    .into(),
            ));
        }
    };
    let (body, body_path) = match detail.get("eventBody") {
        Some(Value::Object(b)) => (b, "detail.eventBody"),
        Some(other) => return Err(wrong_type("detail.eventBody", "an object", other)),
        None => (detail, "detail"),
    };
    let topic = opt_str(detail, "detail", "topicName")?.or(opt_str(event, "", "detail-type")?);

    let mut info = EventInfo {
        id: opt_str(event, "", "id")?,
        topic: topic.clone(),
        source: opt_str(event, "", "source")?,
        time: None,
        raw: raw.to_string(),
    };
    info.time = event_time(event, detail, body, body_path)?;

    if body.contains_key("messages") {
        let conversation_id = conversation_id(body, body_path, topic.as_deref())?;
        let draft = transcript_draft(conversation_id, body, body_path)?;
        return Ok(Classified::Transcript(TranscriptEvent { draft, info }));
    }

    let Some(topic) = topic else {
        return Err(InvalidInput::NotAnEvent(
            "no topic (`detail.topicName` or `detail-type`) and no `messages[]`".into(),
        ));
    };
    if !is_lifecycle_topic(&topic) {
        let reason = if conversation_topic_suffix(&topic) == Some(USER_END_SUFFIX) {
            USER_END_REASON
        } else {
            "not a topic this archive uses"
        };
        return Ok(Classified::Skipped(Skipped {
            reason: reason.into(),
            topic,
        }));
    }
    // The EventBridge rule cannot match a null mediaType (CloudFormation
    // refuses null in a YAML event pattern), so neither does the classifier:
    // an explicit null is a media type this archive does not keep.
    if body.get("mediaType") == Some(&Value::Null) {
        return Ok(Classified::Skipped(Skipped {
            reason: "media type null is not archived".into(),
            topic,
        }));
    }
    let media_type = opt_str(body, body_path, "mediaType")?;
    if let Some(m) = &media_type
        && !DIGITAL_MEDIA.iter().any(|d| d.eq_ignore_ascii_case(m))
    {
        return Ok(Classified::Skipped(Skipped {
            reason: format!("media type {m} is not archived"),
            topic,
        }));
    }
    let conversation_id = conversation_id(body, body_path, Some(&topic))?;
    Ok(Classified::Lifecycle(LifecycleEvent {
        conversation_id,
        media_type,
        info,
    }))
}

/// Is this a `v2.detail.events.conversation.{id}.{customer.end|acw}` topic
/// (concrete or with the `{id}` placeholder)?
pub fn is_lifecycle_topic(topic: &str) -> bool {
    conversation_topic_suffix(topic).is_some_and(|suffix| LIFECYCLE_SUFFIXES.contains(&suffix))
}

/// `customer.end` of `v2.detail.events.conversation.{id}.customer.end`.
fn conversation_topic_suffix(topic: &str) -> Option<&str> {
    topic
        .strip_prefix("v2.detail.events.conversation.")
        .and_then(|rest| rest.split_once('.'))
        .map(|(_, suffix)| suffix)
}

/// The conversation id a concrete topic names, if any.
pub fn topic_conversation_id(topic: &str) -> Option<&str> {
    let rest = topic
        .strip_prefix("v2.detail.events.conversation.")
        .or_else(|| topic.strip_prefix("v2.conversations."))?;
    let (id, _) = rest.split_once('.')?;
    (id != "{id}").then_some(id)
}

fn conversation_id(
    body: &Map<String, Value>,
    at: &str,
    topic: Option<&str>,
) -> Result<ConversationId, InvalidInput> {
    let from_body = opt_str(body, at, "conversationId")?;
    let from_topic = topic.and_then(topic_conversation_id);
    let field = format!("{at}.conversationId");
    let (field, id) = match (from_body, from_topic) {
        (Some(b), Some(t)) if b != t => {
            return Err(InvalidInput::BadValue {
                field,
                reason: format!("{b:?} does not match the topic's conversation id {t:?}"),
            });
        }
        (Some(b), _) => (field, b),
        (None, Some(t)) => ("detail.topicName".to_string(), t.to_string()),
        (None, None) => {
            return Err(InvalidInput::NoConversationId(format!(
                "{field} is missing and the topic names none"
            )));
        }
    };
    ConversationId::new(id.clone()).map_err(|reason| InvalidInput::UnsafeId {
        field,
        value: shorten(&id),
        reason,
    })
}

fn event_time(
    event: &Map<String, Value>,
    detail: &Map<String, Value>,
    body: &Map<String, Value>,
    body_path: &str,
) -> Result<Option<DateTime<Utc>>, InvalidInput> {
    // Only lifecycle bodies promise epoch milliseconds; other topics (voice
    // transcription, say) send ISO text here, and we skip those anyway.
    let topic = detail
        .get("topicName")
        .and_then(Value::as_str)
        .unwrap_or("");
    if is_lifecycle_topic(topic)
        || event
            .get("detail-type")
            .and_then(Value::as_str)
            .is_some_and(is_lifecycle_topic)
    {
        match body.get("eventTime") {
            None | Some(Value::Null) => {}
            Some(Value::Number(n)) => {
                let ms = n.as_i64().ok_or_else(|| {
                    wrong_type(
                        &format!("{body_path}.eventTime"),
                        "epoch milliseconds (an integer)",
                        &Value::Number(n.clone()),
                    )
                })?;
                return from_epoch_millis(ms)
                    .map(Some)
                    .map_err(|e| InvalidInput::BadValue {
                        field: format!("{body_path}.eventTime"),
                        reason: format!("{ms} {e}"),
                    });
            }
            Some(other) => {
                return Err(wrong_type(
                    &format!("{body_path}.eventTime"),
                    "epoch milliseconds (an integer)",
                    other,
                ));
            }
        }
    }
    if let Some(t) = opt_time(detail, "detail", "timestamp")? {
        return Ok(Some(t));
    }
    opt_time(event, "", "time")
}

fn transcript_draft(
    conv: ConversationId,
    body: &Map<String, Value>,
    at: &str,
) -> Result<Draft, InvalidInput> {
    let field = format!("{at}.messages");
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| wrong_type(&field, "an array", &body["messages"]))?;
    let mut draft = Draft::new(conv);
    draft.media_type = opt_str(body, at, "mediaType")?;
    draft.start_time = opt_time(body, at, "startTime")?;
    draft.end_time = opt_time(body, at, "endTime")?;
    for (i, m) in messages.iter().enumerate() {
        let mat = format!("{field}[{i}]");
        let m = m
            .as_object()
            .ok_or_else(|| wrong_type(&mat, "an object", m))?;
        let mut attachments = Vec::new();
        if let Some(id) = opt_str(m, &mat, "attachmentId")? {
            attachments.push(attachment_id(&format!("{mat}.attachmentId"), id)?);
        }
        if let Some(list) = m.get("attachmentIds") {
            let list = list
                .as_array()
                .ok_or_else(|| wrong_type(&format!("{mat}.attachmentIds"), "an array", list))?;
            for (j, id) in list.iter().enumerate() {
                let f = format!("{mat}.attachmentIds[{j}]");
                let id = id.as_str().ok_or_else(|| wrong_type(&f, "a string", id))?;
                attachments.push(attachment_id(&f, id.to_string())?);
            }
        }
        let id = opt_str(m, &mat, "messageId")?.or(opt_str(m, &mat, "id")?);
        draft.messages.push(DraftMessage {
            timestamp: opt_time(m, &mat, "timestamp")?,
            direction: opt_str(m, &mat, "direction")?,
            purpose: opt_str(m, &mat, "participantPurpose")?.or(opt_str(m, &mat, "purpose")?),
            sender: Sender {
                participant_id: opt_str(m, &mat, "participantId")?,
                name: opt_str(m, &mat, "senderName")?,
                ..Default::default()
            },
            text: opt_str(m, &mat, "text")?,
            attachments: attachments
                .into_iter()
                .map(|a| {
                    (
                        a,
                        AttachmentRef {
                            message_id: id.clone(),
                            ..Default::default()
                        },
                    )
                })
                .collect(),
            id,
            ..Default::default()
        });
    }
    Ok(draft)
}

fn attachment_id(field: &str, id: String) -> Result<AttachmentId, InvalidInput> {
    AttachmentId::new(id.clone()).map_err(|reason| InvalidInput::UnsafeId {
        field: field.to_string(),
        value: shorten(&id),
        reason,
    })
}

fn opt_str(obj: &Map<String, Value>, at: &str, key: &str) -> Result<Option<String>, InvalidInput> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(wrong_type(&join(at, key), "a string", other)),
    }
}

fn opt_time(
    obj: &Map<String, Value>,
    at: &str,
    key: &str,
) -> Result<Option<DateTime<Utc>>, InvalidInput> {
    match opt_str(obj, at, key)? {
        None => Ok(None),
        Some(s) => parse_time(&s)
            .map(Some)
            .map_err(|e| InvalidInput::BadValue {
                field: join(at, key),
                reason: match e {
                    TimeError::NotRfc3339(e) => {
                        format!("{:?} is not an RFC 3339 time ({e})", shorten(&s))
                    }
                    out_of_range => format!("{:?} {out_of_range}", shorten(&s)),
                },
            }),
    }
}

fn join(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_string()
    } else {
        format!("{at}.{key}")
    }
}

fn wrong_type(field: &str, expected: &'static str, found: &Value) -> InvalidInput {
    InvalidInput::WrongType {
        field: field.to_string(),
        expected,
        found: kind(found).to_string(),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Quote at most 60 characters of untrusted input in an error message.
fn shorten(s: &str) -> String {
    if s.chars().count() <= 60 {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(60).collect::<String>())
    }
}
