//! Whether the OAuth client's roles let it call each Platform API the
//! archive and `tvault reconcile` use, for `tvault check`.
//!
//! Genesys has no way for a client-credentials token to list its own
//! permissions: `GET /api/v2/authorization/subjects/me` "returns a listing of
//! roles and permissions for the currently authenticated user" (SDK
//! `AuthorizationApi.md`), and such a token has no user; `GET
//! /api/v2/tokens/me` (`TokensApi.md`, `TokenInfo.md`) names the client and
//! its `roleDivisions` (`OrgOAuthClient.md`), role ids without their
//! permissions, which only `GET /api/v2/authorization/roles/{roleId}` gives,
//! itself needing a permission (`authorization:role:view`) the archive has
//! no use for. So each API is probed with a request that can change nothing:
//! a GET of a well-formed id that does not exist. The SDK docs attach the
//! permissions to the operation, not to the object, so Genesys is expected to
//! check them before it looks the id up (not confirmed against a live org: a
//! Genesys that looked first would answer 404 and pass a missing permission,
//! which the first record would then show as `access refused`). A granted
//! API answers 404 (or 2xx), a refused one 403
//! `missing.any.permissions` / `missing.permissions` with Genesys's
//! `ErrorBody` (`ErrorBody.md`: `message`, `code`, `status`,
//! `messageParams`).
//!
//! Each probe goes through [`Client::send`]: the shared token, pacing and
//! retries of the archive (a 401 renews the token once).

use reqwest::{Method, StatusCode};
use tvault_core::ports::Deadline;

use crate::analytics::AVAILABILITY_PATH;
use crate::client::{Auth, Call, Client};

/// A conversation, message and download id that is well formed (a UUID, as
/// Genesys's are) and names nothing. A macro, so the paths below can be
/// built with `concat!`.
macro_rules! no_such_id {
    () => {
        "00000000-0000-0000-0000-000000000000"
    };
}
#[cfg(test)]
const NO_SUCH_ID: &str = no_such_id!();

/// One API the archive or reconcile calls, and how it is probed.
#[derive(Debug, Clone, Copy)]
pub struct Probe {
    /// A short name: `recordings`, `messages`, `downloads`, `analytics`.
    pub api: &'static str,
    /// The call as the operator reads it (`GET /api/v2/...`).
    pub call: &'static str,
    /// The permissions the SDK docs list for the call ("Requires ANY
    /// permissions"); empty: "Requires no permissions".
    pub accepts: &'static [&'static str],
    /// The permission to give the role, and its name in the admin UI.
    pub grant: Option<(&'static str, &'static str)>,
    path: &'static str,
}

/// The probes, in the order the archive meets the APIs. Permissions from
/// platform-client-sdk-python `build/docs/`: `RecordingApi.md`
/// (`get_conversation_recordings`), `ConversationsApi.md`
/// (`get_conversations_message_message`, the same list as `..._messages_bulk`),
/// `DownloadsApi.md` (`get_download`: "Requires no permissions"),
/// `AnalyticsApi.md` (`get_analytics_conversations_details_jobs_availability`,
/// which reconcile calls first and which accepts only
/// `analytics:conversationDetail:view`, where the details query and jobs also
/// accept `analytics:agentConversationDetail:view`: so it is the stricter probe).
pub const PROBES: [Probe; 4] = [
    Probe {
        api: "recordings",
        call: "GET /api/v2/conversations/{id}/recordings",
        accepts: &[
            "recording:recording:view",
            "recording:recordingSegment:view",
            "recording:snippetRecording:view",
            "recording:screenRecording:view",
        ],
        grant: Some(("recording:recording:view", "Recording > Recording > View")),
        path: concat!(
            "/api/v2/conversations/",
            no_such_id!(),
            "/recordings?formatId=NONE"
        ),
    },
    Probe {
        api: "messages",
        call: "GET /api/v2/conversations/messages/{id}/messages/{messageId}",
        accepts: &[
            "conversation:message:view",
            "conversation:webmessaging:view",
        ],
        grant: Some(("conversation:message:view", "Conversation > Message > View")),
        path: concat!(
            "/api/v2/conversations/messages/",
            no_such_id!(),
            "/messages/",
            no_such_id!()
        ),
    },
    Probe {
        api: "downloads",
        call: "GET /api/v2/downloads/{downloadId}",
        accepts: &[],
        grant: None,
        path: concat!("/api/v2/downloads/", no_such_id!(), "?issueRedirect=false"),
    },
    Probe {
        api: "analytics",
        call: "GET /api/v2/analytics/conversations/details/jobs/availability",
        accepts: &["analytics:conversationDetail:view"],
        grant: Some((
            "analytics:conversationDetail:view",
            "Analytics > Conversation Detail > View",
        )),
        path: AVAILABILITY_PATH,
    },
];

/// What one probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The API let the token in: 2xx, or 404 for the id that names nothing.
    Granted { status: u16 },
    /// 403 `missing.permissions` or `missing.any.permissions`: the
    /// permissions Genesys named (those the probe accepts when it named
    /// none), and the code.
    Missing {
        permissions: Vec<String>,
        code: String,
    },
    /// 401 even after a fresh token: the token, not a permission.
    TokenRefused { reason: String },
    /// Anything else (another 403, a 400, a 5xx after retries, no answer):
    /// it cannot tell, which is never a pass.
    Unclear { reason: String },
}

