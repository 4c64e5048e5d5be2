//! The OAuth access token: one per process, shared by all concurrent work.
//!
//! `POST {login}/oauth/token` with Basic auth and `grant_type=client_credentials`
//! (the call itself is made by [`crate::client`]). Client-credentials tokens
//! cannot be refreshed, only replaced: the cache asks for a new one a margin
//! before `expires_in`, and once more when the API answers 401. The cache's
//! mutex is held while a token is fetched, so fifty callers arriving at once
//! cause one token request (single flight), not fifty.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;
use tvault_core::ports::SourceError;

/// An OAuth access token. `Debug` and `Display` print `[redacted]`.
#[derive(Clone)]
pub struct AccessToken(Arc<str>);

impl AccessToken {
    /// The value, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A token as issued, with how long it lives.
#[derive(Debug, Clone)]
pub struct Issued {
    pub token: AccessToken,
    pub expires_in: Duration,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: Option<String>,
    /// Any JSON number: `18446744073709551615`, `1e30`, `-5` and `3599.5`
    /// all parse, and [`lifetime`] bounds them.
    expires_in: Option<serde_json::Number>,
}

/// Genesys's default token lifetime (FACTS.md; SDK `OAuthClientRequest.md`:
/// "a default of 24 hours will be applied").
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(86_400);
/// The longest lifetime believed: an OAuth client's tokens live "between
/// 5mins and 48hrs" (SDK `OAuthClientRequest.md`, `accessTokenValiditySeconds`).
pub const MAX_LIFETIME: Duration = Duration::from_secs(48 * 3600);
/// The shortest lifetime used. Below Genesys's own 5-minute minimum, so a
/// short-lived token is still taken at its word, but a zero or negative
/// `expires_in` cannot make every request fetch a new token.
pub const MIN_LIFETIME: Duration = Duration::from_secs(60);

/// How long a token lives, from its `expires_in` (seconds), within
/// [`MIN_LIFETIME`]..=[`MAX_LIFETIME`]; [`DEFAULT_LIFETIME`] when absent.
fn lifetime(expires_in: Option<&serde_json::Number>) -> Duration {
    let Some(secs) = expires_in.and_then(serde_json::Number::as_f64) else {
        return DEFAULT_LIFETIME;
    };
    if secs.is_nan() {
        return DEFAULT_LIFETIME;
    }
    let secs = secs.clamp(MIN_LIFETIME.as_secs_f64(), MAX_LIFETIME.as_secs_f64());
    Duration::try_from_secs_f64(secs).unwrap_or(DEFAULT_LIFETIME)
}

/// Parse `{access_token, token_type, expires_in}`. Errors never quote the
/// body, which holds the token.
pub fn parse_token_response(body: &[u8]) -> Result<Issued, SourceError> {
    let r: TokenResponse = serde_json::from_slice(body).map_err(|e| SourceError::BadResponse {
        reason: format!(
            "token response is not the expected JSON (line {}, column {}, {:?})",
            e.line(),
            e.column(),
            e.classify()
        ),
    })?;
    let token =
        r.access_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| SourceError::BadResponse {
                reason: "token response has no access_token".into(),
            })?;
    Ok(Issued {
        token: AccessToken(token.into()),
        expires_in: lifetime(r.expires_in.as_ref()),
    })
}

struct Cached {
    token: AccessToken,
    renew_at: Instant,
    serial: u64,
}

/// The process's one token, renewed before it expires and after a 401.
pub struct TokenCache {
    margin: Duration,
    slot: Mutex<Option<Cached>>,
    serial: std::sync::atomic::AtomicU64,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("margin", &self.margin)
            .finish_non_exhaustive()
    }
}

