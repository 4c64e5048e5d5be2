//! Retries toward Azure, in one place: an `object_store` [`HttpService`]
//! wrapper that every request of the Azure vault goes through, those
//! object_store makes (reads, lists) and our own raw writes alike.
//!
//! On 429, 500, 502, 503, 504 and on connection errors it waits and tries
//! again, with jittered exponential backoff, honouring `x-ms-retry-after-ms`
//! and `Retry-After` (up to a cap), inside the caller's [`Deadline`]. A wait
//! that would end past the deadline, or a `Retry-After` longer than what is
//! left of it (even if we would sleep only the capped part), fails at once
//! with [`GiveUp`], so the record goes back to the queue instead of sleeping
//! through its visibility timeout. `Retry-After` is upstream input: any
//! number (`1e30`, `u64::MAX`) is read with saturating arithmetic. object_store's own retry loop is turned off
//! ([`RetryPolicy::object_store_retry`]): it ignores `Retry-After` and the
//! deadline, and would multiply the attempts made here.
//!
//! Connection errors are retried only for requests that are safe to repeat,
//! and every request this vault makes is: reads, `Put Block` (idempotent per
//! block id), and `Put Blob` / `Put Block List` with `If-None-Match: *`,
//! whose repeat after a lost response answers 409 and is settled by hash.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use http::{HeaderMap, Method, StatusCode};
use object_store::client::{
    HttpClient, HttpConnector, HttpError, HttpErrorKind, HttpRequest, HttpResponse, HttpService,
    ReqwestConnector,
};
use object_store::{ClientOptions, RetryConfig};
use tvault_core::backoff::{self, Backoff, RetryAfterForms, fits};
use tvault_core::ports::Deadline;

use super::limiter::{ConcurrencyLimits, Limiter};
use crate::writer::current_deadline;
/// The record's deadline for every request in scope; kept under this path for callers.
pub use crate::writer::with_deadline;

/// Retry, timeout and concurrency settings. Every number is a default with its reason.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt. At 20 % throttling the chance of 12
    /// throttled answers in a row is 0.2^12 ≈ 4e-9; the deadline usually ends
    /// the loop before this does.
    pub max_retries: u32,
    /// First backoff. Azure's ServerBusy often clears within a second, and
    /// its guidance is to retry soon, then back off exponentially.
    pub initial_backoff: Duration,
    /// Ceiling of one backoff: long enough for a partition to rebalance,
    /// short enough that several fit in a 5-minute SQS visibility timeout.
    pub max_backoff: Duration,
    /// The longest `Retry-After` we sleep through. Longer requests are cut to
    /// this (Azure's values are estimates); a wait past the deadline fails fast.
    pub retry_after_cap: Duration,
    /// Time to the response headers for a request without a body. Azure
    /// answers in milliseconds; 30 s means a stuck connection, not a slow one.
    pub request_timeout: Duration,
    /// Added to `request_timeout` per MiB uploaded: 4 MiB blocks get 30 s +
    /// 4 s, enough at 1 MiB/s, the slowest link we design for.
    pub timeout_per_mib: Duration,
    /// Absolute ceiling for any one request, body included (a 1 GiB read at
    /// 2 MiB/s). Must stay under the 15-minute Lambda limit.
    pub absolute_timeout: Duration,
    /// TCP+TLS connect. A healthy endpoint connects in well under a second.
    pub connect_timeout: Duration,
    /// Total retrying budget when the caller gives no deadline (the CLI).
    pub max_elapsed_without_deadline: Duration,
    /// Retrying budget, without a deadline, for a request that could never
    /// connect (connection refused, no route, connect timeouts): a person at a
    /// terminal hears "could not connect" after about 10 s (two connect
    /// timeouts at most), not after two minutes of silence; an endpoint
    /// restarting within that is still survived. Answers, throttling
    /// included, keep the longer budget above.
    pub max_unanswered_without_deadline: Duration,
    /// Adaptive concurrency: start at 32 (Azure takes thousands of requests
    /// per second per account; 32 saturates 2 cores), never below 2 (so one
    /// slow request cannot stall a batch), never above 128 (the per-host pool).
    pub concurrency: ConcurrencyLimits,
    /// Throttling answers within this window lower the limit once.
    pub decrease_window: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 12,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
            retry_after_cap: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30),
            timeout_per_mib: Duration::from_secs(1),
            absolute_timeout: Duration::from_secs(600),
            connect_timeout: Duration::from_secs(5),
            max_elapsed_without_deadline: Duration::from_secs(120),
            max_unanswered_without_deadline: Duration::from_secs(10),
            concurrency: ConcurrencyLimits {
                initial: 32,
                min: 2,
                max: 128,
            },
            decrease_window: Duration::from_millis(500),
        }
    }
}

