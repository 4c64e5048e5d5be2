//! A fault-injecting HTTP proxy for tests: it sits between a client and a
//! real server (Azurite) and, for a seeded share of requests, answers
//! `503 ServerBusy` or `429` with `Retry-After` and an Azure-style XML error
//! body, closes the connection before forwarding (the request never lands)
//! or after forwarding (it landed, the answer is lost), or adds a delay.
//!
//! Requests are forwarded with their headers, `Host` included, so SharedKey
//! signatures stay valid.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use tvault_testkit::proxy::{FaultPlan, Proxy};
//! let proxy = Proxy::start("http://127.0.0.1:10000", FaultPlan {
//!     throttle_503: 0.1, throttle_429: 0.1, drop_after: 0.02, ..FaultPlan::default()
//! }).await?;
//! let endpoint = format!("{}/devstoreaccount1", proxy.url());
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// What the proxy does to requests. Shares are probabilities in [0, 1],
/// drawn per request in this order: drop before, 503, 429, drop after.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultPlan {
    /// Seed of the draws, so a failing run can be repeated.
    pub seed: u64,
    /// Share answered `503 ServerBusy` without forwarding.
    pub throttle_503: f64,
    /// Share answered `429` without forwarding.
    pub throttle_429: f64,
    /// `Retry-After` sent with 429 answers (whole seconds, rounded up); none when `None`.
    pub retry_after: Option<Duration>,
    /// Sent verbatim as `Retry-After` with 429 answers instead of `retry_after`:
    /// hostile values such as `1e30`, `-1` or a date in year 9999.
    pub retry_after_raw: Option<String>,
    /// Also send `x-ms-retry-after-ms` with 503 answers.
    pub retry_after_ms_on_503: Option<Duration>,
    /// The first this many requests are all answered 429 (deterministic tests).
    pub throttle_first: u64,
    /// The first this many requests are all forwarded, then their answer dropped.
    pub drop_after_first: u64,
    /// The first this many requests with a body are forwarded with one byte of it changed.
    pub corrupt_first: u64,
    /// Share whose connection is closed before forwarding: the request never lands.
    pub drop_before: f64,
    /// Share forwarded, then the connection closed without an answer: it landed, the answer is lost.
    pub drop_after: f64,
    /// Delay added before forwarding every request.
    pub delay: Duration,
}

impl Default for FaultPlan {
    fn default() -> Self {
        Self {
            seed: 0x7a57_5eed,
            throttle_503: 0.0,
            throttle_429: 0.0,
            retry_after: Some(Duration::from_secs(1)),
            retry_after_raw: None,
            retry_after_ms_on_503: None,
            throttle_first: 0,
            drop_after_first: 0,
            corrupt_first: 0,
            drop_before: 0.0,
            drop_after: 0.0,
            delay: Duration::ZERO,
        }
    }
}

/// What the proxy did so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyCounts {
    pub requests: u64,
    pub forwarded: u64,
    pub throttled_503: u64,
    pub throttled_429: u64,
    pub dropped_before: u64,
    pub dropped_after: u64,
    pub corrupted: u64,
}

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    forwarded: AtomicU64,
    throttled_503: AtomicU64,
    throttled_429: AtomicU64,
    dropped_before: AtomicU64,
    dropped_after: AtomicU64,
    corrupted: AtomicU64,
}

/// SplitMix64: a tiny seeded generator, enough for fault draws.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Debug)]
struct State {
    upstream: String,
    client: reqwest::Client,
    plan: Mutex<FaultPlan>,
    rng: Mutex<Rng>,
    counters: Counters,
}

/// A running proxy; stops when dropped.
#[derive(Debug)]
pub struct Proxy {
    addr: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

/// What happens to one request.
enum Fate {
    Forward,
    Throttle(StatusCode),
    DropBefore,
    DropAfter,
}

/// The error a hyper service returns to make hyper close the connection unanswered.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped on purpose")
    }
}

impl std::error::Error for Dropped {}

