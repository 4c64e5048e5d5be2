//! Retry, timeout and pacing settings, in one place, each with its reason.
//!
//! They must fit inside the Lambda timeout and the SQS visibility timeout:
//! the worst case of one call (attempts × (timeout + wait)) is bounded by the
//! record's [`Deadline`](tvault_core::ports::Deadline) anyway, because a wait
//! that would pass the deadline is handed back to the queue instead.

use std::time::Duration;

/// How hard and how fast the client talks to Genesys Cloud.
#[derive(Debug, Clone, PartialEq)]
pub struct Tuning {
    /// Tries per request, the first included.
    pub max_attempts: u32,
    /// Wait after a 429 without `Retry-After`.
    pub default_retry_after: Duration,
    /// The longest `Retry-After` we wait out in-process; longer ones go back to the queue.
    pub max_retry_after: Duration,
    /// First backoff after a 5xx or a network error; doubles per attempt, jittered.
    pub backoff_base: Duration,
    /// Ceiling of one backoff.
    pub backoff_max: Duration,
    /// Whole-request timeout for JSON API calls (not for attachment bodies).
    pub request_timeout: Duration,
    /// Time to open a TCP + TLS connection.
    pub connect_timeout: Duration,
    /// Longest silence while reading a body (attachments can be large, so no total timeout).
    pub read_timeout: Duration,
    /// Renew the access token this long before it expires.
    pub token_refresh_margin: Duration,
    /// Requests per minute we allow ourselves per token before Genesys tells us its figure.
    pub requests_per_minute: u32,
    /// This process's share of the organisation's Genesys allowance
    /// (`TVAULT_GENESYS_REQUESTS_PER_MINUTE`): a ceiling on the rate, whatever
    /// the token's own allowance. `None`: the token's allowance alone.
    pub allowance_per_minute: Option<u32>,
    /// The share of Genesys's stated allowance we use (headroom for clock skew and other clients).
    pub rate_headroom: f64,
    /// Requests that may go out at once before pacing starts.
    pub burst: u32,
    /// Listings of at most this many days use the synchronous details query; longer ones use async jobs.
    pub analytics_sync_max_days: u64,
    /// Wait between two status polls of an analytics job.
    pub analytics_poll: Duration,
    /// Give up on an analytics job that is not fulfilled after this long.
    pub analytics_job_timeout: Duration,
    /// The most results one details query or job returns; a range that reaches it is split.
    pub analytics_max_results: u64,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            // Genesys's own SDKs give up after a handful of retries; five tries
            // with 3 s waits (about 15 s) fit a Lambda with a 60 s timeout.
            max_attempts: 5,
            // What Genesys's SDKs assume when a 429 carries no Retry-After.
            default_retry_after: Duration::from_secs(3),
            // Genesys's SDKs do not retry past 180 s: longer waits mean a daily
            // quota breach, which the queue (not a sleeping function) should absorb.
            max_retry_after: Duration::from_secs(180),
            // Short enough to ride out a load-balancer blip, long enough not to hammer.
            backoff_base: Duration::from_millis(500),
            // Keeps the five attempts of one request well under a minute.
            backoff_max: Duration::from_secs(10),
            // JSON responses are small; 30 s means the API is in trouble.
            request_timeout: Duration::from_secs(30),
            // A TLS handshake in-region takes milliseconds; 10 s covers cold NAT paths.
            connect_timeout: Duration::from_secs(10),
            // A CDN stalled for a minute on one chunk will not recover in time.
            read_timeout: Duration::from_secs(60),
            // Tokens live 24 h by default; five minutes of margin means no request
            // ever starts with a token about to lapse.
            token_refresh_margin: Duration::from_secs(300),
            // The documented allowance per client-credentials token is about 300/min.
            requests_per_minute: 300,
            // Each Lambda environment has its own token, so the token's allowance
            // does not bound the organisation's load: the operator sets this share
            // (docs/genesys.md, "Load on the organisation"); unset, nothing extra.
            allowance_per_minute: None,
            // Stay at 90 % of the allowance so bursts from retries still fit.
            rate_headroom: 0.9,
            // Ten seconds' worth of the allowance: enough to start a batch at once
            // without spending the whole minute in its first second.
            burst: 50,
            // A week of paged sync queries (100 rows a page) stays a few dozen
            // requests for a typical org; beyond that one job per 31 days is cheaper.
            analytics_sync_max_days: 7,
            // Jobs take seconds to minutes; polling every 2 s costs 30 requests a
            // minute at most, a tenth of the allowance.
            analytics_poll: Duration::from_secs(2),
            // Genesys queues jobs under load; half an hour means it is stuck, and
            // reconcile is a batch command that can simply be run again.
            analytics_job_timeout: Duration::from_secs(30 * 60),
            // Genesys's documented ceiling per details query (and per job).
            analytics_max_results: 100_000,
        }
    }
}
