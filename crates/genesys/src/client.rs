//! HTTP to Genesys Cloud: authentication, pacing, retries, and the one
//! function that turns an HTTP failure into a [`SourceError`].
//!
//! Retries follow Genesys's own SDKs: 429, 502, 503 and 504 are retried,
//! honouring `Retry-After` (integer seconds; 3 s when absent), with jittered
//! exponential backoff for 5xx and network errors. A wait that would pass the
//! record's deadline, or exceeds 180 s, is never slept through: it is returned
//! as [`SourceError::Transient`] with `retry_after` for the queue. All waiting
//! uses `tokio::time`, so tests run on a paused clock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use reqwest::{Method, Response, StatusCode};
use tracing::{debug, warn};
use tvault_core::backoff::{self, Backoff, RetryAfterForms};
use tvault_core::manifest::strip_query;
use tvault_core::ports::{Deadline, SourceError};
use tvault_core::text::error_chain;

use crate::auth::{AccessToken, Issued, TokenCache, parse_token_response};
use crate::config::{Config, ConfigError, Endpoints, Secret};
use crate::hosts;
use crate::pacer::Pacer;
use crate::tuning::Tuning;

/// Header Genesys puts on every response to trace a request on its side.
pub const H_CORRELATION: &str = "inin-correlation-id";

/// Which credentials a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// The shared access token (Platform API calls).
    Bearer,
    /// Basic auth with the client id and secret (the token endpoint only).
    Client,
    /// Nothing: signed URLs and third-party hosts must never see our credentials.
    Anonymous,
}

