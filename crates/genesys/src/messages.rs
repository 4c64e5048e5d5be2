//! The messages API: a conversation's messages when it has no messaging
//! recording, and attachment ids resolved to download URLs.
//!
//! - `GET /api/v2/conversations/messages/{conversationId}`: participants and their message ids.
//! - `POST /api/v2/conversations/messages/{conversationId}/messages/bulk`: up to
//!   1,000 ids in, `{entities: MessageData[]}` out.
//! - `GET /api/v2/conversations/messages/{conversationId}/messages/{messageId}`: one message.
//!
//! Attachments are `normalizedMessage.content[].attachment` {`id`, `url`,
//! `mime`, `filename`, `contentSizeBytes`, `sha256`}.

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use tvault_core::ConversationId;
use tvault_core::id::{AttachmentId, check_id};
use tvault_core::ports::{Deadline, Resolved, SourceDoc, SourceError};
use tvault_core::transcript::{AttachmentRef, Draft, DraftMessage, Sender};

use crate::client::Client;
use crate::models::{
    ContentAttachment, MessageConversation, MessageData, MessageList, MessageParticipant,
};
use crate::response::{attachment_id, doc, parse, shorten, time};

/// The most ids the bulk endpoint takes at once.
pub const BULK_MAX: usize = 1000;

/// Everything the messages API knows about one conversation.
#[derive(Debug, Default)]
pub struct AllMessages {
    pub conversation: MessageConversation,
    pub messages: Vec<MessageData>,
    pub sources: Vec<SourceDoc>,
}

/// List the conversation's message ids, then read them in bulk.
pub async fn fetch_all(
    client: &Client,
    conv: &ConversationId,
    deadline: Deadline,
) -> Result<AllMessages, SourceError> {
    let path = format!("/api/v2/conversations/messages/{conv}");
    let (_, body) = client.get_json("conversation", &path, deadline).await?;
    let conversation: MessageConversation = parse("conversation", &body)?;
    let mut out = AllMessages {
        sources: vec![doc("conversation", body)],
        ..Default::default()
    };
    let mut ids: Vec<String> = Vec::new();
    for p in conversation.participants.iter().flatten() {
        for m in p.messages.iter().flatten() {
            if let Some(id) = &m.message_id
                && !ids.contains(id)
            {
                ids.push(id.clone());
            }
        }
    }
    let path = format!("/api/v2/conversations/messages/{conv}/messages/bulk");
    for (i, chunk) in ids.chunks(BULK_MAX).enumerate() {
        let body = Bytes::from(serde_json::to_vec(chunk).unwrap_or_default());
        let (_, resp) = client
            .post_json("messages-bulk", &path, body, deadline)
            .await?;
        let list: MessageList = parse("messages-bulk", &resp)?;
        out.messages.extend(list.entities.unwrap_or_default());
        let name = if i == 0 {
            "messages-bulk".to_string()
        } else {
            format!("messages-bulk-{}", i + 1)
        };
        out.sources.push(doc(&name, resp));
    }
    out.conversation = conversation;
    Ok(out)
}