/// Run every probe in [`PROBES`], one after the other.
pub async fn check(client: &Client, deadline: &dyn Fn() -> Deadline) -> Vec<(Probe, Verdict)> {
    let mut out = Vec::with_capacity(PROBES.len());
    for probe in PROBES {
        let verdict = run(client, &probe, deadline()).await;
        out.push((probe, verdict));
    }
    out
}

async fn run(client: &Client, probe: &Probe, deadline: Deadline) -> Verdict {
    let call = Call {
        what: probe.api,
        method: Method::GET,
        url: format!("{}{}", client.endpoints().api, probe.path),
        body: None,
        auth: Auth::Bearer,
        timeout: Some(client.tuning().request_timeout),
    };
    match client.send(&call, deadline).await {
        Ok(resp) => Verdict::Granted {
            status: resp.status().as_u16(),
        },
        Err(f) => match f.status {
            Some(StatusCode::NOT_FOUND) => Verdict::Granted { status: 404 },
            Some(StatusCode::UNAUTHORIZED) => Verdict::TokenRefused {
                reason: f.error.to_string(),
            },
            Some(StatusCode::FORBIDDEN) => match missing(&f.body) {
                Some((code, mut permissions)) => {
                    if permissions.is_empty() {
                        permissions = probe.accepts.iter().map(|p| p.to_string()).collect();
                    }
                    Verdict::Missing { permissions, code }
                }
                None => Verdict::Unclear {
                    reason: f.error.to_string(),
                },
            },
            _ => Verdict::Unclear {
                reason: f.error.to_string(),
            },
        },
    }
}

/// The code and the permissions of a 403 `ErrorBody` that says a permission
/// is missing; `None` for any other body.
///
/// The SDK docs give `messageParams` as a map of strings and no wording, so
/// the permissions are read as words of the form `domain:entity:action` from
/// its values and from `message`, whatever brackets or commas surround them.
/// Only such words are kept: the rest of the body is Genesys's free text,
/// never printed.
pub fn missing(body: &[u8]) -> Option<(String, Vec<String>)> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let code = v.get("code")?.as_str()?;
    if code != "missing.permissions" && code != "missing.any.permissions" {
        return None;
    }
    let mut texts: Vec<&str> = Vec::new();
    if let Some(params) = v.get("messageParams").and_then(|p| p.as_object()) {
        texts.extend(params.values().filter_map(|p| p.as_str()));
    }
    texts.extend(v.get("message").and_then(|m| m.as_str()));
    let mut found: Vec<String> = Vec::new();
    for word in texts
        .iter()
        .flat_map(|t| t.split(|c: char| !(c.is_ascii_alphanumeric() || c == ':' || c == '*')))
    {
        if is_permission(word) && !found.iter().any(|f| f == word) {
            found.push(word.to_string());
        }
    }
    Some((code.to_string(), found))
}

/// `domain:entity:action`, each part ASCII letters and digits (or `*`, as
/// Genesys writes wildcards), at most 128 characters in all.
fn is_permission(word: &str) -> bool {
    let parts: Vec<&str> = word.split(':').collect();
    word.len() <= 128
        && parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '*'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_permissions_of_a_missing_any_permissions_body_are_read_in_order() {
        let body = br#"{"message":"Unable to perform the requested action. You must have at least one of the following permissions assigned: [analytics:conversationDetail:view, analytics:agentConversationDetail:view]","code":"missing.any.permissions","status":403,"messageParams":{"permissions":"[analytics:conversationDetail:view, analytics:agentConversationDetail:view]"}}"#;
        let (code, perms) = missing(body).unwrap();
        assert_eq!(code, "missing.any.permissions");
        assert_eq!(
            perms,
            [
                "analytics:conversationDetail:view",
                "analytics:agentConversationDetail:view"
            ]
        );
    }

    #[test]
    fn a_body_naming_no_permission_still_counts_as_missing() {
        let (code, perms) = missing(br#"{"code":"missing.permissions","message":"nope"}"#).unwrap();
        assert_eq!(code, "missing.permissions");
        assert!(perms.is_empty());
    }

    #[test]
    fn other_403s_and_junk_are_not_a_missing_permission() {
        assert_eq!(missing(br#"{"code":"not.authorized","status":403}"#), None);
        assert_eq!(missing(b"<html>forbidden</html>"), None);
        assert_eq!(missing(b""), None);
        assert_eq!(missing(br#"{"code":403}"#), None);
    }

    #[test]
    fn words_that_are_not_permissions_are_never_kept() {
        let body = "{\"code\":\"missing.permissions\",\"message\":\"a:b \\u001b[31m:c x:y:z:w a::b evil:\\u202eperm:view ok:fine:view\"}";
        let (_, perms) = missing(body.as_bytes()).unwrap();
        assert_eq!(perms, ["ok:fine:view"]);
    }

    #[test]
    fn every_probe_but_analytics_asks_for_an_id_that_names_nothing() {
        for p in PROBES {
            assert!(
                p.path.contains(NO_SUCH_ID) || p.api == "analytics",
                "{}",
                p.api
            );
            assert_eq!(p.grant.is_some(), !p.accepts.is_empty(), "{}", p.api);
            if let Some((perm, _)) = p.grant {
                assert!(p.accepts.contains(&perm), "{}", p.api);
            }
        }
    }
}