/// One request to make, possibly several times.
#[derive(Debug, Clone)]
pub struct Call {
    /// A short name for logs and errors (`recordings`, `download-url`, ...).
    pub what: &'static str,
    pub method: Method,
    pub url: String,
    pub body: Option<(Bytes, &'static str)>,
    pub auth: Auth,
    /// Whole-request timeout; `None` for streamed bodies (the read timeout still applies).
    pub timeout: Option<Duration>,
}

/// A request that failed for good (after retries), with its HTTP status if it got one.
#[derive(Debug)]
pub struct Failure {
    pub status: Option<StatusCode>,
    pub error: SourceError,
    /// The error response's body (Genesys's `ErrorBody`), at most
    /// [`MAX_ERROR_BODY`] bytes; empty when there was no response. Only
    /// `tvault check` reads it (the permissions a 403 names): everything
    /// else goes by `error`, which quotes the `code` alone.
    pub body: Bytes,
}

/// How much of an error body a [`Failure`] keeps: Genesys's `ErrorBody` is
/// a few hundred bytes; more is not an error body worth quoting.
pub const MAX_ERROR_BODY: usize = 16 * 1024;

impl From<Failure> for SourceError {
    fn from(f: Failure) -> Self {
        f.error
    }
}

/// The HTTP side of the Genesys source: one per process, shared.
#[derive(Debug)]
pub struct Client {
    http: reqwest::Client,
    endpoints: Endpoints,
    client_id: String,
    secret: Secret,
    tuning: Tuning,
    pacer: Pacer,
    tokens: TokenCache,
    token_requests: AtomicU64,
    retries: AtomicU64,
}

impl Client {
    /// Build the HTTP client. TLS certificates are always verified: there is
    /// no setting that turns that off.
    pub fn new(config: Config) -> Result<Self, ConfigError> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.tuning.connect_timeout)
            .read_timeout(config.tuning.read_timeout)
            .user_agent(concat!("transcript-vault/", env!("CARGO_PKG_VERSION")))
            // A redirect meets the same rule as the attachment URL itself
            // (`hosts`). reqwest already drops Authorization across hosts, but
            // would send the previous URL, a signed one included, as Referer.
            .redirect(hosts::redirect_policy(config.endpoints.local))
            .referer(false)
            .build()
            .map_err(|e| ConfigError::Client(e.to_string()))?;
        Ok(Self {
            http,
            pacer: Pacer::new(&config.tuning),
            tokens: TokenCache::new(config.tuning.token_refresh_margin),
            endpoints: config.endpoints,
            client_id: config.client_id,
            secret: config.client_secret,
            tuning: config.tuning,
            token_requests: AtomicU64::new(0),
            retries: AtomicU64::new(0),
        })
    }

    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    pub fn tuning(&self) -> &Tuning {
        &self.tuning
    }

    /// Token requests this client has made (each `POST /oauth/token` attempt).
    pub fn token_requests(&self) -> u64 {
        self.token_requests.load(Ordering::Relaxed)
    }

    /// Requests this client has sent again after a 429, 502, 503, 504 or a
    /// lost connection (the router publishes them as a metric).
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// `GET {api}{path}` with the bearer token; the status (2xx) and the body.
    pub async fn get_json(
        &self,
        what: &'static str,
        path: &str,
        deadline: Deadline,
    ) -> Result<(StatusCode, Bytes), SourceError> {
        self.api_json(what, Method::GET, path, None, deadline).await
    }

    /// `POST {api}{path}` with a JSON body and the bearer token.
    pub async fn post_json(
        &self,
        what: &'static str,
        path: &str,
        body: Bytes,
        deadline: Deadline,
    ) -> Result<(StatusCode, Bytes), SourceError> {
        let body = Some((body, "application/json"));
        self.api_json(what, Method::POST, path, body, deadline)
            .await
    }

    async fn api_json(
        &self,
        what: &'static str,
        method: Method,
        path: &str,
        body: Option<(Bytes, &'static str)>,
        deadline: Deadline,
    ) -> Result<(StatusCode, Bytes), SourceError> {
        let call = Call {
            what,
            method,
            url: format!("{}{path}", self.endpoints.api),
            body,
            auth: Auth::Bearer,
            timeout: Some(self.tuning.request_timeout),
        };
        let resp = self.send(&call, deadline).await?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| SourceError::Transient {
            reason: format!("{what}: reading the response failed: {}", e.without_url()),
            retry_after: None,
        })?;
        Ok((status, bytes))
    }

    /// The shared access token, fetched (once, for all callers) when needed.
    pub async fn token(&self, deadline: Deadline) -> Result<(AccessToken, u64), SourceError> {
        self.tokens.get(|| self.fetch_token(deadline)).await
    }

    async fn fetch_token(&self, deadline: Deadline) -> Result<Issued, SourceError> {
        let call = Call {
            what: "token",
            method: Method::POST,
            url: format!("{}/oauth/token", self.endpoints.login),
            body: Some((
                Bytes::from_static(b"grant_type=client_credentials"),
                "application/x-www-form-urlencoded",
            )),
            auth: Auth::Client,
            timeout: Some(self.tuning.request_timeout),
        };
        let resp = self
            .attempts(&call, None, deadline)
            .await
            .map_err(|f| match f.status {
                Some(
                    StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::BAD_REQUEST,
                ) => SourceError::Access {
                    reason: format!(
                        "the token endpoint {} refused the client credentials of client id {} ({}){}",
                        self.endpoints.login,
                        self.client_id,
                        f.error,
                        if f.error.to_string().contains(" invalid_client") {
                            // An OAuth client exists in the one region (org) it
                            // was created in; every other region's login host
                            // answers invalid_client, as for a wrong id.
                            ": Genesys does not know this client here; an OAuth client exists only in its own region, so check that GENESYSCLOUD_REGION names the region of your organization, then the client id and secret"
                        } else {
                            ": check the client id and secret, and that the OAuth client is active"
                        }
                    ),
                },
                _ => f.error,
            })?;
        let body = resp.bytes().await.map_err(|e| SourceError::Transient {
            reason: format!("token: reading the response failed: {}", e.without_url()),
            retry_after: None,
        })?;
        parse_token_response(&body)
    }

    /// Send `call`, retrying what is worth retrying inside `deadline`.
    /// Returns any 2xx response (202 included: callers decide what it means).
    /// A 401 to a bearer call renews the token once and tries again.
    pub async fn send(&self, call: &Call, deadline: Deadline) -> Result<Response, Failure> {
        if call.auth != Auth::Bearer {
            return self.attempts(call, None, deadline).await;
        }
        let (token, serial) = self.token(deadline).await.map_err(|e| fail(None, e))?;
        match self.attempts(call, Some(&token), deadline).await {
            Err(f) if f.status == Some(StatusCode::UNAUTHORIZED) => {
                warn!(
                    what = call.what,
                    "access token refused (expired or revoked early); renewing it once"
                );
                self.tokens.invalidate(serial).await;
                let (token, _) = self.token(deadline).await.map_err(|e| fail(None, e))?;
                self.attempts(call, Some(&token), deadline).await
            }
            other => other,
        }
    }

    /// The retry loop of one call with fixed credentials.
    async fn attempts(
        &self,
        call: &Call,
        bearer: Option<&AccessToken>,
        deadline: Deadline,
    ) -> Result<Response, Failure> {
        let mut attempt: u32 = 0;
        let shown_url = strip_query(&call.url);
        loop {
            attempt += 1;
            if call.auth != Auth::Anonymous {
                let mut wait = self.pacer.reserve();
                while !wait.is_zero() {
                    if !fits(deadline, wait, &self.tuning) {
                        self.pacer.cancel();
                        return Err(fail(
                            None,
                            transient(call.what, "paced past the deadline", Some(wait)),
                        ));
                    }
                    debug!(
                        what = call.what,
                        wait_ms = wait.as_millis() as u64,
                        "pacing"
                    );
                    tokio::time::sleep(wait).await;
                    // Another task may have met a 429 or a spent window while
                    // this one slept: the hold applies to this request too.
                    wait = self.pacer.held_for();
                }
            }
            let mut req = self.http.request(call.method.clone(), &call.url);
            match (call.auth, bearer) {
                (Auth::Bearer, Some(token)) => {
                    req = req.header(AUTHORIZATION, format!("Bearer {}", token.expose()));
                }
                (Auth::Client, _) => {
                    self.token_requests.fetch_add(1, Ordering::Relaxed);
                    req = req.basic_auth(&self.client_id, Some(self.secret.expose()));
                }
                _ => {}
            }
            if let Some((body, ct)) = &call.body {
                req = req.header(CONTENT_TYPE, *ct).body(body.clone());
            }
            if let Some(t) = call.timeout {
                req = req.timeout(t);
            }
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) => {
                    // `without_url`: a signed URL's query string is a credential.
                    let redirect = e.is_redirect();
                    let reason = format!("{}: {}", shown_url, error_chain(&e.without_url()));
                    if redirect {
                        // Refused by the redirect policy: trying again changes nothing.
                        warn!(what = call.what, error = %reason, "Genesys request not followed");
                        let error = if call.auth == Auth::Anonymous {
                            SourceError::Gone { reason }
                        } else {
                            SourceError::BadResponse { reason }
                        };
                        return Err(fail(None, error));
                    }
                    let wait = backoff(&self.tuning, attempt);
                    if attempt < self.tuning.max_attempts && fits(deadline, wait, &self.tuning) {
                        warn!(what = call.what, attempt, error = %reason, wait_ms = wait.as_millis() as u64, "Genesys request failed; retrying");
                        self.retries.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    warn!(what = call.what, attempt, error = %reason, "Genesys request failed");
                    return Err(fail(None, transient(call.what, &reason, Some(wait))));
                }
            };
            // The allowance Genesys states is per access token: only API
            // responses speak of it (the token endpoint has limits of its own).
            if call.auth == Auth::Bearer {
                self.pacer.observe(resp.headers());
            }
            let status = resp.status();
            if status.is_success() {
                return Ok(resp);
            }
            let headers = resp.headers().clone();
            let correlation_id = header_str(&headers, H_CORRELATION).unwrap_or_default();
            let mut body = resp.bytes().await.unwrap_or_default();
            let code = error_code(&body);
            body.truncate(MAX_ERROR_BODY);
            let retry_after = requested_wait(&headers);
            if is_retryable(status) {
                let wait = match (status, retry_after) {
                    (_, Some(ra)) => ra,
                    (StatusCode::TOO_MANY_REQUESTS, None) => self.tuning.default_retry_after,
                    _ => backoff(&self.tuning, attempt),
                };
                // The allowance is the token's, shared by every task: one
                // task's 429 means all of them wait, not only this one.
                if status == StatusCode::TOO_MANY_REQUESTS && call.auth == Auth::Bearer {
                    self.pacer.hold(wait);
                }
                if attempt < self.tuning.max_attempts && fits(deadline, wait, &self.tuning) {
                    warn!(what = call.what, url = %shown_url, status = status.as_u16(), correlation_id, code, attempt, wait_ms = wait.as_millis() as u64, "Genesys request failed; retrying");
                    self.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(wait).await;
                    continue;
                }
                warn!(what = call.what, url = %shown_url, status = status.as_u16(), correlation_id, code, attempt, retry_after_s = wait.as_secs(), "Genesys request failed; handing the wait back to the queue");
                let error = classify(call.what, status, correlation_id, &code, Some(wait));
                return Err(fail_with(status, error, body));
            }
            warn!(what = call.what, url = %shown_url, status = status.as_u16(), correlation_id, code, attempt, "Genesys request failed");
            let error = classify(call.what, status, correlation_id, &code, retry_after);
            return Err(fail_with(status, error, body));
        }
    }
}

