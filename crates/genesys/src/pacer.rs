//! Pacing below the per-token request allowance.
//!
//! Genesys allows about 300 requests a minute per client-credentials token
//! and says so in `inin-ratelimit-*` headers. Every request to the Platform
//! API (token endpoint included) reserves a slot in a token bucket first; the
//! reservation tells how long to wait, so concurrent callers queue up in
//! order instead of all hitting 429 together.

use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::HeaderMap;
use tokio::time::Instant;

use crate::tuning::Tuning;

/// Header with the number of requests allowed in the current window.
pub const H_ALLOWED: &str = "inin-ratelimit-allowed";
/// Header with the number of requests counted in the current window.
pub const H_COUNT: &str = "inin-ratelimit-count";
/// Header with the seconds until the window resets.
pub const H_RESET: &str = "inin-ratelimit-reset";

#[derive(Debug)]
struct State {
    per_sec: f64,
    capacity: f64,
    /// May go negative: that many requests are already queued.
    tokens: f64,
    last: Instant,
    hold_until: Option<Instant>,
}

/// A token bucket shared by everything using one access token.
#[derive(Debug)]
pub struct Pacer {
    headroom: f64,
    burst: f64,
    state: Mutex<State>,
}

impl Pacer {
    /// A full bucket at the rate and burst of `t`.
    pub fn new(t: &Tuning) -> Self {
        let burst = f64::from(t.burst.max(1));
        let per_sec = f64::from(t.requests_per_minute.max(1)) * t.rate_headroom / 60.0;
        Self {
            headroom: t.rate_headroom,
            burst,
            state: Mutex::new(State {
                per_sec,
                capacity: burst,
                tokens: burst,
                last: Instant::now(),
                hold_until: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock leaves plain numbers behind; keep using them.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reserve one request; returns how long to wait before sending it.
    pub fn reserve(&self) -> Duration {
        let now = Instant::now();
        let mut s = self.lock();
        refill(&mut s, now);
        s.tokens -= 1.0;
        let mut wait = Duration::ZERO;
        if s.tokens < 0.0 {
            wait = Duration::from_secs_f64(-s.tokens / s.per_sec);
        }
        if let Some(h) = s.hold_until {
            wait = wait.max(h.saturating_duration_since(now));
        }
        wait
    }

    /// Give back a reservation that will not be used.
    pub fn cancel(&self) {
        let mut s = self.lock();
        s.tokens = (s.tokens + 1.0).min(s.capacity);
    }

    /// Adjust to what Genesys says about this token's allowance.
    pub fn observe(&self, headers: &HeaderMap) {
        let num = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
        };
        let (allowed, count, reset) = (num(H_ALLOWED), num(H_COUNT), num(H_RESET));
        let now = Instant::now();
        let mut s = self.lock();
        refill(&mut s, now);
        if let Some(allowed) = allowed.filter(|a| *a >= 1.0) {
            s.per_sec = allowed * self.headroom / 60.0;
            s.capacity = self.burst.min(allowed * self.headroom).max(1.0);
            s.tokens = s.tokens.min(s.capacity);
            if let (Some(count), Some(reset)) = (count, reset)
                && count >= allowed * self.headroom
                && reset.is_finite()
                && reset > 0.0
            {
                // The window is (nearly) spent: nobody sends until it resets.
                let until = now + Duration::from_secs_f64(reset.min(60.0));
                s.hold_until = Some(s.hold_until.map_or(until, |h| h.max(until)));
            }
        }
    }
}

fn refill(s: &mut State, now: Instant) {
    let elapsed = now.saturating_duration_since(s.last).as_secs_f64();
    s.tokens = (s.tokens + elapsed * s.per_sec).min(s.capacity);
    s.last = now;
    if s.hold_until.is_some_and(|h| h <= now) {
        s.hold_until = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn tuning(per_minute: u32, burst: u32) -> Tuning {
        Tuning {
            requests_per_minute: per_minute,
            rate_headroom: 1.0,
            burst,
            ..Tuning::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn burst_goes_at_once_then_requests_are_spaced_at_the_rate() {
        let p = Pacer::new(&tuning(60, 2));
        assert_eq!(p.reserve(), Duration::ZERO);
        assert_eq!(p.reserve(), Duration::ZERO);
        // 60/min = one a second: the third and fourth queue behind each other.
        assert_eq!(p.reserve(), Duration::from_secs(1));
        assert_eq!(p.reserve(), Duration::from_secs(2));
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(p.reserve(), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn genesys_headers_set_the_rate_and_a_spent_window_holds_everyone() {
        let p = Pacer::new(&tuning(6000, 1));
        let mut h = HeaderMap::new();
        h.insert(H_ALLOWED, HeaderValue::from_static("60"));
        p.observe(&h);
        assert_eq!(p.reserve(), Duration::ZERO);
        assert_eq!(p.reserve(), Duration::from_secs(1));
        h.insert(H_COUNT, HeaderValue::from_static("60"));
        h.insert(H_RESET, HeaderValue::from_static("7"));
        p.observe(&h);
        assert!(p.reserve() >= Duration::from_secs(7));
    }
}
