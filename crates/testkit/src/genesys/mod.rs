//! A fake Genesys Cloud Platform API, in-process, on `127.0.0.1:0`.
//!
//! It answers in the shapes of `fixtures/genesys/` for any number of
//! conversations a test registers, with attachment bytes the test provides
//! (or generated on the fly, for gigabyte-sized bodies that are never held in
//! memory), and can be scripted per route to answer 202, 429 with
//! `Retry-After`, 5xx, 403 (an expired signed URL), a truncated body, and to
//! make tokens expire early. It counts requests per route.
//!
//! | module | role |
//! |---|---|
//! | [`model`] | what a test registers: conversations, messages, attachments, faults |
//! | `server` | the hyper server and its answers |
//! | `routes` | which route a request is |
//! | `ratelimit` | the per-token one-minute window and its `inin-ratelimit-*` headers |
//! | `analytics` | the analytics listing routes (details query, jobs, availability) |
//! | `shapes` | the JSON bodies, in the fixtures' shapes |
//! | `permissions` | the permissions each route needs, and the 403 when a test denies them |
//! | `refusals` | what Genesys refuses and the fake refuses too, with sources; held routes |
//!
//! Rate limits: with [`FakeGenesys::set_rate_limit_allowed`], each access
//! token gets a one-minute window of that many requests, stated in
//! `inin-ratelimit-allowed`, `-count` and `-reset` on every API response and
//! answered with 429 and `Retry-After` past it (FACTS.md, "Rate limits";
//! `fixtures/genesys/http_429_response.json`).
//!
//! A second listener ([`FakeGenesys::other_base_url`]) serves the same routes
//! and state under another origin: "another host" for redirects and
//! third-party URLs. The signed URLs the downloads API hands out point there,
//! and only there: the API listener answers 404 for them, as Genesys's API
//! host serves no signed URL (they are on a storage host).
//!
//! What the fake refuses because Genesys does (`issueRedirect=false`,
//! `formatId=NONE`, the bulk and analytics limits, the rate-limit window), and
//! where each limit comes from, is listed in `refusals`.
//!
//! [`FakeGenesys::hold`] keeps a route's requests unanswered until the test
//! lets them go: an archive "in flight" for as long as a test needs.
//!
//! Served routes (one host, as `GENESYSCLOUD_REGION=http://127.0.0.1:PORT` expects):
//! `POST /oauth/token`, `GET /api/v2/conversations/{id}/recordings`,
//! `GET /api/v2/conversations/messages/{id}`, `POST .../messages/bulk`,
//! `GET .../messages/{messageId}` (404 for a legacy chat, as Genesys answers), `GET /api/v2/downloads/{downloadId}`,
//! `GET /signed/{downloadId}` (the signed URL, on the other listener only), `GET /cdn/{downloadId}` (a third-party host),
//! and for listings `POST /api/v2/analytics/conversations/details/query`,
//! `POST .../details/jobs`, `GET .../details/jobs/{jobId}`,
//! `GET .../details/jobs/{jobId}/results` and `GET .../details/jobs/availability`
//! (see `analytics` for how they filter, page and fail).
//!
//! hyper is used directly rather than axum: the Genesys client's reqwest
//! already depends on hyper, so the fake adds almost nothing to the build, and
//! its thirteen routes need no router.

mod analytics;
pub mod model;
mod permissions;
mod ratelimit;
mod refusals;
mod routes;
mod server;
mod shapes;

pub use shapes::QUEUE;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

pub use model::{
    Body, CHAT_AGENT_COMMUNICATION, CHAT_AGENT_USER, CHAT_CUSTOMER_COMMUNICATION, FakeAttachment,
    FakeConversation, FakeMessage, Fault, Media, Route, Sha, generated_sha256,
};
pub use refusals::Hold;

/// The OAuth client id the fake accepts.
pub const CLIENT_ID: &str = "fake-client-id";
/// The OAuth client secret the fake accepts. Tests check it never reaches a log.
pub const CLIENT_SECRET: &str = "fake-secret-Zq81-never-log-me";

#[derive(Default)]
pub(crate) struct State {
    pub conversations: HashMap<String, FakeConversation>,
    pub faults: HashMap<Route, Vec<Fault>>,
    pub counts: HashMap<Route, u64>,
    /// Token value → API uses left (`None`: unlimited).
    pub tokens: HashMap<String, Option<u64>>,
    pub tokens_issued: u64,
    /// `expires_in` of the token response, as raw JSON (any number a test wants).
    pub token_expires_in: String,
    pub token_uses: Option<u64>,
    pub ratelimit_allowed: Option<u64>,
    /// Token value → (start of its rate-limit window, requests counted in it).
    pub windows: HashMap<String, (tokio::time::Instant, u64)>,
    /// Every request: its route, when it arrived, and the status answered.
    pub log: Vec<(Route, tokio::time::Instant, u16)>,
    /// `Referer` headers received (must stay empty: they leak signed URLs).
    pub referers: Vec<String>,
    pub signed_issued: u64,
    pub correlation: u64,
    pub credentials_on_anonymous: u64,
    pub analytics: analytics::Analytics,
    /// Held routes: their requests wait until the receiver says `true`.
    pub holds: HashMap<Route, tokio::sync::watch::Receiver<bool>>,
    /// Requests waiting at a hold now, per route.
    pub waiting: HashMap<Route, u64>,
    /// Permissions the token's roles lack (`permissions`).
    pub denied: HashSet<String>,
    /// Download id → conversation id, so a download is found without a
    /// walk over every conversation (a bench serves 50,000).
    pub downloads: HashMap<String, String>,
    /// `expire_first_signed_urls`: one download in this many.
    pub expire_one_in: Option<u64>,
    /// Download ids that have been issued a signed URL.
    pub signed_for: HashSet<String>,
    /// Serials (`Signature=sig{n}`) of the signed URLs issued expired.
    pub expired: HashSet<u64>,
}