/// The one place an HTTP status becomes a [`SourceError`].
pub fn classify(
    what: &str,
    status: StatusCode,
    correlation_id: &str,
    code: &str,
    retry_after: Option<Duration>,
) -> SourceError {
    let reason = format!(
        "{what}: HTTP {}{}{}",
        status.as_u16(),
        if code.is_empty() {
            String::new()
        } else {
            format!(" {code}")
        },
        if correlation_id.is_empty() {
            String::new()
        } else {
            format!(" (ININ-Correlation-Id {correlation_id})")
        }
    );
    match status.as_u16() {
        404 | 410 => SourceError::Gone { reason },
        401 | 403 => SourceError::Access { reason },
        408 | 429 | 500..=599 => SourceError::Transient {
            reason,
            retry_after,
        },
        _ => SourceError::BadResponse { reason },
    }
}

fn is_retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 502 | 503 | 504)
}

/// Whether waiting `wait` now is allowed: not past the deadline, not a quota breach.
fn fits(deadline: Deadline, wait: Duration, tuning: &Tuning) -> bool {
    let now = tokio::time::Instant::now().into_std();
    backoff::fits(deadline, now, wait, tuning.max_retry_after)
}

/// Exponential backoff from `backoff_base` before try `attempt` (1-based:
/// the wait after the first try is core's retry 0), capped, jittered.
fn backoff(t: &Tuning, attempt: u32) -> Duration {
    Backoff {
        initial: t.backoff_base,
        max: t.backoff_max,
    }
    .delay(attempt.saturating_sub(1))
}

