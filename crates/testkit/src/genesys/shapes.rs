//! JSON bodies in the shapes of `fixtures/genesys/` (field names from the SDK models).

use serde_json::{Value, json};

use super::model::{
    CHAT_AGENT_COMMUNICATION, CHAT_AGENT_USER, CHAT_CUSTOMER_COMMUNICATION, FakeAttachment,
    FakeConversation, FakeMessage, Media,
};

const CUSTOMER_ADDRESS: &str = "3b2a1c0d-9e8f-4a7b-8c6d-5e4f3a2b1c0d";
const CHANNEL_ADDRESS: &str = "e0d1c2b3-a495-4867-9788-a6b5c4d3e2f1";
const EXTERNAL_CONTACT: &str = "2a3b4c5d-6e7f-4081-92a3-b4c5d6e7f809";
const AGENT_USER: &str = "4f3e2d1c-0b9a-4876-a5b4-c3d2e1f0a9b8";
/// The queue the sample's agent answered from
/// (`api_get_conversation_recordings__messaging.json`).
pub const QUEUE: &str = "7c6b5a49-3827-4165-9f8e-7d6c5b4a3928";

fn is_customer(m: &FakeMessage) -> bool {
    m.purpose == "customer"
}

/// Where an attachment is served: the downloads API, or a third-party host.
/// Genesys writes `https://api-downloads.{domain}/api/v2/downloads/{id}`, and
/// `https://api.{domain}/...` is seen too (FACTS.md, "Downloading attachment bytes").
pub fn attachment_url(base: &str, a: &FakeAttachment) -> String {
    let base = a.url_base.as_deref().unwrap_or(base);
    if a.third_party {
        format!("{base}/cdn/{}", a.download_id)
    } else {
        format!("{base}/api/v2/downloads/{}", a.download_id)
    }
}

/// `GET /api/v2/conversations/{id}/recordings` (`api_get_conversation_recordings__messaging.json`,
/// or `__chat.json` for a chat). A conversation still going on has a
/// recording without `endTime` (FACTS.md: "a recording ... without an end
/// time means the conversation has not ended").
pub fn recordings(base: &str, c: &FakeConversation) -> Value {
    if !c.with_recording {
        return json!([]);
    }
    if c.media == Media::Chat {
        return chat_recordings(c);
    }
    let transcript: Vec<Value> = c
        .messages
        .iter()
        .map(|m| {
            let mut v = json!({
                "from": if is_customer(m) { CUSTOMER_ADDRESS } else { CHANNEL_ADDRESS },
                "to": if is_customer(m) { CHANNEL_ADDRESS } else { CUSTOMER_ADDRESS },
                "timestamp": m.timestamp,
                "id": m.id,
                "purpose": m.purpose,
                "participantId": m.participant_id,
                "messageText": m.text,
            });
            if is_customer(m) {
                v["fromExternalContact"] = json!({"id": EXTERNAL_CONTACT, "firstName": "Jordan", "lastName": "Keane",
                    "selfUri": format!("/api/v2/externalcontacts/contacts/{EXTERNAL_CONTACT}")});
            } else {
                v["fromUser"] = json!({"id": AGENT_USER, "name": "Aoife Byrne", "selfUri": format!("/api/v2/users/{AGENT_USER}")});
                // `RecordingMessagingMessage.queue`, an AddressableEntityRef (id
                // and selfUri; platform-client-sdk `RecordingMessagingMessage.md`),
                // on the agent's messages as in the fixture.
                v["queue"] = json!({"id": QUEUE, "selfUri": format!("/api/v2/routing/queues/{QUEUE}")});
            }
            if !m.attachments.is_empty() {
                v["contentType"] = json!("Attachment");
                v["messageMediaAttachments"] = m
                    .attachments
                    .iter()
                    .map(|a| json!({"url": attachment_url(base, a), "mediaType": a.mime, "contentLength": a.size(), "name": a.filename, "id": a.id}))
                    .collect();
            }
            v
        })
        .collect();
    let mut rec = json!({
        "id": format!("rec-{}", c.id),
        "conversationId": c.id,
        "startTime": c.start_time,
        "endTime": c.end_time,
        "media": "messaging",
        "annotations": [],
        "messagingTranscript": transcript,
        "fileState": "AVAILABLE",
        "recordingFileRole": "CUSTOMER_EXPERIENCE",
        "selfUri": format!("/api/v2/conversations/{}/recordings/rec-{}", c.id, c.id),
    });
    if !c.ended
        && let Some(o) = rec.as_object_mut()
    {
        o.remove("endTime");
    }
    json!([rec])
}

/// A legacy chat's recording (`api_get_conversation_recordings__chat.json`;
/// `ChatMessage` fields from platform-client-sdk `ChatMessage.md`). The
/// fixture writes `bodyType` in lowercase where the SDK enum is uppercase;
/// the fake follows the fixture, so clients must ignore case.
fn chat_recordings(c: &FakeConversation) -> Value {
    let mut transcript: Vec<Value> = c
        .messages
        .iter()
        .map(|m| {
            let customer = is_customer(m);
            let (from, to) = if customer {
                (CHAT_CUSTOMER_COMMUNICATION, CHAT_AGENT_COMMUNICATION)
            } else {
                (CHAT_AGENT_COMMUNICATION, CHAT_CUSTOMER_COMMUNICATION)
            };
            // The SDK types `utc` as a string without a format: both forms occur.
            let utc = match (c.chat_utc_millis, chrono::DateTime::parse_from_rfc3339(&m.timestamp)) {
                (true, Ok(t)) => json!(t.timestamp_millis().to_string()),
                _ => json!(m.timestamp),
            };
            let mut v = json!({
                "id": m.id, "message": m.id, "chat": c.id, "body": m.text,
                "bodyType": "standard", "type": "message", "from": from, "to": to,
                "utc": utc, "senderCommunicationId": m.participant_id,
                "participantPurpose": m.purpose,
            });
            if !customer {
                v["user"] = json!({"id": CHAT_AGENT_USER, "name": "Sam Okafor", "displayName": "Sam Okafor"});
            }
            v
        })
        .collect();
    transcript.extend(c.chat_extra.iter().cloned());
    let mut rec = json!({
        "id": format!("rec-{}", c.id),
        "conversationId": c.id,
        "startTime": c.start_time,
        "endTime": c.end_time,
        "media": "chat",
        "annotations": [],
        "transcript": transcript,
        "fileState": "AVAILABLE",
        "selfUri": format!("/api/v2/conversations/{}/recordings/rec-{}", c.id, c.id),
    });
    if !c.ended
        && let Some(o) = rec.as_object_mut()
    {
        o.remove("endTime");
    }
    json!([rec])
}