impl RetryPolicy {
    /// object_store's own retry settings: off, because the service wrapper retries.
    pub fn object_store_retry(&self) -> RetryConfig {
        RetryConfig {
            max_retries: 0,
            retry_timeout: self.absolute_timeout,
            ..Default::default()
        }
    }

    /// HTTP client options: connect timeout and the absolute ceiling; plain
    /// http only where the settings allowed it (loopback). Certificate checks
    /// stay on: nothing here can turn them off.
    pub fn client_options(&self, allow_http: bool) -> ClientOptions {
        ClientOptions::new()
            .with_allow_http(allow_http)
            .with_connect_timeout(self.connect_timeout)
            .with_timeout(self.absolute_timeout)
            .with_pool_max_idle_per_host(self.concurrency.max)
    }

    /// Jittered exponential backoff before retry `attempt` (0-based): a
    /// uniformly random wait in [half, full] of `initial * 2^attempt`, capped.
    pub fn backoff(&self, attempt: u32) -> Duration {
        Backoff {
            initial: self.initial_backoff,
            max: self.max_backoff,
        }
        .delay(attempt)
    }

    fn head_timeout(&self, body_len: usize) -> Duration {
        let mib = (body_len as u32).div_ceil(1024 * 1024);
        self.request_timeout + self.timeout_per_mib.saturating_mul(mib)
    }
}

/// Why the wrapper stopped retrying early; always transient for the caller.
#[derive(Debug, thiserror::Error)]
pub enum GiveUp {
    /// Waiting as asked would end past the record's deadline.
    #[error(
        "Azure answered {status} and asked to wait {}, past this record's deadline; hand the record back and retry later",
        seconds(*wait)
    )]
    PastDeadline { status: u16, wait: Duration },
    /// The deadline had already passed before the request was sent.
    #[error("the record's deadline passed before the request could be sent")]
    DeadlineReached,
    /// No response headers in time.
    #[error("no response within {0:?}")]
    Timeout(Duration),
}

/// `12.5 s`, or `more than a day` for the absurd waits a hostile header asks.
fn seconds(wait: Duration) -> String {
    if wait > Duration::from_secs(86_400) {
        "more than a day".to_string()
    } else {
        format!("{:.1} s", wait.as_secs_f64())
    }
}

/// Counters of what the wrapper did, readable by the caller.
#[derive(Debug, Default)]
pub struct Stats {
    requests: AtomicU64,
    throttled_429: AtomicU64,
    throttled_503: AtomicU64,
    server_errors: AtomicU64,
    transport_errors: AtomicU64,
    answered: AtomicU64,
    retries: AtomicU64,
    retry_after_honoured: AtomicU64,
    backoff_ms: AtomicU64,
    deadline_give_ups: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// HTTP attempts sent, retries included.
    pub requests: u64,
    /// 429 answers.
    pub throttled_429: u64,
    /// 503 answers (ServerBusy, OperationTimedOut).
    pub throttled_503: u64,
    /// 500, 502, 504 answers.
    pub server_errors: u64,
    /// Connection errors and timeouts.
    pub transport_errors: u64,
    /// Attempts that got an HTTP answer (any status).
    pub answered: u64,
    /// Attempts repeated after one of the above.
    pub retries: u64,
    /// Retries whose wait came from `Retry-After` / `x-ms-retry-after-ms`.
    pub retry_after_honoured: u64,
    /// Total time slept before retries, in milliseconds.
    pub backoff_ms: u64,
    /// Requests given up because the wait would pass the deadline.
    pub deadline_give_ups: u64,
    /// Times the adaptive concurrency limit was lowered.
    pub limit_decreases: u64,
    /// The adaptive concurrency limit now.
    pub concurrency_limit: u64,
}

