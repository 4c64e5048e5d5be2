//! Adaptive concurrency toward Azure: additive increase, multiplicative
//! decrease (AIMD), in the spirit of Vector's adaptive request concurrency.
//!
//! Every request to the account takes a permit. A throttling answer (429,
//! 503) halves the limit, at most once per window so one burst of throttled
//! answers counts once; a full window of successes (as many as the limit)
//! raises it by one. Azure's per-account and per-blob limits are unknown to
//! the client, so this finds the rate the account sustains instead of
//! guessing one.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// Bounds of the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConcurrencyLimits {
    /// Where the limit starts.
    pub initial: usize,
    /// The limit never falls below this.
    pub min: usize,
    /// The limit never rises above this.
    pub max: usize,
}

#[derive(Debug)]
struct State {
    limit: usize,
    in_flight: usize,
    successes: usize,
    last_decrease: Option<Instant>,
    decreases: u64,
}

/// The shared limiter.
#[derive(Debug)]
pub struct Limiter {
    bounds: ConcurrencyLimits,
    /// Decreases closer together than this count as one (one throttling burst).
    window: Duration,
    state: Mutex<State>,
    notify: Notify,
}

/// A permit; returned on drop.
#[derive(Debug)]
pub struct Permit<'a>(&'a Limiter);

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut s = self.0.lock();
        s.in_flight = s.in_flight.saturating_sub(1);
        drop(s);
        self.0.notify.notify_one();
    }
}

impl Limiter {
    /// A limiter within `bounds`.
    pub fn new(bounds: ConcurrencyLimits, window: Duration) -> Self {
        let min = bounds.min.max(1);
        let max = bounds.max.max(min);
        let bounds = ConcurrencyLimits {
            initial: bounds.initial.clamp(min, max),
            min,
            max,
        };
        Self {
            bounds,
            window,
            state: Mutex::new(State {
                limit: bounds.initial,
                in_flight: 0,
                successes: 0,
                last_decrease: None,
                decreases: 0,
            }),
            notify: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means a panic elsewhere; the counters stay usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wait for a permit.
    pub async fn acquire(&self) -> Permit<'_> {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            // Register before checking, so a release between the check and the wait is not lost.
            notified.as_mut().enable();
            {
                let mut s = self.lock();
                if s.in_flight < s.limit {
                    s.in_flight += 1;
                    return Permit(self);
                }
            }
            notified.await;
        }
    }

    /// A request succeeded: after a window of `limit` successes, allow one more.
    pub fn on_success(&self) {
        let mut s = self.lock();
        s.successes += 1;
        if s.successes >= s.limit && s.limit < self.bounds.max {
            s.limit += 1;
            s.successes = 0;
            drop(s);
            self.notify.notify_one();
        }
    }

    /// The service throttled us: halve the limit (once per window).
    pub fn on_throttle(&self) {
        let mut s = self.lock();
        let now = Instant::now();
        if s.last_decrease
            .is_some_and(|t| now.duration_since(t) < self.window)
        {
            return;
        }
        s.last_decrease = Some(now);
        s.limit = (s.limit / 2).max(self.bounds.min);
        s.successes = 0;
        s.decreases += 1;
    }

    /// The current limit.
    pub fn limit(&self) -> usize {
        self.lock().limit
    }

    /// How many times the limit was lowered.
    pub fn decreases(&self) -> u64 {
        self.lock().decreases
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> Limiter {
        Limiter::new(
            ConcurrencyLimits {
                initial: 8,
                min: 2,
                max: 10,
            },
            Duration::from_millis(50),
        )
    }

    #[test]
    fn throttling_halves_once_per_window_and_successes_add_one() {
        let l = limiter();
        l.on_throttle();
        l.on_throttle();
        assert_eq!(l.limit(), 4, "a burst counts once");
        for _ in 0..4 {
            l.on_success();
        }
        assert_eq!(l.limit(), 5);
        std::thread::sleep(Duration::from_millis(60));
        l.on_throttle();
        assert_eq!(l.limit(), 2);
        std::thread::sleep(Duration::from_millis(60));
        l.on_throttle();
        assert_eq!(l.limit(), 2, "never below the minimum");
        assert_eq!(l.decreases(), 3);
    }

    #[tokio::test]
    async fn permits_beyond_the_limit_wait_for_a_release() {
        let l = std::sync::Arc::new(limiter());
        let held: Vec<_> = {
            let mut v = Vec::new();
            for _ in 0..8 {
                v.push(l.acquire().await);
            }
            v
        };
        let waiting = tokio::time::timeout(Duration::from_millis(20), l.acquire()).await;
        assert!(waiting.is_err(), "the ninth permit must wait");
        drop(held);
        let got = tokio::time::timeout(Duration::from_millis(200), l.acquire()).await;
        assert!(got.is_ok());
    }
}