/// `GET /api/v2/conversations/messages/{id}` (`api_get_message_conversation.json`).
pub fn conversation(c: &FakeConversation) -> Value {
    let mut participants: Vec<(String, String, Vec<&FakeMessage>)> = Vec::new();
    for m in &c.messages {
        match participants.iter_mut().find(|p| p.0 == m.participant_id) {
            Some(p) => p.2.push(m),
            None => participants.push((m.participant_id.clone(), m.purpose.clone(), vec![m])),
        }
    }
    let participants: Vec<Value> = participants
        .into_iter()
        .map(|(id, purpose, msgs)| {
            let mut p = json!({
                "id": id,
                "name": if purpose == "customer" { "Jordan Keane" } else { "Aoife Byrne" },
                "startTime": c.start_time,
                "endTime": c.end_time,
                "purpose": purpose,
                "state": "disconnected",
                "direction": "inbound",
                "disconnectType": if purpose == "customer" { "peer" } else { "client" },
                "messages": msgs.iter().map(|m| json!({
                    "messageId": m.id,
                    "messageURI": format!("/api/v2/conversations/messages/{}/messages/{}", c.id, m.id),
                    "messageStatus": "received",
                    "messageSegmentCount": 1,
                    "messageTime": m.timestamp,
                })).collect::<Vec<_>>(),
                "type": "webmessaging",
            });
            if purpose == "customer" {
                p["externalContact"] = json!({"id": EXTERNAL_CONTACT});
            } else {
                p["user"] = json!({"id": AGENT_USER});
            }
            // Still going on: the customer is connected and has no endTime
            // (`MessageMediaParticipant.md`: `endTime`, `state`); the agent
            // left in a transfer, the session whose `user.end` brought us here.
            if !c.ended {
                if purpose == "customer" {
                    if let Some(o) = p.as_object_mut() {
                        o.remove("endTime");
                        o.remove("disconnectType");
                    }
                    p["state"] = json!("connected");
                } else {
                    p["disconnectType"] = json!("transfer");
                }
            }
            p
        })
        .collect();
    json!({"id": c.id, "participants": participants, "otherMediaUris": [],
        "selfUri": format!("/api/v2/conversations/messages/{}", c.id)})
}

/// One `MessageData` (`api_post_messages_bulk__with_attachment.json` entities).
pub fn message(base: &str, c: &FakeConversation, m: &FakeMessage) -> Value {
    let customer = is_customer(m);
    let from = if customer {
        json!({"nickname": "Jordan Keane", "id": CUSTOMER_ADDRESS, "idType": "Opaque", "externalContactId": EXTERNAL_CONTACT})
    } else {
        json!({"id": CHANNEL_ADDRESS})
    };
    let mut normalized = json!({
        "id": m.id,
        "channel": {"id": CHANNEL_ADDRESS, "platform": "WebMessaging", "type": "Private",
            "messageId": m.id, "time": m.timestamp, "from": from},
        "type": "Text",
        "direction": if customer { "Inbound" } else { "Outbound" },
    });
    if !m.text.is_empty() {
        normalized["text"] = json!(m.text);
    }
    if !m.attachments.is_empty() {
        normalized["content"] = m
            .attachments
            .iter()
            .map(|a| {
                let mut att = json!({"id": a.id, "mediaType": "Image", "url": attachment_url(base, a),
                    "mime": a.mime, "filename": a.filename, "contentSizeBytes": a.size()});
                if let Some(sha) = a.stated_sha256() {
                    att["sha256"] = json!(sha);
                }
                json!({"contentType": "Attachment", "attachment": att})
            })
            .collect();
    }
    let mut v = json!({
        "id": m.id,
        "timestamp": m.timestamp,
        "fromAddress": if customer { CUSTOMER_ADDRESS } else { CHANNEL_ADDRESS },
        "toAddress": if customer { CHANNEL_ADDRESS } else { CUSTOMER_ADDRESS },
        "direction": if customer { "inbound" } else { "outbound" },
        "messengerType": "webmessaging",
        "status": "received",
        "normalizedMessage": normalized,
        "conversationId": c.id,
        "selfUri": format!("/api/v2/conversations/messages/{}/details", m.id),
    });
    if !customer {
        v["createdBy"] = json!({"id": AGENT_USER, "name": "Aoife Byrne"});
    }
    v
}

/// Genesys's `ErrorBody` (`http_429_response.json`).
pub fn error(status: u16, code: &str, message: &str, correlation: &str) -> Value {
    json!({"message": message, "code": code, "status": status, "messageParams": {},
        "contextId": correlation, "details": [], "errors": []})
}
