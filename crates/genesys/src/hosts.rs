//! Where requests may go: which hosts are Genesys's (the region table), and
//! which attachment URLs (and the redirects they lead to) may be fetched at
//! all.
//!
//! An attachment URL comes from a transcript, which is upstream input. A
//! crafted one must not reach the machine the archive runs on: in a Lambda,
//! `http://127.0.0.1:9001` is the Runtime API, and a GET of
//! `/2018-06-01/runtime/invocation/next` there would take the next
//! invocation; `169.254.169.254` and `169.254.170.2` hand out EC2 and ECS
//! credentials. So, unless the configured Genesys base URL is itself a
//! loopback test server (the fake API of the tests), an attachment URL and
//! every redirect it leads to must be `https` to a host that is not loopback,
//! unspecified (`0.0.0.0`, `::`) or link-local. A refused URL is never
//! fetched; the attachment is recorded as missing with the reason.
//!
//! Redirects are followed at most [`MAX_REDIRECTS`] times, each checked by the
//! same rule, and never carry a `Referer` (the client turns it off): the
//! previous URL is often a signed URL whose query string is a credential.
//!
//! Host names are checked as written, not as resolved: a name that resolves
//! to a local address still needs a certificate for that name, which the
//! Runtime API (plain http) and the metadata endpoints cannot present.

use std::net::IpAddr;

use reqwest::Url;
use reqwest::redirect::Policy;

/// Genesys Cloud regions: AWS region name and the domain of its hosts
/// (`api.{domain}`, `login.{domain}`, `api-downloads.{domain}`).
pub const REGIONS: [(&str, &str); 18] = [
    ("us-east-1", "mypurecloud.com"),
    ("us-east-2", "use2.us-gov-pure.cloud"),
    ("us-west-2", "usw2.pure.cloud"),
    ("ca-central-1", "cac1.pure.cloud"),
    ("sa-east-1", "sae1.pure.cloud"),
    ("mx-central-1", "mxc1.pure.cloud"),
    ("eu-west-1", "mypurecloud.ie"),
    ("eu-west-2", "euw2.pure.cloud"),
    ("eu-central-1", "mypurecloud.de"),
    ("eu-central-2", "euc2.pure.cloud"),
    ("eusc-de-east-1", "edee1.eusc-pure.cloud"),
    ("me-central-1", "mec1.pure.cloud"),
    ("ap-south-1", "aps1.pure.cloud"),
    ("ap-southeast-1", "apse1.pure.cloud"),
    ("ap-southeast-2", "mypurecloud.com.au"),
    ("ap-northeast-1", "mypurecloud.jp"),
    ("ap-northeast-2", "apne2.pure.cloud"),
    ("ap-northeast-3", "apne3.pure.cloud"),
];

/// Redirects followed per request. Genesys's signed URLs redirect once at
/// most (to a CDN); a longer chain is a loop or a trap.
pub const MAX_REDIRECTS: usize = 5;

/// The Genesys domain of a known region that `host` belongs to: the bare
/// domain (`mypurecloud.ie`) or one of its hosts (`api.`, `api-downloads.`,
/// `login.`). `host` is compared in lowercase.
pub fn known_domain(host: &str) -> Option<&'static str> {
    let host = host.to_ascii_lowercase();
    let bare = ["api.", "api-downloads.", "login."]
        .iter()
        .find_map(|p| host.strip_prefix(p))
        .unwrap_or(&host);
    REGIONS.iter().map(|(_, d)| *d).find(|d| *d == bare)
}

/// Whether `host` is `api.{domain}` or `api-downloads.{domain}` of a known
/// region: the hosts whose `/api/v2/downloads/{id}` URLs name a download id.
pub fn serves_downloads(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    ["api.", "api-downloads."]
        .iter()
        .filter_map(|p| host.strip_prefix(p))
        .any(|d| REGIONS.iter().any(|(_, known)| *known == d))
}

/// Whether `host` is one of Genesys's own hosts (`api.`, `api-downloads.` or
/// `login.` of a known region's domain).
pub fn is_genesys_host(host: &str) -> bool {
    known_domain(host).is_some_and(|d| !host.eq_ignore_ascii_case(d))
}

/// The address of `url`'s host, when it is written as an IP address.
fn ip_of(url: &Url) -> Option<IpAddr> {
    // `host_str` writes IPv6 addresses in brackets; the URL parser has
    // already normalised IPv4 spellings such as `2130706433` or `0x7f.1`.
    let host = url.host_str()?;
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .ok()
}

/// Whether `url` points at the machine itself: a loopback address or `localhost`.
pub fn is_loopback(url: &Url) -> bool {
    match ip_of(url) {
        Some(IpAddr::V4(ip)) => ip.is_loopback(),
        Some(IpAddr::V6(ip)) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        None => url.host_str().is_some_and(|h| {
            let h = h.to_ascii_lowercase();
            h == "localhost" || h.ends_with(".localhost")
        }),
    }
}

/// Whether `url` points at the machine or its link: loopback, unspecified or link-local.
fn is_local(url: &Url) -> bool {
    if is_loopback(url) {
        return true;
    }
    match ip_of(url) {
        Some(IpAddr::V4(ip)) => ip.is_unspecified() || ip.is_link_local(),
        Some(IpAddr::V6(ip)) => {
            let mapped = ip.to_ipv4_mapped();
            ip.is_unspecified()
                // fe80::/10
                || (ip.segments()[0] & 0xffc0) == 0xfe80
                || mapped.is_some_and(|v4| v4.is_unspecified() || v4.is_link_local())
        }
        None => false,
    }
}