impl std::fmt::Display for StatsSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "requests={} 429={} 503={} 5xx={} transport={} retries={} retry_after_honoured={} backoff_ms={} deadline_give_ups={} limit_decreases={} limit={}",
            self.requests,
            self.throttled_429,
            self.throttled_503,
            self.server_errors,
            self.transport_errors,
            self.retries,
            self.retry_after_honoured,
            self.backoff_ms,
            self.deadline_give_ups,
            self.limit_decreases,
            self.concurrency_limit
        )
    }
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// What the service wrapper instances of one vault share.
#[derive(Debug)]
pub struct Shared {
    policy: RetryPolicy,
    limiter: Limiter,
    stats: Stats,
}

impl Shared {
    /// Shared state for `policy`.
    pub fn new(policy: RetryPolicy) -> Arc<Self> {
        let limiter = Limiter::new(policy.concurrency, policy.decrease_window);
        Arc::new(Self {
            policy,
            limiter,
            stats: Stats::default(),
        })
    }

    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let s = &self.stats;
        StatsSnapshot {
            requests: g(&s.requests),
            throttled_429: g(&s.throttled_429),
            throttled_503: g(&s.throttled_503),
            server_errors: g(&s.server_errors),
            transport_errors: g(&s.transport_errors),
            answered: g(&s.answered),
            retries: g(&s.retries),
            retry_after_honoured: g(&s.retry_after_honoured),
            backoff_ms: g(&s.backoff_ms),
            deadline_give_ups: g(&s.deadline_give_ups),
            limit_decreases: self.limiter.decreases(),
            concurrency_limit: self.limiter.limit() as u64,
        }
    }
}

/// Builds [`RetryingService`] clients; set with `with_http_connector`.
#[derive(Debug, Clone)]
pub struct RetryingConnector {
    shared: Arc<Shared>,
}

impl RetryingConnector {
    /// A connector whose clients share `shared`.
    pub fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

impl HttpConnector for RetryingConnector {
    fn connect(&self, options: &ClientOptions) -> object_store::Result<HttpClient> {
        let inner = ReqwestConnector::default().connect(options)?;
        Ok(HttpClient::new(RetryingService {
            inner,
            shared: self.shared.clone(),
        }))
    }
}

/// The retrying, rate-adapting HTTP service.
#[derive(Debug)]
pub struct RetryingService {
    inner: HttpClient,
    shared: Arc<Shared>,
}

/// Whether repeating `req` after a lost response is harmless (see the module docs).
fn repeat_safe(req: &HttpRequest) -> bool {
    let m = req.method();
    if m == Method::GET || m == Method::HEAD {
        return true;
    }
    let create_only = req
        .headers()
        .get(http::header::IF_NONE_MATCH)
        .is_some_and(|v| v == "*");
    let put_block = req.uri().query().is_some_and(|q| q.contains("comp=block&"));
    m == Method::PUT && (create_only || put_block)
}

/// The wait the service asked for: `x-ms-retry-after-ms`, `retry-after-ms`
/// (whole milliseconds), else `Retry-After` in any form
/// ([`RetryAfterForms::Any`]: seconds, fractions or an HTTP date; a number
/// too large for a `Duration` is [`Duration::MAX`], negative or NaN is no
/// answer). Parsing is core's ([`tvault_core::backoff`]); this picks the header.
pub fn requested_wait(headers: &HeaderMap) -> Option<Duration> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    for name in ["x-ms-retry-after-ms", "retry-after-ms"] {
        if let Some(ms) = text(name).and_then(backoff::retry_after_ms) {
            return Some(ms);
        }
    }
    backoff::retry_after(
        text(http::header::RETRY_AFTER.as_str())?,
        chrono::Utc::now(),
        RetryAfterForms::Any,
    )
}

