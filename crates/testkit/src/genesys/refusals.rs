//! What the fake refuses (or answers differently) because real Genesys does,
//! each with where the limit comes from. The fake enforces it so that a
//! client that forgets a parameter fails its tests instead of passing
//! against a fake more lenient than Genesys.
//!
//! | limit | the fake's answer | source |
//! |---|---|---|
//! | `issueRedirect=false` on `GET /api/v2/downloads/{id}` | without it, a redirect to the signed URL instead of `{"url": ...}` | platform-client-sdk `build/docs/DownloadsApi.md`: `issueRedirect` "[default to true]", "this method will issue a redirect to the url to the content" |
//! | `formatId=NONE` on `GET /api/v2/conversations/{id}/recordings` | without it, 202 (media still being transcoded) | `build/docs/RecordingApi.md`, `getConversationRecordings`: `formatId` "[default to WEBM]" (see [`recordings_format`]) |
//! | signed URLs on another host | `/signed/...` is 404 on the API listener | FACTS.md, "Downloading attachment bytes": the signed URL is fetched without the bearer token, from wherever it points |
//! | at most 1,000 ids per bulk call | 400 | FACTS.md, "Getting the transcript" (`POST .../messages/bulk`) |
//! | analytics interval ≤ 31 days, `paging.pageSize` ≤ 100, ≤ 100,000 results | 400, 400, truncated | FACTS.md, "Listing conversations, for reconciliation" (see `analytics`) |
//! | about 300 requests a minute per token, stated in `inin-ratelimit-*` | 429 with `Retry-After` past the allowance | FACTS.md, "Rate limits and retries"; `fixtures/genesys/http_429_response.json` (see `ratelimit`) |

use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::State;
use super::model::Route;

/// The value of query parameter `name`, as sent (no decoding: the values
/// checked here are plain words).
pub(crate) fn query_param<'a>(query: Option<&'a str>, name: &str) -> Option<&'a str> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then_some(v)
    })
}

/// Whether a downloads-API request asked for the JSON answer. Genesys's
/// default (`issueRedirect` true) redirects to the signed URL instead; the
/// status code is not in the SDK docs, so the fake uses 303 See Other, the
/// code for "the answer is at another URL, fetch it with GET".
pub(crate) fn wants_url_json(query: Option<&str>) -> bool {
    query_param(query, "issueRedirect") == Some("false")
}

/// Whether a recordings request asked for no media (`formatId=NONE`).
///
/// Without it Genesys prepares the recordings' media in `WEBM` (the SDK's
/// default, `RecordingApi.md`), and what it answers for a messaging
/// conversation meanwhile is not documented; `GetOrphanrecordingMedia` in
/// the same file says "A 202 response means the ... media is currently
/// transcoding". The fake answers 202, so a client that drops the parameter
/// sees a conversation that is never ready and its test fails.
pub(crate) fn recordings_format(query: Option<&str>) -> bool {
    query_param(query, "formatId") == Some("NONE")
}

/// Requests to a route held unanswered until the test lets them go (see
/// [`super::FakeGenesys::hold`]). Dropping it lets them go too.
pub struct Hold {
    release: watch::Sender<bool>,
    state: Arc<Mutex<State>>,
    route: Route,
}

impl Hold {
    pub(crate) fn start(state: Arc<Mutex<State>>, route: Route) -> Hold {
        let (release, rx) = watch::channel(false);
        lock(&state).holds.insert(route, rx);
        Hold {
            release,
            state,
            route,
        }
    }

    /// Requests to the route that arrived and are waiting now.
    pub fn waiting(&self) -> u64 {
        lock(&self.state)
            .waiting
            .get(&self.route)
            .copied()
            .unwrap_or(0)
    }

    /// Answer the held requests (and later ones) normally.
    pub fn release(self) {}
}

impl Drop for Hold {
    fn drop(&mut self) {
        lock(&self.state).holds.remove(&self.route);
        let _ = self.release.send(true);
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// Wait while `route` is held; counts the request as waiting meanwhile.
pub(crate) async fn wait_if_held(state: &Mutex<State>, route: Route) {
    let Some(mut rx) = lock(state).holds.get(&route).cloned() else {
        return;
    };
    *lock(state).waiting.entry(route).or_default() += 1;
    // An error means the hold was dropped: released as well.
    let _ = rx.wait_for(|released| *released).await;
    if let Some(n) = lock(state).waiting.get_mut(&route) {
        *n = n.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_matched_by_name_and_exact_value() {
        assert!(wants_url_json(Some("issueRedirect=false")));
        assert!(wants_url_json(Some("a=1&issueRedirect=false")));
        assert!(!wants_url_json(None));
        assert!(!wants_url_json(Some("issueRedirect=true")));
        assert!(!wants_url_json(Some("xissueRedirect=false")));
        assert!(recordings_format(Some("formatId=NONE")));
        assert!(!recordings_format(Some("formatId=WEBM")));
        assert!(!recordings_format(Some("formatId=none&x")));
        assert!(!recordings_format(None));
    }
}
