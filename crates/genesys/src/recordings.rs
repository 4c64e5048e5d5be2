//! Fetching a conversation's transcript: the recordings API first, the
//! messages API when there is no messaging or chat recording.
//!
//! `GET /api/v2/conversations/{id}/recordings?formatId=NONE` answers 202 while
//! the recording is being produced (after the conversation ends): that is
//! [`SourceError::NotReady`], retried later through the queue. A 200 with a
//! messaging recording (`messagingTranscript`) or a legacy chat recording
//! (`transcript`, see [`crate::chat`]) gives the draft; otherwise the
//! messages API is asked ([`crate::messages`]); if that has nothing either,
//! the transcript is not ready yet.
//!
//! A conversation that has not ended is never returned as a draft: a
//! recording used without an `endTime`, or (on the messages API) a customer
//! participant without one, is `NotReady`. `user.end` fires for every agent
//! session, transfers included, while the conversation goes on.

use reqwest::StatusCode;
use tvault_core::ConversationId;
use tvault_core::ports::{Deadline, Fetched, SourceError};
use tvault_core::transcript::{AttachmentRef, Draft, DraftMessage, Sender};

use crate::chat::{chat_message, is_chat};
use crate::client::Client;
use crate::messages;
use crate::models::{Recording, RecordingMessage};
use crate::response::{attachment_id, direction_of, doc, parse, shorten, time};

/// Fetch and map the transcript of `conv`.
///
/// `GET /api/v2/conversations/{conversationId}/recordings?formatId=NONE`, then
/// if needed `GET /api/v2/conversations/messages/{conversationId}` and
/// `POST /api/v2/conversations/messages/{conversationId}/messages/bulk`.
pub async fn fetch(
    client: &Client,
    conv: &ConversationId,
    deadline: Deadline,
) -> Result<Fetched, SourceError> {
    let path = format!("/api/v2/conversations/{conv}/recordings?formatId=NONE");
    let mut sources = Vec::new();
    match client.get_json("recordings", &path, deadline).await {
        Ok((StatusCode::ACCEPTED, _)) => {
            return Err(SourceError::NotReady {
                reason: "recordings: HTTP 202, the transcript is still being produced".into(),
                retry_after: None,
            });
        }
        Ok((_, body)) => {
            let recordings: Vec<Recording> = parse("recordings", &body)?;
            sources.push(doc("recordings", body));
            let used: Vec<&Recording> = recordings
                .iter()
                .filter(|r| {
                    is_chat(r.media.as_deref())
                        || (is_messaging(r.media.as_deref())
                            && r.messaging_transcript
                                .as_ref()
                                .is_some_and(|t| !t.is_empty()))
                })
                .collect();
            if !used.is_empty() {
                let draft = from_recordings(conv, &used)?;
                if draft.messages.is_empty() {
                    // Only chat recordings get here empty. The messages API
                    // does not serve chats (it answers 404), so there is
                    // nothing else to ask: wait for the recording to fill.
                    return Err(SourceError::NotReady {
                        reason: "recordings: the chat recording has no transcript lines yet".into(),
                        retry_after: None,
                    });
                }
                return Ok(Fetched { draft, sources });
            }
        }
        // Some conversations have no recording resource at all; the messages
        // API below says whether the conversation itself exists.
        Err(SourceError::Gone { reason }) => {
            tracing::info!(conversation_id = %conv, %reason, "no recordings; trying the messages API");
        }
        Err(e) => return Err(e),
    }
    let all = messages::fetch_all(client, conv, deadline).await?;
    sources.extend(all.sources);
    if all.messages.is_empty() {
        return Err(SourceError::NotReady {
            reason: "no messaging recording yet and the messages API lists no messages".into(),
            retry_after: None,
        });
    }
    let draft = messages::to_draft(conv, &all.conversation, &all.messages)?;
    Ok(Fetched { draft, sources })
}

fn is_messaging(media: Option<&str>) -> bool {
    media.is_some_and(|m| m.eq_ignore_ascii_case("messaging") || m.eq_ignore_ascii_case("message"))
}

/// Map the messaging and chat recordings of a conversation into a draft.
///
/// Not ready when any of them has no readable `endTime`: the conversation
/// is still going on (the first agent's `acw` after a transfer), and a partial transcript must
/// never become a generation.
pub fn from_recordings(
    conv: &ConversationId,
    recordings: &[&Recording],
) -> Result<Draft, SourceError> {
    let mut draft = Draft::new(conv.clone());
    let mut ends = Vec::with_capacity(recordings.len());
    for r in recordings {
        match time("recording.endTime", r.end_time.as_deref()) {
            Some(t) => ends.push(t),
            None => {
                return Err(SourceError::NotReady {
                    reason: format!(
                        "recordings: recording {:?} (media {:?}) {}: the conversation is not archived before it has ended",
                        shorten(r.id.as_deref().unwrap_or("(no id)")),
                        shorten(r.media.as_deref().unwrap_or_default()),
                        match r.end_time.as_deref() {
                            None => "has no endTime".to_string(),
                            Some(t) =>
                                format!("has an endTime that is not a time ({:?})", shorten(t)),
                        }
                    ),
                    retry_after: None,
                });
            }
        }
    }
    draft.end_time = ends.into_iter().max();
    draft.start_time = recordings
        .iter()
        .filter_map(|r| time("recording.startTime", r.start_time.as_deref()))
        .min();
    // Set only for chats: messaging drafts keep taking the event's media
    // type, as they always have (their generations must not change).
    if recordings.iter().all(|r| is_chat(r.media.as_deref())) {
        draft.media_type = Some("CHAT".into());
    }
    for r in recordings {
        for m in r.messaging_transcript.iter().flatten() {
            // Transfers can split a conversation into several recordings that
            // repeat messages: keep each message id once.
            if m.id.is_some() && draft.messages.iter().any(|d| d.id == m.id) {
                continue;
            }
            draft.messages.push(recording_message(m)?);
        }
        if !is_chat(r.media.as_deref()) {
            continue;
        }
        for line in r.transcript.iter().flatten() {
            let Some(m) = chat_message(line) else {
                continue;
            };
            if m.id.is_some() && draft.messages.iter().any(|d| d.id == m.id) {
                continue;
            }
            draft.messages.push(m);
        }
    }
    Ok(draft)
}