/// Map messages-API data into a draft. Participants come from the
/// conversation document: the participant that lists a message id sent it.
pub fn to_draft(
    conv: &ConversationId,
    conversation: &MessageConversation,
    messages: &[MessageData],
) -> Result<Draft, SourceError> {
    let participants: Vec<&MessageParticipant> =
        conversation.participants.iter().flatten().collect();
    let mut draft = Draft::new(conv.clone());
    draft.start_time = participants
        .iter()
        .filter_map(|p| time("participant.startTime", p.start_time.as_deref()))
        .min();
    draft.end_time = Some(ended_at(&participants)?);
    for m in messages {
        let id =
            m.id.clone()
                .or_else(|| m.normalized_message.as_ref().and_then(|n| n.id.clone()));
        if id.is_some() && draft.messages.iter().any(|d| d.id == id) {
            continue;
        }
        let owner = participants.iter().find(|p| {
            p.messages
                .iter()
                .flatten()
                .any(|d| d.message_id.is_some() && d.message_id == id)
        });
        let normalized = m.normalized_message.as_ref();
        let from = normalized
            .and_then(|n| n.channel.as_ref())
            .and_then(|c| c.from.as_ref());
        let timestamp = m.timestamp.as_deref().or(normalized
            .and_then(|n| n.channel.as_ref())
            .and_then(|c| c.time.as_deref()));
        let mut attachments = Vec::new();
        for a in m.attachments() {
            attachments.push((
                attachment_id(a.id.as_deref(), id.as_deref())?,
                to_ref(a, id.as_deref()),
            ));
        }
        draft.messages.push(DraftMessage {
            timestamp: time("message.timestamp", timestamp),
            direction: m.direction.as_deref().map(str::to_ascii_lowercase),
            purpose: owner.and_then(|p| p.purpose.clone()),
            sender: Sender {
                participant_id: owner.and_then(|p| p.id.clone()),
                user_id: m
                    .created_by
                    .as_ref()
                    .and_then(|u| u.id.clone())
                    .or_else(|| {
                        owner
                            .and_then(|p| p.user.as_ref())
                            .and_then(|u| u.id.clone())
                    }),
                external_contact_id: from.and_then(|f| f.external_contact_id.clone()).or_else(
                    || {
                        owner
                            .and_then(|p| p.external_contact.as_ref())
                            .and_then(|c| c.id.clone())
                    },
                ),
                name: m
                    .created_by
                    .as_ref()
                    .and_then(|u| u.name.clone())
                    .or_else(|| from.and_then(|f| f.nickname.clone()))
                    .or_else(|| owner.and_then(|p| p.name.clone())),
                address: m.from_address.clone(),
            },
            text: normalized
                .and_then(|n| n.text.clone())
                .or_else(|| m.text_body.clone()),
            attachments,
            id,
            body_type: None,
        });
    }
    Ok(draft)
}

/// When the conversation ended, or `NotReady` while it goes on.
///
/// It has ended when its customer side has: every participant whose
/// `purpose` is `customer` (or `external`) has an `endTime`
/// (`MessageMediaParticipant.endTime`: "when this participant went
/// disconnected"). Agents come and go while it continues (a transfer ends the
/// first agent's session and fires `user.end`), so theirs prove nothing. With
/// no customer-side participant, every participant must have ended. The end
/// is the latest `endTime` given.
fn ended_at(participants: &[&MessageParticipant]) -> Result<DateTime<Utc>, SourceError> {
    let customer = |p: &&&MessageParticipant| {
        p.purpose.as_deref().is_some_and(|x| {
            x.eq_ignore_ascii_case("customer") || x.eq_ignore_ascii_case("external")
        })
    };
    let side: Vec<&&MessageParticipant> = match participants.iter().filter(customer).count() {
        0 => participants.iter().collect(),
        _ => participants.iter().filter(customer).collect(),
    };
    if side.is_empty() {
        return Err(SourceError::NotReady {
            reason: "conversation: the messages API lists no participants yet".into(),
            retry_after: None,
        });
    }
    if let Some(open) = side
        .iter()
        .find(|p| time("participant.endTime", p.end_time.as_deref()).is_none())
    {
        return Err(SourceError::NotReady {
            reason: format!(
                "conversation: participant {:?} (purpose {:?}, state {:?}) has no endTime: the conversation is not archived before it has ended",
                shorten(open.id.as_deref().unwrap_or("(no id)")),
                shorten(open.purpose.as_deref().unwrap_or_default()),
                shorten(open.state.as_deref().unwrap_or_default()),
            ),
            retry_after: None,
        });
    }
    participants
        .iter()
        .filter_map(|p| time("participant.endTime", p.end_time.as_deref()))
        .max()
        .ok_or_else(|| SourceError::NotReady {
            reason: "conversation: no participant has an endTime".into(),
            retry_after: None,
        })
}

