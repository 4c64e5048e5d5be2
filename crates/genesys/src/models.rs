//! The Genesys Cloud response models this crate reads, field names from
//! Genesys's SDK models. Every field is optional and unknown fields are
//! ignored: Genesys adds fields often and omits empty ones.

use serde::Deserialize;

/// An `{id, name, selfUri}` reference (users, queues, ...).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Entity {
    pub id: Option<String>,
    pub name: Option<String>,
}

/// An external contact as a recording's transcript names it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ExternalContact {
    pub id: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

/// `GET /api/v2/conversations/{id}/recordings` returns a list of these.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Recording {
    pub id: Option<String>,
    pub conversation_id: Option<String>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    /// `messaging` for digital conversations (`message` is accepted too),
    /// `chat` for legacy chat.
    pub media: Option<String>,
    pub messaging_transcript: Option<Vec<RecordingMessage>>,
    /// A legacy chat's lines (`media` `chat`), per platform-client-sdk
    /// `Recording.md`: `transcript` is a list of `ChatMessage`.
    pub transcript: Option<Vec<ChatMessage>>,
}

/// One line of a chat recording's `transcript[]` (platform-client-sdk
/// `ChatMessage.md`; `bodyType`, `senderCommunicationId` and
/// `participantPurpose` are "v2 chats only").
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ChatMessage {
    pub id: Option<String>,
    /// The message id (the SDK lists it beside `id`).
    pub message: Option<String>,
    /// The interaction id, if available.
    pub chat: Option<String>,
    pub body: Option<String>,
    /// `STANDARD`, `ACTIVITY`, `TYPING`, `NOTICE`, `MEMBERJOIN`,
    /// `MEMBERLEAVE`, `MEDIAREQUEST` in the SDK's enum; compared ignoring case.
    pub body_type: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// A string in the SDK with no stated format: RFC 3339 and epoch
    /// milliseconds (as text or as a JSON number) are accepted, so it is kept raw.
    pub utc: Option<serde_json::Value>,
    pub sender_communication_id: Option<String>,
    pub participant_purpose: Option<String>,
    pub user: Option<ChatMessageUser>,
}

/// `ChatMessage.user` (platform-client-sdk `ChatMessageUser.md`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ChatMessageUser {
    pub id: Option<String>,
    pub name: Option<String>,
    pub display_name: Option<String>,
    pub username: Option<String>,
}

/// One message of `Recording.messagingTranscript`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RecordingMessage {
    pub id: Option<String>,
    pub timestamp: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub purpose: Option<String>,
    pub participant_id: Option<String>,
    pub from_user: Option<Entity>,
    pub from_external_contact: Option<ExternalContact>,
    pub queue: Option<Entity>,
    pub message_text: Option<String>,
    pub content_type: Option<String>,
    pub message_media_attachments: Option<Vec<MediaAttachment>>,
}

/// `RecordingMessage.messageMediaAttachments[]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MediaAttachment {
    pub id: Option<String>,
    pub name: Option<String>,
    pub url: Option<String>,
    /// A free string, usually a MIME type.
    pub media_type: Option<String>,
    pub content_length: Option<u64>,
}

/// `GET /api/v2/conversations/messages/{conversationId}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MessageConversation {
    pub id: Option<String>,
    pub participants: Option<Vec<MessageParticipant>>,
}

/// A participant of a message conversation.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MessageParticipant {
    pub id: Option<String>,
    pub name: Option<String>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub purpose: Option<String>,
    /// `alerting`, `connected`, `disconnected`, ... (`MessageMediaParticipant.md`);
    /// logged only: `endTime` is what says a participant has left.
    pub state: Option<String>,
    pub direction: Option<String>,
    pub user: Option<Entity>,
    pub external_contact: Option<Entity>,
    pub messages: Option<Vec<MessageDetails>>,
}

/// `MessageParticipant.messages[]`: ids and times only.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MessageDetails {
    pub message_id: Option<String>,
    pub message_time: Option<String>,
}

/// `POST .../messages/bulk` returns `{entities: MessageData[]}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MessageList {
    pub entities: Option<Vec<MessageData>>,
}

/// One message of the messages API.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MessageData {
    pub id: Option<String>,
    pub timestamp: Option<String>,
    pub from_address: Option<String>,
    pub to_address: Option<String>,
    pub direction: Option<String>,
    pub text_body: Option<String>,
    pub normalized_message: Option<NormalizedMessage>,
    pub created_by: Option<Entity>,
    pub conversation_id: Option<String>,
}

/// `MessageData.normalizedMessage`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct NormalizedMessage {
    pub id: Option<String>,
    pub channel: Option<Channel>,
    pub text: Option<String>,
    pub content: Option<Vec<Content>>,
}

/// `NormalizedMessage.channel`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Channel {
    pub time: Option<String>,
    pub from: Option<ChannelParty>,
}

/// `channel.from` / `channel.to`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ChannelParty {
    pub id: Option<String>,
    pub nickname: Option<String>,
    pub external_contact_id: Option<String>,
}

/// `NormalizedMessage.content[]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Content {
    pub content_type: Option<String>,
    pub attachment: Option<ContentAttachment>,
}

/// `content[].attachment`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ContentAttachment {
    pub id: Option<String>,
    pub media_type: Option<String>,
    pub url: Option<String>,
    pub mime: Option<String>,
    pub filename: Option<String>,
    pub content_size_bytes: Option<u64>,
    pub sha256: Option<String>,
}

/// `GET /api/v2/downloads/{id}?issueRedirect=false`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct UrlResponse {
    pub url: Option<String>,
}

