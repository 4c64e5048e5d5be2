//! Genesys's per-token rate limit, as the fake keeps it: a one-minute window
//! per access token, stated in `inin-ratelimit-*` headers (FACTS.md, "Rate
//! limits"; `fixtures/genesys/http_429_response.json`).

use hyper::header::HeaderValue;

use super::State;
use super::server::Resp;

/// Where a token stands in its rate-limit window.
pub(crate) struct Window {
    pub allowed: u64,
    pub count: u64,
    /// Whole seconds until the window resets (rounded up, at least 1).
    pub reset: u64,
}

impl Window {
    /// The `inin-ratelimit-*` headers Genesys puts on API responses (FACTS.md).
    pub fn stamp(&self, mut r: Resp) -> Resp {
        let h = r.headers_mut();
        h.insert("inin-ratelimit-allowed", HeaderValue::from(self.allowed));
        h.insert("inin-ratelimit-count", HeaderValue::from(self.count));
        h.insert("inin-ratelimit-reset", HeaderValue::from(self.reset));
        r
    }
}

/// Count one request of the token in `auth` against its one-minute window,
/// when the test set an allowance. Genesys counts per client-credentials
/// token per minute (FACTS.md: "about 300 requests per minute per token").
pub(crate) fn rate_window(st: &mut State, auth: Option<&str>) -> Option<Window> {
    let allowed = st.ratelimit_allowed?;
    let token = auth?.strip_prefix("Bearer ")?.to_string();
    let now = tokio::time::Instant::now();
    let minute = std::time::Duration::from_secs(60);
    let w = st.windows.entry(token).or_insert((now, 0));
    if now.saturating_duration_since(w.0) >= minute {
        *w = (now, 0);
    }
    w.1 += 1;
    let left = minute.saturating_sub(now.saturating_duration_since(w.0));
    Some(Window {
        allowed,
        count: w.1,
        reset: left.as_secs() + u64::from(left.subsec_nanos() > 0),
    })
}
