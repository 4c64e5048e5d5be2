//! Pacing below the per-token request allowance, for every record task of
//! the process at once.
//!
//! Genesys allows about 300 requests a minute per client-credentials token
//! and says so in `inin-ratelimit-*` headers. Every request to the Platform
//! API (token endpoint included) reserves a slot in a token bucket first; the
//! reservation tells how long to wait, so concurrent callers queue up in
//! order instead of all hitting 429 together. The pacer is shared by every
//! task using the token, so what one response says slows all of them:
//!
//! - `inin-ratelimit-allowed` sets the rate (at the headroom share of it, and
//!   never above the environment's allowance, [`Tuning::allowance_per_minute`]);
//! - `inin-ratelimit-count` caps what may still go out in this window, and a
//!   spent window holds everyone until `inin-ratelimit-reset`;
//! - a 429 holds everyone for its `Retry-After` ([`Pacer::hold`]).
//!
//! The header values are upstream input: anything that is not a finite,
//! non-negative number is ignored, and every wait is bounded.

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

/// Genesys counts requests per minute: no window resets later than this.
const MAX_RESET: f64 = 60.0;

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
    /// The environment's allowance per minute, if one is set.
    ceiling: Option<f64>,
    /// The longest hold: a longer `Retry-After` is the queue's to wait out.
    max_hold: Duration,
    state: Mutex<State>,
}

impl Pacer {
    /// A full bucket at the rate and burst of `t`.
    pub fn new(t: &Tuning) -> Self {
        let headroom = if t.rate_headroom.is_finite() {
            t.rate_headroom.clamp(0.01, 1.0)
        } else {
            1.0
        };
        let ceiling = t.allowance_per_minute.map(|a| f64::from(a.max(1)));
        let per_min = f64::from(t.requests_per_minute.max(1));
        let per_min = ceiling.map_or(per_min, |c| per_min.min(c));
        let burst = f64::from(t.burst.max(1));
        let capacity = burst.min(per_min * headroom).max(1.0);
        Self {
            headroom,
            burst,
            ceiling,
            max_hold: t.max_retry_after,
            state: Mutex::new(State {
                per_sec: per_min * headroom / 60.0,
                capacity,
                tokens: capacity,
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
            wait = secs(-s.tokens / s.per_sec);
        }
        wait.max(held(&s, now))
    }

    /// How long everyone must still hold off (a 429 or a spent window seen by
    /// any task). A caller that slept through its reservation checks this
    /// before sending: the hold may have begun while it slept.
    pub fn held_for(&self) -> Duration {
        held(&self.lock(), Instant::now())
    }

    /// Give back a reservation that will not be used.
    pub fn cancel(&self) {
        let mut s = self.lock();
        s.tokens = (s.tokens + 1.0).min(s.capacity);
    }

    /// Hold every request for `wait` (a 429's `Retry-After`), at most the
    /// longest wait slept in-process: past that, the queue waits instead.
    pub fn hold(&self, wait: Duration) {
        let now = Instant::now();
        let mut s = self.lock();
        extend_hold(&mut s, now, wait.min(self.max_hold));
    }

    /// Adjust to what Genesys says about this token's allowance.
    pub fn observe(&self, headers: &HeaderMap) {
        let num = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|n| n.is_finite() && *n >= 0.0)
        };
        let Some(allowed) = num(H_ALLOWED).filter(|a| *a >= 1.0) else {
            return;
        };
        let (count, reset) = (num(H_COUNT), num(H_RESET).map(|r| r.min(MAX_RESET)));
        let now = Instant::now();
        let mut s = self.lock();
        refill(&mut s, now);
        let usable = allowed * self.headroom;
        let per_min = self.ceiling.map_or(usable, |c| usable.min(c));
        s.per_sec = per_min / 60.0;
        s.capacity = self.burst.min(per_min).max(1.0);
        s.tokens = s.tokens.min(s.capacity);
        if let Some(count) = count {
            let left = usable - count;
            match reset {
                // The window is (nearly) spent: nobody sends until it resets.
                Some(reset) if left < 1.0 => extend_hold(&mut s, now, secs(reset)),
                // The burst may not spend more than the window has left.
                _ => s.tokens = s.tokens.min(left.max(0.0)),
            }
        }
    }
}

/// Seconds as a `Duration`; a value no `Duration` holds becomes a day, which
/// every caller then hands to the queue rather than sleeping.
fn secs(x: f64) -> Duration {
    Duration::try_from_secs_f64(x).unwrap_or(Duration::from_secs(86_400))
}

fn held(s: &State, now: Instant) -> Duration {
    s.hold_until
        .map_or(Duration::ZERO, |h| h.saturating_duration_since(now))
}

fn extend_hold(s: &mut State, now: Instant, wait: Duration) {
    // `wait` is bounded by the callers (a minute, or max_retry_after), so
    // this cannot overflow; if it could, not holding is the safe failure.
    if let Some(until) = now.checked_add(wait) {
        s.hold_until = Some(s.hold_until.map_or(until, |h| h.max(until)));
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

    #[tokio::test(start_paused = true)]
    async fn the_environments_allowance_caps_the_rate_genesys_states() {
        let p = Pacer::new(&Tuning {
            allowance_per_minute: Some(60),
            ..tuning(6000, 1)
        });
        let mut h = HeaderMap::new();
        h.insert(H_ALLOWED, HeaderValue::from_static("300"));
        p.observe(&h);
        assert_eq!(p.reserve(), Duration::ZERO);
        // 60 a minute, not Genesys's 300.
        assert_eq!(p.reserve(), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn the_count_caps_the_burst_at_what_the_window_has_left() {
        let p = Pacer::new(&tuning(60, 50));
        let mut h = HeaderMap::new();
        h.insert(H_ALLOWED, HeaderValue::from_static("60"));
        h.insert(H_COUNT, HeaderValue::from_static("57"));
        h.insert(H_RESET, HeaderValue::from_static("30"));
        p.observe(&h);
        for _ in 0..3 {
            assert_eq!(p.reserve(), Duration::ZERO);
        }
        assert_eq!(p.reserve(), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn absurd_header_values_are_ignored_and_holds_are_bounded() {
        let p = Pacer::new(&tuning(60, 1));
        for (allowed, count, reset) in [
            ("1e30", "1e30", "1e30"),
            ("inf", "inf", "inf"),
            ("NaN", "NaN", "NaN"),
            ("-1", "-1", "-1"),
            (
                "18446744073709551615",
                "18446744073709551615",
                "18446744073709551615",
            ),
            ("0", "5", "5"),
        ] {
            let mut h = HeaderMap::new();
            h.insert(H_ALLOWED, HeaderValue::from_str(allowed).unwrap());
            h.insert(H_COUNT, HeaderValue::from_str(count).unwrap());
            h.insert(H_RESET, HeaderValue::from_str(reset).unwrap());
            p.observe(&h);
            assert!(p.reserve() <= Duration::from_secs(61), "{allowed}");
        }
        p.hold(Duration::MAX);
        let held = p.held_for();
        assert!(held <= Tuning::default().max_retry_after, "{held:?}");
        assert!(held >= Duration::from_secs(179), "{held:?}");
    }
}