fn to_ref(a: &ContentAttachment, message_id: Option<&str>) -> AttachmentRef {
    AttachmentRef {
        message_id: message_id.map(str::to_string),
        name: a.filename.clone(),
        content_type: a.mime.clone(),
        size: a.content_size_bytes,
        sha256: a.sha256.clone().filter(|s| !s.is_empty()),
        url: a.url.clone(),
    }
}

/// Resolve `(message id, attachment id)` pairs to download references.
///
/// `GET /api/v2/conversations/messages/{conversationId}/messages/{messageId}`
/// for each message named; ids given without a message, or not found in the
/// message named, are looked up once in all of the conversation's messages
/// (the bulk path). Whatever is still not found is `missing`, with the reason.
pub async fn resolve(
    client: &Client,
    conv: &ConversationId,
    wanted: &[(Option<String>, AttachmentId)],
    deadline: Deadline,
) -> Result<Resolved, SourceError> {
    let mut out = Resolved::default();
    let mut by_message: BTreeMap<&str, Vec<&AttachmentId>> = BTreeMap::new();
    let mut unplaced: Vec<(&AttachmentId, String)> = Vec::new();
    for (m, a) in wanted {
        match m.as_deref() {
            Some(m) if check_id(m).is_ok() => by_message.entry(m).or_default().push(a),
            Some(m) => unplaced.push((a, format!("message id {m:?} is not a safe identifier"))),
            None => unplaced.push((a, "the event names no message".into())),
        }
    }
    for (n, (message_id, ids)) in by_message.into_iter().enumerate() {
        let path = format!("/api/v2/conversations/messages/{conv}/messages/{message_id}");
        let message: Option<MessageData> = match client.get_json("message", &path, deadline).await {
            Ok((_, body)) => {
                let m = parse("message", &body)?;
                out.sources.push(doc(&format!("message-{}", n + 1), body));
                Some(m)
            }
            Err(SourceError::Gone { reason }) => {
                for id in &ids {
                    unplaced.push((id, format!("message {message_id} not found ({reason})")));
                }
                None
            }
            Err(e) => return Err(e),
        };
        let Some(message) = message else { continue };
        for id in ids {
            match message
                .attachments()
                .find(|a| a.id.as_deref() == Some(id.as_str()))
            {
                Some(a) => out.found.push((id.clone(), to_ref(a, Some(message_id)))),
                None => unplaced.push((id, format!("attachment not in message {message_id}"))),
            }
        }
    }
    if unplaced.is_empty() {
        return Ok(out);
    }
    let all = fetch_all(client, conv, deadline).await?;
    out.sources.extend(all.sources);
    for (id, why) in unplaced {
        let found = all.messages.iter().find_map(|m| {
            m.attachments()
                .find(|a| a.id.as_deref() == Some(id.as_str()))
                .map(|a| to_ref(a, m.id.as_deref()))
        });
        match found {
            Some(r) => out.found.push((id.clone(), r)),
            None => out.missing.push((
                id.clone(),
                format!("attachment id not found in the conversation's messages ({why})"),
            )),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture<T: serde::de::DeserializeOwned>(name: &str) -> T {
        let p = format!(
            "{}/../../fixtures/genesys/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        parse(name, &std::fs::read(p).unwrap()).unwrap()
    }

    #[test]
    fn bulk_fixture_maps_senders_from_the_conversation_and_attachments_with_urls() {
        let conv_doc: MessageConversation = fixture("api_get_message_conversation.json");
        let bulk: MessageList = fixture("api_post_messages_bulk__with_attachment.json");
        let conv = ConversationId::new("8d3f4c1e-5b2a-4e7f-9c61-0a2b3c4d5e6f").unwrap();
        let d = to_draft(&conv, &conv_doc, &bulk.entities.unwrap()).unwrap();
        assert_eq!(d.messages.len(), 2);
        let photo = &d.messages[0];
        assert_eq!(photo.purpose.as_deref(), Some("customer"));
        assert_eq!(
            photo.sender.participant_id.as_deref(),
            Some("0c9e8d7f-6a5b-4c3d-9e2f-1a0b9c8d7e6f")
        );
        assert_eq!(photo.sender.name.as_deref(), Some("Jordan Keane"));
        let (id, r) = &photo.attachments[0];
        assert_eq!(id.as_str(), "f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b");
        assert_eq!(
            r.url.as_deref(),
            Some("https://api-downloads.mypurecloud.ie/api/v2/downloads/5f0e9d8c7b6a4a39")
        );
        assert_eq!(r.size, Some(284311));
        let agent = &d.messages[1];
        assert_eq!(agent.purpose.as_deref(), Some("agent"));
        assert_eq!(agent.sender.name.as_deref(), Some("Aoife Byrne"));
        assert_eq!(agent.direction.as_deref(), Some("outbound"));
        assert_eq!(
            d.end_time.map(tvault_core::transcript::fmt_time).as_deref(),
            Some("2026-09-20T09:31:40.123Z")
        );
    }

    #[test]
    fn a_conversation_ends_with_its_customer_and_not_before() {
        let conv = ConversationId::new("8d3f4c1e-5b2a-4e7f-9c61-0a2b3c4d5e6f").unwrap();
        let bulk: MessageList = fixture("api_post_messages_bulk__with_attachment.json");
        let messages = bulk.entities.unwrap();
        let doc: MessageConversation = fixture("api_get_message_conversation.json");
        // The agent is still connected (wrap-up is later): the customer's
        // leaving ends the conversation, at the latest endTime given.
        let mut agent_open = doc.clone();
        let parts = agent_open.participants.as_mut().unwrap();
        parts
            .iter_mut()
            .find(|p| p.purpose.as_deref() == Some("agent"))
            .unwrap()
            .end_time = None;
        let d = to_draft(&conv, &agent_open, &messages).unwrap();
        assert_eq!(
            d.end_time.map(tvault_core::transcript::fmt_time).as_deref(),
            Some("2026-09-20T09:31:40.123Z")
        );
        // The customer is still there (a transfer's user.end): not ready.
        let mut customer_open = doc.clone();
        let parts = customer_open.participants.as_mut().unwrap();
        let customer = parts
            .iter_mut()
            .find(|p| p.purpose.as_deref() == Some("customer"))
            .unwrap();
        customer.end_time = None;
        customer.state = Some("connected".into());
        let err = to_draft(&conv, &customer_open, &messages).unwrap_err();
        assert!(matches!(err, SourceError::NotReady { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("0c9e8d7f-6a5b-4c3d-9e2f-1a0b9c8d7e6f"),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("(purpose \"customer\", state \"connected\")"),
            "{err}"
        );
        // An endTime that is not a time is no end either.
        let mut garbled = doc.clone();
        let parts = garbled.participants.as_mut().unwrap();
        parts[0].end_time = Some("soon".into());
        assert!(matches!(
            to_draft(&conv, &garbled, &messages),
            Err(SourceError::NotReady { .. })
        ));
        // Without a customer-side participant, everyone must have left.
        let mut agents_only = doc;
        let parts = agents_only.participants.as_mut().unwrap();
        parts.retain(|p| p.purpose.as_deref() != Some("customer"));
        assert!(to_draft(&conv, &agents_only, &messages).is_ok());
        agents_only.participants.as_mut().unwrap()[0].end_time = None;
        assert!(matches!(
            to_draft(&conv, &agents_only, &messages),
            Err(SourceError::NotReady { .. })
        ));
        assert!(matches!(
            to_draft(&conv, &MessageConversation::default(), &messages),
            Err(SourceError::NotReady { .. })
        ));
    }
}