/// A running fake. Dropping it stops the server.
pub struct FakeGenesys {
    addr: SocketAddr,
    other: SocketAddr,
    state: Arc<Mutex<State>>,
    tasks: [tokio::task::JoinHandle<()>; 2],
}

impl Drop for FakeGenesys {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl FakeGenesys {
    /// Start on `127.0.0.1:0`, in the current tokio runtime.
    pub async fn start() -> std::io::Result<FakeGenesys> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let other_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let other = other_listener.local_addr()?;
        let state = Arc::new(Mutex::new(State {
            // `fixtures/genesys/oauth_token_response.json`.
            token_expires_in: "86399".into(),
            ..State::default()
        }));
        // Both listeners write the API base into the URLs they hand out,
        // and the other base into signed URLs.
        let bases = server::Bases {
            api: format!("http://{addr}"),
            signed: format!("http://{other}"),
        };
        let tasks = [
            tokio::spawn(server::serve(
                listener,
                state.clone(),
                bases.clone(),
                server::Listener::Api,
            )),
            tokio::spawn(server::serve(
                other_listener,
                state.clone(),
                bases,
                server::Listener::Other,
            )),
        ];
        Ok(FakeGenesys {
            addr,
            other,
            state,
            tasks,
        })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `http://127.0.0.1:PORT`: the value for `GENESYSCLOUD_REGION`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:OTHER`: the same routes under another origin, which
    /// the client does not count as Genesys (another host).
    pub fn other_base_url(&self) -> String {
        format!("http://{}", self.other)
    }

    /// Register (or replace) a conversation. Each attachment gets a download
    /// id unique to its conversation and attachment id.
    pub fn add(&self, mut conversation: FakeConversation) {
        let conv = conversation.id.clone();
        for a in conversation.attachments_mut() {
            if a.download_id.is_empty() {
                a.download_id = format!("dl{:016x}", fnv1a(&format!("{conv}/{}", a.id)));
            }
        }
        let mut st = self.lock();
        for a in conversation.attachments_mut() {
            st.downloads.insert(a.download_id.clone(), conv.clone());
        }
        st.conversations.insert(conv, conversation);
    }

    /// The first signed URL issued for one download in `one_in` (chosen by
    /// a hash of its id) has expired by the time it is used: it answers 403,
    /// as an expired signed URL does (docs/genesys.md). The URL the client
    /// resolves next for it is fresh and served, as a freshly signed URL is.
    pub fn expire_first_signed_urls(&self, one_in: u64) {
        self.lock().expire_one_in = Some(one_in.max(1));
    }

    /// Answer the next requests to `route` with `faults`, in order, then normally.
    pub fn script(&self, route: Route, faults: impl IntoIterator<Item = Fault>) {
        self.lock().faults.entry(route).or_default().extend(faults);
    }

    /// Requests seen on `route`.
    pub fn count(&self, route: Route) -> u64 {
        self.lock().counts.get(&route).copied().unwrap_or(0)
    }

    /// Requests to the signed-URL or third-party routes that carried an
    /// `Authorization` header (must stay 0).
    pub fn credentials_on_anonymous_routes(&self) -> u64 {
        self.lock().credentials_on_anonymous
    }

    /// `expires_in` of tokens issued from now on.
    pub fn set_token_lifetime(&self, secs: u64) {
        self.lock().token_expires_in = secs.to_string();
    }

    /// `expires_in` of tokens issued from now on, as raw JSON: any number,
    /// absurd ones included (`18446744073709551615`, `1e30`, `-1`, `3599.5`).
    pub fn set_token_expires_in_raw(&self, json: &str) {
        self.lock().token_expires_in = json.to_string();
    }

    /// Every request so far: route, arrival time (tokio's clock, so paused in
    /// paused-time tests) and the status answered.
    pub fn requests(&self) -> Vec<(Route, tokio::time::Instant, u16)> {
        self.lock().log.clone()
    }

    /// `Referer` headers received on any route.
    pub fn referers(&self) -> Vec<String> {
        self.lock().referers.clone()
    }

    /// Tokens issued from now on stop working after `uses` API requests,
    /// whatever their `expires_in` said (a token that expires mid-run).
    pub fn expire_tokens_after(&self, uses: u64) {
        self.lock().token_uses = Some(uses);
    }

    /// Hold every request to `route` unanswered (after it is counted) until
    /// the returned [`Hold`] is released or dropped: a slow Genesys, or an
    /// archive kept in flight while the test looks at the queue.
    pub fn hold(&self, route: Route) -> Hold {
        Hold::start(self.state.clone(), route)
    }

    /// Every token issued so far stops working now.
    pub fn revoke_tokens(&self) {
        self.lock().tokens.clear();
    }

    /// The OAuth client's roles lose `permission` (such as
    /// `analytics:conversationDetail:view`): a route none of whose accepted
    /// permissions is left answers 403 `missing.any.permissions`, after the
    /// token is accepted and before anything is looked up (`permissions`).
    pub fn deny_permission(&self, permission: &str) {
        self.lock().denied.insert(permission.to_string());
    }

    /// Allow each token `n` API requests per one-minute window: every API
    /// response states `inin-ratelimit-allowed: n`, the window's count and the
    /// seconds to its reset; past `n`, 429 with `Retry-After` until the reset.
    pub fn set_rate_limit_allowed(&self, n: Option<u64>) {
        self.lock().ratelimit_allowed = n;
    }
}

pub(crate) fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
