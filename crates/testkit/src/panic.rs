//! A [`ConversationSource`] that panics, to prove that a panic while one
//! record is archived fails that record only. It is an ordinary
//! implementation of the port, so production code needs no test hook: a
//! router built over it panics exactly where a faulty library would.
//!
//! A lifecycle event makes the archiver call the source (and so panic); a
//! transcript-carrying event without attachments never does.

use async_trait::async_trait;
use tvault_core::id::{AttachmentId, ConversationId};
use tvault_core::ports::{
    ByteStream, ConversationSource, Deadline, Fetched, Resolved, SourceError,
};
use tvault_core::transcript::AttachmentRef;

/// Every call panics, naming itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct PanickingSource;

#[async_trait]
impl ConversationSource for PanickingSource {
    async fn fetch_transcript(
        &self,
        conversation: &ConversationId,
        _deadline: Deadline,
    ) -> Result<Fetched, SourceError> {
        panic!("PanickingSource: fetch_transcript({conversation}) panics on purpose")
    }

    async fn resolve_attachments(
        &self,
        conversation: &ConversationId,
        _wanted: &[(Option<String>, AttachmentId)],
        _deadline: Deadline,
    ) -> Result<Resolved, SourceError> {
        panic!("PanickingSource: resolve_attachments({conversation}) panics on purpose")
    }

    async fn open_attachment(
        &self,
        _attachment: &AttachmentRef,
        _deadline: Deadline,
    ) -> Result<ByteStream, SourceError> {
        panic!("PanickingSource: open_attachment panics on purpose")
    }
}

/// A transcript-carrying event for `conversation` (one message, no
/// attachments): archived without calling the source.
pub fn transcript_event(conversation: &str) -> String {
    serde_json::json!({
        "version": "0",
        "id": format!("evt-{conversation}"),
        "detail-type": "transcript",
        "source": "tvault.tests",
        "detail": {
            "conversationId": conversation,
            "mediaType": "MESSAGE",
            "messages": [{
                "messageId": format!("{conversation}-m1"),
                "timestamp": "2026-09-20T09:14:03.512Z",
                "direction": "inbound",
                "text": "hello"
            }]
        }
    })
    .to_string()
}