/// `GET /api/v2/analytics/conversations/details/jobs/availability`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct DataAvailability {
    pub data_availability_date: Option<String>,
}

/// One conversation of an analytics details listing (query or job results).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AnalyticsConversation {
    pub conversation_id: Option<String>,
    pub conversation_start: Option<String>,
    pub conversation_end: Option<String>,
    pub originating_direction: Option<String>,
    pub participants: Option<Vec<AnalyticsParticipant>>,
}

/// `AnalyticsConversation.participants[]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AnalyticsParticipant {
    pub participant_id: Option<String>,
    pub purpose: Option<String>,
    pub sessions: Option<Vec<AnalyticsSession>>,
}

/// `participants[].sessions[]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AnalyticsSession {
    pub session_id: Option<String>,
    /// Lowercase here: `message`, `chat`, `voice`, ...
    pub media_type: Option<String>,
    pub message_type: Option<String>,
}

/// `POST /api/v2/analytics/conversations/details/query`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AnalyticsQueryResponse {
    /// Absent when the page is empty.
    pub conversations: Option<Vec<AnalyticsConversation>>,
    pub total_hits: Option<u64>,
}

/// `POST /api/v2/analytics/conversations/details/jobs`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AsyncQueryResponse {
    pub job_id: Option<String>,
}

/// `GET /api/v2/analytics/conversations/details/jobs/{jobId}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AsyncQueryStatus {
    /// `QUEUED`, `PENDING`, `RUNNING`, `FULFILLED`, `FAILED`, `CANCELLED`, `EXPIRED`.
    pub state: Option<String>,
    pub error_message: Option<String>,
    pub submission_date: Option<String>,
    pub completion_date: Option<String>,
    pub expiration_date: Option<String>,
}

/// `GET /api/v2/analytics/conversations/details/jobs/{jobId}/results`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AsyncResultsResponse {
    pub conversations: Option<Vec<AnalyticsConversation>>,
    /// Absent on the last page.
    pub cursor: Option<String>,
    pub data_availability_date: Option<String>,
}

impl MessageData {
    /// Attachments carried in `normalizedMessage.content[]`.
    pub fn attachments(&self) -> impl Iterator<Item = &ContentAttachment> {
        self.normalized_message
            .iter()
            .flat_map(|n| n.content.iter().flatten())
            .filter_map(|c| c.attachment.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let p = format!(
            "{}/../../fixtures/genesys/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(p).unwrap()
    }

    #[test]
    fn fixtures_parse_with_unknown_fields_ignored() {
        let recs: Vec<Recording> =
            serde_json::from_slice(&fixture("api_get_conversation_recordings__messaging.json"))
                .unwrap();
        let t = recs[0].messaging_transcript.as_ref().unwrap();
        assert_eq!(t.len(), 5);
        assert_eq!(
            t[2].message_media_attachments.as_ref().unwrap()[0].content_length,
            Some(284311)
        );
        let conv: MessageConversation =
            serde_json::from_slice(&fixture("api_get_message_conversation.json")).unwrap();
        assert_eq!(conv.participants.unwrap().len(), 3);
        let bulk: MessageList =
            serde_json::from_slice(&fixture("api_post_messages_bulk__with_attachment.json"))
                .unwrap();
        let first = &bulk.entities.unwrap()[0];
        let a: Vec<_> = first.attachments().collect();
        assert_eq!(a[0].filename.as_deref(), Some("IMG_20260920_091640.jpg"));
    }

    #[test]
    fn analytics_fixture_parses() {
        let v: serde_json::Value = serde_json::from_slice(&fixture(
            "api_analytics_conversations_details_jobs__responses.json",
        ))
        .unwrap();
        let key = |k: &str| {
            let (_, v) = v
                .as_object()
                .unwrap()
                .iter()
                .find(|(name, _)| name.starts_with(k))
                .unwrap();
            serde_json::to_vec(v).unwrap()
        };
        let created: AsyncQueryResponse =
            serde_json::from_slice(&key("POST /api/v2/analytics/conversations/details/jobs"))
                .unwrap();
        assert_eq!(
            created.job_id.as_deref(),
            Some("4c8e2a9f-1b7d-4e3a-9f6c-2d8b5a1e7c40")
        );
        let status: AsyncQueryStatus = serde_json::from_slice(&key(
            "GET /api/v2/analytics/conversations/details/jobs/{jobId} ",
        ))
        .unwrap();
        assert_eq!(status.state.as_deref(), Some("FULFILLED"));
        let results: AsyncResultsResponse = serde_json::from_slice(&key(
            "GET /api/v2/analytics/conversations/details/jobs/{jobId}/results",
        ))
        .unwrap();
        let c = &results.conversations.unwrap()[0];
        assert_eq!(
            c.conversation_end.as_deref(),
            Some("2026-09-20T09:32:55.870Z")
        );
        let session = &c.participants.as_ref().unwrap()[0]
            .sessions
            .as_ref()
            .unwrap()[0];
        assert_eq!(session.media_type.as_deref(), Some("message"));
        assert_eq!(results.cursor.as_deref(), Some("eyJwYWdlIjoyfQ=="));
        let avail: DataAvailability = serde_json::from_slice(&key(
            "GET /api/v2/analytics/conversations/details/jobs/availability",
        ))
        .unwrap();
        assert_eq!(
            avail.data_availability_date.as_deref(),
            Some("2026-09-22T05:41:00.000Z")
        );
    }

    #[test]
    fn empty_object_parses_into_all_none() {
        let m: MessageData = serde_json::from_str("{}").unwrap();
        assert!(m.id.is_none() && m.normalized_message.is_none());
    }
}