fn recording_message(m: &RecordingMessage) -> Result<DraftMessage, SourceError> {
    let external = m.from_external_contact.as_ref();
    let external_name = external.and_then(|c| {
        let parts: Vec<&str> = [c.first_name.as_deref(), c.last_name.as_deref()]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    });
    let mut attachments = Vec::new();
    for a in m.message_media_attachments.iter().flatten() {
        let id = attachment_id(a.id.as_deref(), m.id.as_deref())?;
        attachments.push((
            id,
            AttachmentRef {
                message_id: m.id.clone(),
                name: a.name.clone(),
                content_type: a.media_type.clone(),
                size: a.content_length,
                sha256: None,
                url: a.url.clone(),
            },
        ));
    }
    Ok(DraftMessage {
        id: m.id.clone(),
        timestamp: time("messagingTranscript.timestamp", m.timestamp.as_deref()),
        direction: m.purpose.as_deref().map(direction_of),
        purpose: m.purpose.clone(),
        sender: Sender {
            participant_id: m.participant_id.clone(),
            user_id: m.from_user.as_ref().and_then(|u| u.id.clone()),
            external_contact_id: external.and_then(|c| c.id.clone()),
            name: m
                .from_user
                .as_ref()
                .and_then(|u| u.name.clone())
                .or(external_name),
            address: m.from.clone(),
        },
        text: m.message_text.clone(),
        attachments,
        body_type: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recordings_fixture_maps_every_message_sender_and_attachment() {
        let p = format!(
            "{}/../../fixtures/genesys/api_get_conversation_recordings__messaging.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let recs: Vec<Recording> = parse("recordings", &std::fs::read(p).unwrap()).unwrap();
        let conv = ConversationId::new("8d3f4c1e-5b2a-4e7f-9c61-0a2b3c4d5e6f").unwrap();
        let d = from_recordings(&conv, &recs.iter().collect::<Vec<_>>()).unwrap();
        assert_eq!(d.messages.len(), 5);
        let first = &d.messages[0];
        assert_eq!(first.direction.as_deref(), Some("inbound"));
        assert_eq!(first.sender.name.as_deref(), Some("Jordan Keane"));
        assert_eq!(
            first.sender.external_contact_id.as_deref(),
            Some("2a3b4c5d-6e7f-4081-92a3-b4c5d6e7f809")
        );
        let agent = &d.messages[1];
        assert_eq!(agent.direction.as_deref(), Some("outbound"));
        assert_eq!(
            agent.sender.user_id.as_deref(),
            Some("4f3e2d1c-0b9a-4876-a5b4-c3d2e1f0a9b8")
        );
        let (id, r) = &d.messages[2].attachments[0];
        assert_eq!(id.as_str(), "f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b");
        assert_eq!(r.size, Some(284311));
        assert_eq!(r.content_type.as_deref(), Some("image/jpeg"));
        assert!(d.end_time.is_some() && d.start_time.is_some());
    }

    #[test]
    fn chat_fixture_maps_every_line_into_the_messaging_fields() {
        let p = format!(
            "{}/../../fixtures/genesys/api_get_conversation_recordings__chat.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let recs: Vec<Recording> = parse("recordings", &std::fs::read(p).unwrap()).unwrap();
        let conv = ConversationId::new("5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d").unwrap();
        let d = from_recordings(&conv, &recs.iter().collect::<Vec<_>>()).unwrap();
        assert_eq!(d.media_type.as_deref(), Some("CHAT"));
        assert_eq!(d.messages.len(), 2);
        let (c, a) = (&d.messages[0], &d.messages[1]);
        assert_eq!(c.direction.as_deref(), Some("inbound"));
        assert_eq!(
            c.sender.address.as_deref(),
            Some("b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e")
        );
        assert_eq!(a.direction.as_deref(), Some("outbound"));
        assert_eq!(a.sender.name.as_deref(), Some("Sam Okafor"));
        assert_eq!(
            a.text.as_deref(),
            Some("I have reset it; you will get an email in a minute.")
        );
        assert_eq!(
            d.end_time.map(tvault_core::transcript::fmt_time).as_deref(),
            Some("2026-09-21T15:19:47.000Z")
        );
    }

    #[test]
    fn a_recording_without_an_end_is_not_ready_and_says_which() {
        let r = Recording {
            id: Some("rec-1".into()),
            media: Some("messaging".into()),
            ..Default::default()
        };
        let conv = ConversationId::new("c-1").unwrap();
        let err = from_recordings(&conv, &[&r]).unwrap_err();
        assert!(matches!(err, SourceError::NotReady { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("\"rec-1\" (media \"messaging\") has no endTime"),
            "{err}"
        );
        let garbled = Recording {
            end_time: Some("\u{1b}[31mlater".into()),
            ..r
        };
        let err = from_recordings(&conv, &[&garbled]).unwrap_err().to_string();
        assert!(
            err.contains("not a time") && !err.contains('\u{1b}'),
            "{err}"
        );
    }
}