#[async_trait]
impl HttpService for RetryingService {
    async fn call(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        let policy = &self.shared.policy;
        let stats = &self.shared.stats;
        let started = Instant::now();
        let deadline = current_deadline();
        let safe = repeat_safe(&req);
        let head = req.method() == Method::HEAD;
        let mut answered = false;
        let head_timeout = policy.head_timeout(req.body().content_length());
        let mut attempt: u32 = 0;
        loop {
            if deadline.remaining(Instant::now()) == Some(Duration::ZERO) {
                bump(&stats.deadline_give_ups);
                return Err(HttpError::new(
                    HttpErrorKind::Unknown,
                    GiveUp::DeadlineReached,
                ));
            }
            let permit = self.shared.limiter.acquire().await;
            bump(&stats.requests);
            let sent = tokio::time::timeout(head_timeout, self.inner.execute(req.clone())).await;
            drop(permit);
            let sent = sent.unwrap_or_else(|_| {
                Err(HttpError::new(
                    HttpErrorKind::Timeout,
                    GiveUp::Timeout(head_timeout),
                ))
            });
            let exhausted = attempt >= policy.max_retries
                || (deadline == Deadline::NONE
                    && started.elapsed() >= policy.max_elapsed_without_deadline);
            let mut cannot_connect = false;
            let (status, asked) = match sent {
                Ok(resp) => {
                    bump(&stats.answered);
                    answered = true;
                    let status = resp.status();
                    let throttled = matches!(
                        status,
                        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
                    );
                    let server = matches!(
                        status,
                        StatusCode::INTERNAL_SERVER_ERROR
                            | StatusCode::BAD_GATEWAY
                            | StatusCode::GATEWAY_TIMEOUT
                    );
                    if !throttled && !server {
                        self.shared.limiter.on_success();
                        return Ok(if head { with_error_body(resp) } else { resp });
                    }
                    match status {
                        StatusCode::TOO_MANY_REQUESTS => bump(&stats.throttled_429),
                        StatusCode::SERVICE_UNAVAILABLE => bump(&stats.throttled_503),
                        _ => bump(&stats.server_errors),
                    }
                    if throttled {
                        self.shared.limiter.on_throttle();
                    }
                    // A 500 may have been applied; only requests safe to repeat retry it.
                    if exhausted || (server && !safe) {
                        return Ok(resp);
                    }
                    let asked = requested_wait(resp.headers());
                    // Read the (small XML) error body so the connection can be reused.
                    let _ = resp.into_body().bytes().await;
                    (Some(status), asked)
                }
                Err(e) => {
                    bump(&stats.transport_errors);
                    // Could not connect (refused, no route, the 5 s connect
                    // timeout), as opposed to our own 30 s wait for an answer
                    // on a made connection (GiveUp::Timeout): a loaded or
                    // slow endpoint keeps the long budget.
                    let own_timeout =
                        std::error::Error::source(&e).is_some_and(|s| s.is::<GiveUp>());
                    cannot_connect = !own_timeout
                        && matches!(e.kind(), HttpErrorKind::Connect | HttpErrorKind::Timeout);
                    let unanswered_too_long = deadline == Deadline::NONE
                        && !answered
                        && cannot_connect
                        && started.elapsed() >= policy.max_unanswered_without_deadline;
                    if exhausted || !safe || unanswered_too_long {
                        return Err(e);
                    }
                    tracing::debug!(kind = ?e.kind(), error = %e, attempt, "transport error; retrying");
                    (None, None)
                }
            };
            let wait = match asked {
                Some(a) => a.min(policy.retry_after_cap),
                None => policy.backoff(attempt),
            };
            // Never sleep past the unanswered budget: the last try comes at
            // its end, and so does the "could not connect".
            let wait = if cannot_connect && deadline == Deadline::NONE && !answered {
                wait.min(
                    policy
                        .max_unanswered_without_deadline
                        .saturating_sub(started.elapsed()),
                )
            } else {
                wait
            };
            // The service's own ask counts, not only our capped sleep: asked
            // to stay away longer than this record has left, we hand the
            // record back to the queue at once instead of retrying early.
            // `retry_after_cap` cuts the sleep, not the ask, so no longest
            // wait here: only the deadline decides.
            let now = Instant::now();
            let too_long = asked.filter(|a| !fits(deadline, now, *a, Duration::MAX));
            if too_long.is_some() || !fits(deadline, now, wait, Duration::MAX) {
                bump(&stats.deadline_give_ups);
                return Err(HttpError::new(
                    HttpErrorKind::Unknown,
                    GiveUp::PastDeadline {
                        status: status.map(|s| s.as_u16()).unwrap_or(0),
                        wait: too_long.unwrap_or(wait),
                    },
                ));
            }
            if asked.is_some() {
                bump(&stats.retry_after_honoured);
            }
            bump(&stats.retries);
            stats
                .backoff_ms
                .fetch_add(wait.as_millis() as u64, Ordering::Relaxed);
            tracing::debug!(status = ?status.map(|s| s.as_u16()), wait_ms = wait.as_millis() as u64, attempt, "Azure asked us to slow down; retrying");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}

/// A failed answer to a HEAD has no body, so object_store's error would
/// carry neither Azure's error code nor the request id, which only the
/// headers hold: give it the body a GET would have had (the shape of
/// Azure's error bodies), so the failure reads the same
/// ([`super::failure`]).
fn with_error_body(resp: HttpResponse) -> HttpResponse {
    if !resp.status().is_client_error() {
        return resp;
    }
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .filter(|v| v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
            .unwrap_or_default()
            .to_string()
    };
    let (code, request_id) = (header("x-ms-error-code"), header("x-ms-request-id"));
    if code.is_empty() && request_id.is_empty() {
        return resp;
    }
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code><Message>RequestId:{request_id}</Message></Error>"
    );
    let (parts, _) = resp.into_parts();
    HttpResponse::from_parts(parts, body.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_prefers_milliseconds_then_seconds_then_dates() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "2".parse().unwrap());
        assert_eq!(requested_wait(&h), Some(Duration::from_secs(2)));
        h.insert("x-ms-retry-after-ms", "250".parse().unwrap());
        assert_eq!(requested_wait(&h), Some(Duration::from_millis(250)));
        let mut h = HeaderMap::new();
        h.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(
            requested_wait(&h),
            Some(Duration::ZERO),
            "a past date means now"
        );
        assert_eq!(requested_wait(&HeaderMap::new()), None);
    }

