//! The permissions each route requires, and the 403 Genesys answers when the
//! token's roles grant none of them ([`super::FakeGenesys::deny_permission`]).
//!
//! Every permission is granted unless a test denies it. A route is refused
//! when every permission it accepts is denied: the SDK docs list them as
//! "Requires ANY permissions", so one left granted lets the request in.
//!
//! Sources: platform-client-sdk-python `build/docs/RecordingApi.md`
//! (`get_conversation_recordings`), `ConversationsApi.md`
//! (`get_conversations_message`: "Requires no permissions";
//! `post_conversations_message_messages_bulk`,
//! `get_conversations_message_message`), `DownloadsApi.md` (`get_download`:
//! "Requires no permissions"), `AnalyticsApi.md` (the details query and jobs;
//! `get_analytics_conversations_details_jobs_availability` lists only
//! `analytics:conversationDetail:view`).

use serde_json::{Value, json};

use super::State;
use super::model::Route;

const RECORDINGS: &[&str] = &[
    "recording:recording:view",
    "recording:recordingSegment:view",
    "recording:snippetRecording:view",
    "recording:screenRecording:view",
];
const MESSAGES: &[&str] = &[
    "conversation:message:view",
    "conversation:webmessaging:view",
];
const ANALYTICS: &[&str] = &[
    "analytics:conversationDetail:view",
    "analytics:agentConversationDetail:view",
];
const AVAILABILITY: &[&str] = &["analytics:conversationDetail:view"];

/// The permissions `route` accepts (any one suffices); empty: none needed.
pub(crate) fn required(route: Route) -> &'static [&'static str] {
    match route {
        Route::Recordings => RECORDINGS,
        Route::Bulk | Route::Message => MESSAGES,
        Route::AnalyticsQuery
        | Route::AnalyticsJobCreate
        | Route::AnalyticsJobStatus
        | Route::AnalyticsJobResults => ANALYTICS,
        Route::AnalyticsAvailability => AVAILABILITY,
        Route::Token
        | Route::Conversation
        | Route::DownloadUrl
        | Route::Signed
        | Route::Cdn
        | Route::Unknown => &[],
    }
}

/// The 403 for `route` when the test denied every permission it accepts.
///
/// The body has the fields of `ErrorBody.md` (`message`, `code`, `status`,
/// `messageParams` as a map of strings, `contextId`). The SDK docs give no
/// code or wording; `missing.any.permissions` and the sentence are those
/// third-party Genesys clients match on (a public Go fake of the Platform
/// API), and the list in `messageParams` is an assumption: the client also
/// reads the permissions from the message.
pub(crate) fn refusal(st: &State, route: Route, corr: &str) -> Option<Value> {
    let needs = required(route);
    if needs.is_empty() || !needs.iter().all(|p| st.denied.contains(*p)) {
        return None;
    }
    let list = format!("[{}]", needs.join(", "));
    Some(json!({
        "message": format!("Unable to perform the requested action. You must have at least one of the following permissions assigned: {list}"),
        "code": "missing.any.permissions",
        "status": 403,
        "messageWithParams": "Unable to perform the requested action. You must have at least one of the following permissions assigned: {permissions}",
        "messageParams": {"permissions": list},
        "contextId": corr,
        "details": [],
        "errors": [],
    }))
}