/// Whether a request to `url` may be made. `allow_local` is true only when
/// the configured Genesys base URL is a loopback test server. The error is
/// the reason, for the manifest's `missing[]` (it never quotes the URL).
pub fn check_target(url: &Url, allow_local: bool) -> Result<(), String> {
    let scheme = url.scheme();
    if scheme != "https" && scheme != "http" {
        return Err(format!(
            "the {scheme}: scheme is not fetched; only https is"
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".into());
    }
    if is_local(url) && !allow_local {
        return Err(
            "a loopback, unspecified or link-local address is refused (only a loopback test server may use one)"
                .into(),
        );
    }
    if scheme == "http" && !(allow_local && is_loopback(url)) {
        return Err("plain http is refused; only https is fetched".into());
    }
    Ok(())
}

/// Whether to follow a redirect to `next` after `hops` earlier requests.
fn redirect_verdict(next: &Url, hops: usize, allow_local: bool) -> Result<(), String> {
    if hops > MAX_REDIRECTS {
        return Err(format!("more than {MAX_REDIRECTS} redirects"));
    }
    check_target(next, allow_local).map_err(|why| format!("redirect refused: {why}"))
}

/// The client's redirect policy: [`check_target`] for every hop, at most
/// [`MAX_REDIRECTS`] hops.
pub fn redirect_policy(allow_local: bool) -> Policy {
    Policy::custom(move |attempt| {
        // `previous` holds every URL requested so far, the first included.
        match redirect_verdict(attempt.url(), attempt.previous().len(), allow_local) {
            Ok(()) => attempt.follow(),
            Err(why) => attempt.error(why),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn genesys_hosts_are_the_three_prefixes_of_known_domains_only() {
        assert_eq!(known_domain("mypurecloud.ie"), Some("mypurecloud.ie"));
        assert_eq!(known_domain("LOGIN.mypurecloud.ie"), Some("mypurecloud.ie"));
        assert_eq!(
            known_domain("api-downloads.use2.us-gov-pure.cloud"),
            Some("use2.us-gov-pure.cloud")
        );
        assert_eq!(known_domain("mypurecloud.iee"), None);
        assert_eq!(known_domain("api.mypurecloud.ie.evil.example"), None);
        assert_eq!(known_domain("www.mypurecloud.ie"), None);
        assert!(is_genesys_host("login.mypurecloud.de"));
        assert!(!is_genesys_host("mypurecloud.de"));
        assert!(serves_downloads("api.mypurecloud.com.au"));
        assert!(serves_downloads("api-downloads.euw2.pure.cloud"));
        assert!(!serves_downloads("login.euw2.pure.cloud"));
        assert!(!serves_downloads("api-downloads.pure.cloud"));
    }

    #[test]
    fn in_production_only_https_to_a_non_local_host_is_fetched() {
        for ok in [
            "https://cdn.example.com/a.jpg",
            "https://api-downloads.mypurecloud.ie/x?Signature=s",
            "https://10.0.0.8/a.jpg",
        ] {
            assert_eq!(check_target(&u(ok), false), Ok(()), "{ok}");
        }
        for bad in [
            // The Lambda Runtime API, in every spelling the URL parser accepts.
            "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next",
            "https://127.0.0.1:9001/x",
            "https://2130706433/x",
            "https://0x7f.1/x",
            "https://localhost/x",
            "https://a.localhost/x",
            "https://[::1]/x",
            "https://[::ffff:127.0.0.1]/x",
            "https://0.0.0.0/x",
            "https://[::]/x",
            "https://169.254.169.254/latest/meta-data/",
            "https://169.254.170.2/v2/credentials",
            "https://[fe80::1]/x",
            "http://cdn.example.com/a.jpg",
            "ftp://cdn.example.com/a.jpg",
            "file:///etc/passwd",
            "data:text/plain,hi",
        ] {
            assert!(check_target(&u(bad), false).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_loopback_test_server_may_use_loopback_and_http_to_loopback_only() {
        assert_eq!(check_target(&u("http://127.0.0.1:8/a"), true), Ok(()));
        assert_eq!(check_target(&u("http://localhost:8/a"), true), Ok(()));
        assert_eq!(check_target(&u("https://127.0.0.1:8/a"), true), Ok(()));
        let why = check_target(&u("http://cdn.example.com/a"), true).unwrap_err();
        assert!(why.contains("plain http"), "{why}");
        assert!(check_target(&u("http://169.254.169.254/"), true).is_err());
    }

    #[test]
    fn redirects_are_checked_like_the_first_url_and_limited() {
        let next = u("https://cdn.example.com/b");
        assert_eq!(redirect_verdict(&next, 1, false), Ok(()));
        assert_eq!(redirect_verdict(&next, MAX_REDIRECTS, false), Ok(()));
        let why = redirect_verdict(&next, MAX_REDIRECTS + 1, false).unwrap_err();
        assert!(why.contains("more than 5 redirects"), "{why}");
        let why = redirect_verdict(&u("http://cdn.example.com/b"), 1, false).unwrap_err();
        assert!(why.contains("plain http"), "{why}");
        let why = redirect_verdict(&u("http://127.0.0.1:9001/x"), 1, false).unwrap_err();
        assert!(why.contains("loopback"), "{why}");
        assert_eq!(
            redirect_verdict(&u("http://127.0.0.1:9001/x"), 1, true),
            Ok(())
        );
    }
}