    #[test]
    fn hostile_retry_after_values_never_panic() {
        let ask = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert("retry-after", v.parse().unwrap());
            requested_wait(&h)
        };
        for huge in [
            "1e30",
            "1e400",
            "inf",
            "18446744073709551616",
            "18446744073709551615.5",
        ] {
            assert_eq!(ask(huge), Some(Duration::MAX), "{huge}");
        }
        for junk in ["-1", "NaN", "-inf", "soon", ""] {
            assert_eq!(ask(junk), None, "{junk}");
        }
        assert_eq!(ask("0.25"), Some(Duration::from_millis(250)));
        assert!(ask("Fri, 31 Dec 9999 23:59:59 GMT").unwrap() > Duration::from_secs(1 << 37));
        let mut h = HeaderMap::new();
        h.insert("x-ms-retry-after-ms", u64::MAX.to_string().parse().unwrap());
        assert_eq!(requested_wait(&h), Some(Duration::from_millis(u64::MAX)));
    }

    #[test]
    fn backoff_grows_with_jitter_and_stays_under_the_cap() {
        let p = RetryPolicy::default();
        for attempt in 0..30 {
            let full =
                (p.initial_backoff * 2u32.saturating_pow(attempt.min(20))).min(p.max_backoff);
            let b = p.backoff(attempt);
            assert!(
                b >= full / 2 && b <= full,
                "attempt {attempt}: {b:?} vs {full:?}"
            );
        }
    }
}