/// `Retry-After` in integer seconds, as Genesys sends it
/// ([`RetryAfterForms::WholeSeconds`]). Anything else (a fraction, a sign,
/// `1e30`, a number past `u64`, an HTTP date) is treated as absent; a huge
/// integer is kept and, being over `max_retry_after`, goes back to the
/// queue, which caps it.
fn requested_wait(h: &HeaderMap) -> Option<Duration> {
    let value = header_str(h, RETRY_AFTER.as_str())?;
    backoff::retry_after(value, chrono::Utc::now(), RetryAfterForms::WholeSeconds)
}

fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// Genesys's machine-readable error code (`code`, or OAuth's `error`), never the free text.
fn error_code(body: &[u8]) -> String {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return String::new();
    };
    let code = v.get("code").or_else(|| v.get("error"));
    code.and_then(|c| c.as_str())
        .filter(|c| c.len() <= 80 && c.chars().all(|ch| ch.is_ascii_graphic()))
        .unwrap_or_default()
        .to_string()
}

fn transient(what: &str, reason: &str, retry_after: Option<Duration>) -> SourceError {
    SourceError::Transient {
        reason: format!("{what}: {reason}"),
        retry_after,
    }
}

fn fail(status: Option<StatusCode>, error: SourceError) -> Failure {
    Failure {
        status,
        error,
        body: Bytes::new(),
    }
}

fn fail_with(status: StatusCode, error: SourceError, body: Bytes) -> Failure {
    Failure {
        status: Some(status),
        error,
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified_once() {
        let c = |s: u16| classify("x", StatusCode::from_u16(s).unwrap(), "cid", "", None);
        assert!(matches!(c(404), SourceError::Gone { .. }));
        assert!(matches!(c(410), SourceError::Gone { .. }));
        assert!(matches!(c(401), SourceError::Access { .. }));
        assert!(matches!(c(429), SourceError::Transient { .. }));
        assert!(matches!(c(503), SourceError::Transient { .. }));
        assert!(matches!(c(400), SourceError::BadResponse { .. }));
        assert!(c(503).to_string().contains("ININ-Correlation-Id cid"));
    }

    #[test]
    fn backoff_grows_and_stays_under_the_cap() {
        let t = Tuning::default();
        for attempt in 1..20 {
            let b = backoff(&t, attempt);
            assert!(b <= t.backoff_max, "{b:?}");
            let floor = t
                .backoff_base
                .saturating_mul(1 << (attempt - 1).min(16))
                .min(t.backoff_max)
                / 2;
            assert!(b >= floor);
        }
    }
}
