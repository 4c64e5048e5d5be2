//! Reading Genesys responses: what the recordings, chat, messages, downloads
//! and analytics mappings share. Every field of every Genesys model is
//! optional and may hold anything, so each helper gives a defined outcome for
//! a value it cannot use.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use tvault_core::id::AttachmentId;
use tvault_core::ports::{SourceDoc, SourceError};
use tvault_core::transcript::parse_time;

/// Parse a JSON body, naming the call on failure.
pub(crate) fn parse<T: DeserializeOwned>(what: &str, body: &[u8]) -> Result<T, SourceError> {
    serde_json::from_slice(body).map_err(|e| SourceError::BadResponse {
        reason: format!("{what}: unexpected JSON: {e}"),
    })
}

/// A raw response kept for provenance under `source/{name}`.
pub(crate) fn doc(name: &str, bytes: Bytes) -> SourceDoc {
    SourceDoc {
        name: name.to_string(),
        bytes,
    }
}

/// An optional time; a time Genesys wrote in a form we cannot read is dropped
/// with a warning rather than failing the archive (the raw response is kept).
pub(crate) fn time(field: &str, s: Option<&str>) -> Option<DateTime<Utc>> {
    let s = s?;
    match parse_time(s) {
        Ok(t) => Some(t),
        Err(e) => {
            tracing::warn!(field, value = s, error = %e, "unreadable time in a Genesys response");
            None
        }
    }
}

/// An attachment id from Genesys, refused as a bad response when it is not a
/// safe identifier (it becomes part of an object name).
pub(crate) fn attachment_id(
    id: Option<&str>,
    message: Option<&str>,
) -> Result<AttachmentId, SourceError> {
    let id = id.unwrap_or_default();
    AttachmentId::new(id).map_err(|e| SourceError::BadResponse {
        reason: format!(
            "attachment of message {} has an unusable id {id:?}: {e}",
            message.unwrap_or("(no id)")
        ),
    })
}

/// At most 64 characters of a value from Genesys, for an error message
/// (where it is shown with `{:?}`, so control characters come out escaped).
pub(crate) fn shorten(s: &str) -> String {
    s.chars().take(64).collect()
}

/// A message's direction from its sender's purpose, for recordings and chat
/// lines, which carry none. Genesys directions are the organisation's point
/// of view: the customer's messages are inbound, everyone else's (agent, bot,
/// system) outbound.
pub(crate) fn direction_of(purpose: &str) -> String {
    if purpose.eq_ignore_ascii_case("customer") {
        "inbound"
    } else {
        "outbound"
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachment_with_an_unsafe_id_is_a_bad_response() {
        assert!(matches!(
            attachment_id(Some("../x"), Some("m1")),
            Err(SourceError::BadResponse { .. })
        ));
    }
}