impl Proxy {
    /// Start on 127.0.0.1 port 0, forwarding to `upstream` (`http://host:port`).
    pub async fn start(upstream: &str, plan: FaultPlan) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .map_err(std::io::Error::other)?;
        let state = Arc::new(State {
            upstream: upstream.trim_end_matches('/').to_string(),
            client,
            rng: Mutex::new(Rng(plan.seed)),
            plan: Mutex::new(plan),
            counters: Counters::default(),
        });
        let st = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let st = st.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| handle(st.clone(), req));
                    // Errors here are the drops we made on purpose, or clients going away.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Ok(Proxy { addr, state, task })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Replace the plan (for example, to stop injecting faults before checking results).
    pub fn set_plan(&self, plan: FaultPlan) {
        *lock(&self.state.plan) = plan;
    }

    /// What the proxy did so far.
    pub fn counts(&self) -> ProxyCounts {
        let c = &self.state.counters;
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ProxyCounts {
            requests: g(&c.requests),
            forwarded: g(&c.forwarded),
            throttled_503: g(&c.throttled_503),
            throttled_429: g(&c.throttled_429),
            dropped_before: g(&c.dropped_before),
            dropped_after: g(&c.dropped_after),
            corrupted: g(&c.corrupted),
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn decide(st: &State, n: u64) -> (Fate, FaultPlan) {
    let plan = lock(&st.plan).clone();
    if n < plan.throttle_first {
        return (Fate::Throttle(StatusCode::TOO_MANY_REQUESTS), plan);
    }
    if n < plan.drop_after_first {
        return (Fate::DropAfter, plan);
    }
    let mut rng = lock(&st.rng);
    let mut draw = |share: f64| share > 0.0 && rng.next_f64() < share;
    let fate = if draw(plan.drop_before) {
        Fate::DropBefore
    } else if draw(plan.throttle_503) {
        Fate::Throttle(StatusCode::SERVICE_UNAVAILABLE)
    } else if draw(plan.throttle_429) {
        Fate::Throttle(StatusCode::TOO_MANY_REQUESTS)
    } else if draw(plan.drop_after) {
        Fate::DropAfter
    } else {
        Fate::Forward
    };
    (fate, plan)
}

fn throttled(status: StatusCode, plan: &FaultPlan) -> Response<Full<Bytes>> {
    // Azure's own wording for account throttling (ServerBusy).
    let message = if status == StatusCode::SERVICE_UNAVAILABLE {
        "The server is busy."
    } else {
        "Ingress is over the account limit."
    };
    let body = format!(
        "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>ServerBusy</Code><Message>{message}\nRequestId:00000000-0000-0000-0000-000000000000\nTime:2026-01-01T00:00:00.0000000Z</Message></Error>"
    );
    let mut b = Response::builder()
        .status(status)
        .header("content-type", "application/xml")
        .header("x-ms-error-code", "ServerBusy");
    if status == StatusCode::TOO_MANY_REQUESTS {
        if let Some(raw) = &plan.retry_after_raw {
            b = b.header("retry-after", raw.as_str());
        } else if let Some(ra) = plan.retry_after {
            b = b.header("retry-after", ra.as_secs_f64().ceil().to_string());
        }
    }
    if status == StatusCode::SERVICE_UNAVAILABLE
        && let Some(ms) = plan.retry_after_ms_on_503
    {
        b = b.header("x-ms-retry-after-ms", ms.as_millis().to_string());
    }
    b.body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

/// Headers that belong to one hop, not to the message.
fn hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "transfer-encoding"
            | "te"
            | "trailer"
            | "upgrade"
    )
}

async fn handle(st: Arc<State>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Dropped> {
    let n = st.counters.requests.fetch_add(1, Ordering::Relaxed);
    let (fate, plan) = decide(&st, n);
    let (parts, body) = req.into_parts();
    // Read the whole request first, as a server would before answering.
    let mut body = body.collect().await.map_err(|_| Dropped)?.to_bytes();
    if !body.is_empty()
        && st.counters.corrupted.load(Ordering::Relaxed) < plan.corrupt_first
        && st.counters.corrupted.fetch_add(1, Ordering::Relaxed) < plan.corrupt_first
    {
        // Damage in transit: one bit of the first byte flipped, length unchanged.
        let mut v = body.to_vec();
        v[0] ^= 0x01;
        body = Bytes::from(v);
    }
    if !plan.delay.is_zero() {
        tokio::time::sleep(plan.delay).await;
    }
    match fate {
        Fate::DropBefore => {
            st.counters.dropped_before.fetch_add(1, Ordering::Relaxed);
            return Err(Dropped);
        }
        Fate::Throttle(status) => {
            let c = if status == StatusCode::SERVICE_UNAVAILABLE {
                &st.counters.throttled_503
            } else {
                &st.counters.throttled_429
            };
            c.fetch_add(1, Ordering::Relaxed);
            return Ok(throttled(status, &plan));
        }
        Fate::Forward | Fate::DropAfter => {}
    }
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let mut out = st
        .client
        .request(parts.method.clone(), format!("{}{path}", st.upstream))
        .body(body);
    for (name, value) in &parts.headers {
        // Content-Length is forwarded as sent: reqwest omits it for an empty
        // body, and Azure refuses a PUT without it (400).
        if !hop_by_hop(name.as_str()) {
            out = out.header(name, value);
        }
    }
    let resp = match out.send().await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "proxy: upstream failed");
            return Ok(Response::builder()
                .status(StatusCode::BAD_GATEWAY)
                .body(Full::new(Bytes::new()))
                .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()))));
        }
    };
    st.counters.forwarded.fetch_add(1, Ordering::Relaxed);
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.map_err(|_| Dropped)?;
    if matches!(fate, Fate::DropAfter) {
        st.counters.dropped_after.fetch_add(1, Ordering::Relaxed);
        return Err(Dropped);
    }
    // Content-Length is kept: a HEAD answer has none of its body, only the header.
    let mut b = Response::builder().status(status);
    for (name, value) in &headers {
        if !hop_by_hop(name.as_str()) {
            b = b.header(name, value);
        }
    }
    Ok(b.body(Full::new(bytes))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()))))
}