impl TokenCache {
    /// An empty cache renewing `margin` before expiry.
    pub fn new(margin: Duration) -> Self {
        Self {
            margin,
            slot: Mutex::new(None),
            serial: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The current token and its serial number, fetching one with `fetch`
    /// if there is none or it is due for renewal. Only one fetch runs at a time.
    pub async fn get<F, Fut>(&self, fetch: F) -> Result<(AccessToken, u64), SourceError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Issued, SourceError>>,
    {
        let mut slot = self.slot.lock().await;
        let now = Instant::now();
        if let Some(c) = slot.as_ref()
            && now < c.renew_at
        {
            return Ok((c.token.clone(), c.serial));
        }
        let issued = fetch().await?;
        // A short-lived token (tests, or a misconfigured org) is renewed at half
        // its life rather than never being considered fresh.
        let margin = self.margin.min(issued.expires_in / 2);
        let serial = self
            .serial
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        // `expires_in` comes from the network: bounded by `parse_token_response`
        // for tokens it made, and checked here for any other. A lifetime past
        // what the clock can hold renews at once rather than panicking.
        let renew_at = now
            .checked_add(issued.expires_in.saturating_sub(margin))
            .unwrap_or(now);
        *slot = Some(Cached {
            token: issued.token.clone(),
            renew_at,
            serial,
        });
        tracing::debug!(
            serial,
            expires_in_s = issued.expires_in.as_secs(),
            "new Genesys access token"
        );
        Ok((issued.token, serial))
    }

    /// Drop token `serial` after a 401. A newer token (another caller already
    /// renewed) is kept, so a burst of 401s causes one renewal.
    pub async fn invalidate(&self, serial: u64) {
        let mut slot = self.slot.lock().await;
        if slot.as_ref().is_some_and(|c| c.serial == serial) {
            *slot = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn issued(v: &str, secs: u64) -> Issued {
        Issued {
            token: AccessToken(v.into()),
            expires_in: Duration::from_secs(secs),
        }
    }

    #[test]
    fn token_never_shows_and_parse_errors_do_not_quote_the_body() {
        let t = parse_token_response(br#"{"access_token":"tok-XYZ","expires_in":10}"#).unwrap();
        assert_eq!(t.token.expose(), "tok-XYZ");
        assert_eq!(
            format!("{:?} {}", t.token, t.token),
            "[redacted] [redacted]"
        );
        let err = parse_token_response(br#"{"access_token":"tok-XYZ","expires_in":"soon"}"#)
            .unwrap_err()
            .to_string();
        assert!(!err.contains("tok-XYZ") && !err.contains("soon"), "{err}");
    }

    #[test]
    fn absurd_lifetimes_are_bounded() {
        let life = |v: &str| {
            parse_token_response(format!(r#"{{"access_token":"t","expires_in":{v}}}"#).as_bytes())
                .unwrap()
                .expires_in
        };
        assert_eq!(life("86399"), Duration::from_secs(86_399));
        assert_eq!(life("3599.5"), Duration::from_secs_f64(3599.5));
        for huge in [
            "18446744073709551615",
            "1e30",
            "1e308",
            "99999999999999999999999",
        ] {
            assert_eq!(life(huge), MAX_LIFETIME, "{huge}");
        }
        for tiny in ["0", "-1", "-9223372036854775808", "-1e30", "0.001"] {
            assert_eq!(life(tiny), MIN_LIFETIME, "{tiny}");
        }
        assert_eq!(life("null"), DEFAULT_LIFETIME);
    }

    #[tokio::test(start_paused = true)]
    async fn a_lifetime_past_the_clock_renews_instead_of_panicking() {
        let cache = TokenCache::new(Duration::from_secs(300));
        let fetches = AtomicU32::new(0);
        let fetch = || async {
            fetches.fetch_add(1, Ordering::SeqCst);
            Ok(Issued {
                token: AccessToken("t".into()),
                expires_in: Duration::MAX,
            })
        };
        cache.get(fetch).await.unwrap();
        cache.get(fetch).await.unwrap();
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn token_is_reused_then_renewed_before_expiry_and_after_invalidation() {
        let cache = TokenCache::new(Duration::from_secs(300));
        let fetches = AtomicU32::new(0);
        let fetch = || async {
            let n = fetches.fetch_add(1, Ordering::SeqCst);
            Ok(issued(&format!("t{n}"), 3600))
        };
        let (a, s1) = cache.get(fetch).await.unwrap();
        let (b, _) = cache.get(fetch).await.unwrap();
        assert_eq!((a.expose(), b.expose()), ("t0", "t0"));
        // 3600 s minus the 300 s margin: renewed at 3300 s.
        tokio::time::advance(Duration::from_secs(3299)).await;
        assert_eq!(cache.get(fetch).await.unwrap().0.expose(), "t0");
        tokio::time::advance(Duration::from_secs(2)).await;
        let (c, s2) = cache.get(fetch).await.unwrap();
        assert_eq!(c.expose(), "t1");
        // A stale 401 (serial 1) does not throw away the newer token.
        cache.invalidate(s1).await;
        assert_eq!(cache.get(fetch).await.unwrap().0.expose(), "t1");
        cache.invalidate(s2).await;
        assert_eq!(cache.get(fetch).await.unwrap().0.expose(), "t2");
        assert_eq!(fetches.load(Ordering::SeqCst), 3);
    }
}
