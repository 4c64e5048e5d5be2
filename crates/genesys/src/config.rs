//! Where Genesys Cloud is and who we are there: the region or base URL, the
//! credentials, and the builder that validates them.
//!
//! `GENESYSCLOUD_REGION` takes an AWS region name (`eu-west-1`), a Genesys
//! domain of the region table (`mypurecloud.ie`, or one of its hosts such as
//! `api.mypurecloud.ie`), or a base URL (`http://127.0.0.1:8080`) whose
//! `/oauth/token` and `/api/v2/...` are served by one host (tests, proxies).
//! Any other host needs that explicit base URL: the client secret is sent to
//! `login.{domain}`, so a typo in a bare domain must not pick the host.

use reqwest::Url;

use crate::hosts::{self, REGIONS};
use crate::tuning::Tuning;

/// Environment variable holding the OAuth client id.
pub const ENV_CLIENT_ID: &str = "GENESYSCLOUD_OAUTHCLIENT_ID";
/// Environment variable holding the OAuth client secret.
pub const ENV_CLIENT_SECRET: &str = "GENESYSCLOUD_OAUTHCLIENT_SECRET";
/// Environment variable naming the region, domain or base URL.
pub const ENV_REGION: &str = "GENESYSCLOUD_REGION";
/// Environment variable with this process's share of the organisation's
/// request allowance, in requests per minute ([`Tuning::allowance_per_minute`]).
pub const ENV_ALLOWANCE: &str = "TVAULT_GENESYS_REQUESTS_PER_MINUTE";
/// The largest allowance accepted: far above any Genesys limit, so a larger
/// figure is a typo.
pub const MAX_ALLOWANCE: u32 = 100_000;

// Secrets are the core's redacting type (`Debug` and `Display` never show
// them), named by its one public path, `tvault_core::secret::Secret`.
pub(crate) use tvault_core::secret::Secret;

/// A configuration that cannot be used, with what to set instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is missing: set it on the builder")]
    Missing(&'static str),
    #[error(
        "region {0:?} is not a known Genesys Cloud region or domain; use e.g. eu-west-1 or mypurecloud.ie, or give the full base URL (https://...) of any other host"
    )]
    UnknownRegion(String),
    #[error(
        "{0:?}: plain http:// is allowed only to loopback addresses (127.0.0.1, ::1, localhost); use https://"
    )]
    PlainHttp(String),
    #[error("{0:?}: a base URL cannot carry a query, a fragment or credentials")]
    BadBaseUrl(String),
    #[error("building the HTTP client failed: {0}")]
    Client(String),
    #[error(
        "{ENV_ALLOWANCE} must be a whole number of requests per minute from 1 to {MAX_ALLOWANCE}, not {0:?}"
    )]
    BadAllowance(String),
}

/// Parse a `TVAULT_GENESYS_REQUESTS_PER_MINUTE` value.
pub fn parse_allowance(value: &str) -> Result<u32, ConfigError> {
    value
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=MAX_ALLOWANCE).contains(n))
        .ok_or_else(|| ConfigError::BadAllowance(value.to_string()))
}

/// The hosts of one Genesys Cloud organisation's region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// Platform API base, without a trailing slash (`https://api.mypurecloud.ie`).
    pub api: String,
    /// Login base for `/oauth/token` (`https://login.mypurecloud.ie`).
    pub login: String,
    /// Prefix of Genesys-hosted attachment URLs, up to and including
    /// `/api/v2/downloads/` (`https://api-downloads.mypurecloud.ie/api/v2/downloads/`).
    /// `api.{domain}` serves the same paths (see [`crate::download::download_id`]).
    pub downloads: String,
    /// The base URL is a loopback test server (the fake API of the tests):
    /// only then may attachment URLs use plain http or loopback addresses
    /// (see [`crate::hosts`]).
    pub local: bool,
}

impl Endpoints {
    /// Parse a `GENESYSCLOUD_REGION` value (region name, domain or base URL).
    pub fn parse(region: &str) -> Result<Self, ConfigError> {
        let r = region.trim();
        if r.contains("://") {
            return Self::from_base_url(r);
        }
        let lower = r.to_ascii_lowercase();
        // A host name pasted whole (`api.mypurecloud.ie`) is accepted too.
        let domain = REGIONS
            .iter()
            .find(|(name, _)| *name == lower)
            .map(|(_, domain)| *domain)
            .or_else(|| hosts::known_domain(&lower))
            .ok_or_else(|| ConfigError::UnknownRegion(r.to_string()))?;
        Ok(Self::for_domain(domain))
    }

    fn for_domain(domain: &str) -> Self {
        Endpoints {
            api: format!("https://api.{domain}"),
            login: format!("https://login.{domain}"),
            downloads: format!("https://api-downloads.{domain}/api/v2/downloads/"),
            local: false,
        }
    }

    fn from_base_url(s: &str) -> Result<Self, ConfigError> {
        let url = Url::parse(s).map_err(|_| ConfigError::UnknownRegion(s.to_string()))?;
        if url.query().is_some()
            || url.fragment().is_some()
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return Err(ConfigError::BadBaseUrl(s.to_string()));
        }
        check_scheme(&url).map_err(|()| ConfigError::PlainHttp(s.to_string()))?;
        // `https://api.mypurecloud.ie` names a region: its token endpoint is
        // on `login.`, not on the API host.
        if url.scheme() == "https"
            && url.port().is_none()
            && url.path() == "/"
            && let Some(domain) = url.host_str().and_then(hosts::known_domain)
        {
            return Ok(Self::for_domain(domain));
        }
        let base = url.as_str().trim_end_matches('/').to_string();
        Ok(Endpoints {
            api: base.clone(),
            login: base.clone(),
            downloads: format!("{base}/api/v2/downloads/"),
            local: hosts::is_loopback(&url),
        })
    }

    /// Whether `url` is on one of Genesys's hosts: `api.`, `api-downloads.` or
    /// `login.` of a known region's domain, or the configured base URL's host.
    pub fn is_genesys(&self, url: &Url) -> bool {
        let on_base = Url::parse(&self.api).is_ok_and(|base| base.origin() == url.origin());
        on_base || (url.port().is_none() && url.host_str().is_some_and(hosts::is_genesys_host))
    }
}

/// `https`, or `http` to a loopback address; anything else is refused.
fn check_scheme(url: &Url) -> Result<(), ()> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if hosts::is_loopback(url) => Ok(()),
        _ => Err(()),
    }
}

/// A validated configuration of the Genesys client.
#[derive(Debug, Clone)]
pub struct Config {
    pub client_id: String,
    pub client_secret: Secret,
    pub endpoints: Endpoints,
    pub tuning: Tuning,
}

impl Config {
    /// A builder.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::default()
    }
}

/// Builds a [`Config`]; [`ConfigBuilder::build`] validates.
#[derive(Debug, Clone, Default)]
pub struct ConfigBuilder {
    client_id: Option<String>,
    client_secret: Option<Secret>,
    region: Option<String>,
    tuning: Option<Tuning>,
}

impl ConfigBuilder {
    /// The OAuth client id.
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = Some(id.into());
        self
    }

    /// The OAuth client secret.
    pub fn client_secret(mut self, secret: Secret) -> Self {
        self.client_secret = Some(secret);
        self
    }

    /// A region name, domain or base URL (see [`Endpoints::parse`]).
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Retry, timeout and pacing settings other than the defaults.
    pub fn tuning(mut self, tuning: Tuning) -> Self {
        self.tuning = Some(tuning);
        self
    }

    /// Validate everything and build.
    pub fn build(self) -> Result<Config, ConfigError> {
        let client_id = self
            .client_id
            .filter(|s| !s.trim().is_empty())
            .ok_or(ConfigError::Missing("client id"))?;
        let client_secret = self
            .client_secret
            .filter(|s| !s.expose().is_empty())
            .ok_or(ConfigError::Missing("client secret"))?;
        let region = self.region.ok_or(ConfigError::Missing("region"))?;
        Ok(Config {
            client_id,
            client_secret,
            endpoints: Endpoints::parse(&region)?,
            tuning: self.tuning.unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_name_domain_and_base_url_give_the_same_hosts_shape() {
        let by_name = Endpoints::parse("eu-west-1").unwrap();
        assert_eq!(by_name.api, "https://api.mypurecloud.ie");
        assert_eq!(by_name.login, "https://login.mypurecloud.ie");
        assert_eq!(
            by_name.downloads,
            "https://api-downloads.mypurecloud.ie/api/v2/downloads/"
        );
        assert_eq!(Endpoints::parse("mypurecloud.ie").unwrap(), by_name);
        assert_eq!(Endpoints::parse("api.mypurecloud.ie").unwrap(), by_name);
        let base = Endpoints::parse("http://127.0.0.1:8080/").unwrap();
        assert_eq!(base.api, "http://127.0.0.1:8080");
        assert_eq!(base.login, "http://127.0.0.1:8080");
        assert_eq!(base.downloads, "http://127.0.0.1:8080/api/v2/downloads/");
    }

    #[test]
    fn every_region_of_the_table_parses() {
        for (name, domain) in REGIONS {
            let e = Endpoints::parse(name).unwrap();
            assert_eq!(e.api, format!("https://api.{domain}"));
        }
        assert_eq!(
            Endpoints::parse("us-east-2").unwrap().login,
            "https://login.use2.us-gov-pure.cloud"
        );
    }

    #[test]
    fn plain_http_is_refused_except_to_loopback() {
        for ok in [
            "http://127.0.0.1:1",
            "http://localhost:9",
            "http://[::1]:8080",
            "https://proxy.example.com",
        ] {
            assert!(Endpoints::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://10.0.0.1:80",
            "http://proxy.example.com",
            "ftp://127.0.0.1",
        ] {
            assert!(
                matches!(Endpoints::parse(bad), Err(ConfigError::PlainHttp(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            Endpoints::parse("https://u:p@h.example.com"),
            Err(ConfigError::BadBaseUrl(_))
        ));
        assert!(matches!(
            Endpoints::parse("mars-north-1"),
            Err(ConfigError::UnknownRegion(_))
        ));
    }

    #[test]
    fn a_domain_outside_the_region_table_needs_an_explicit_base_url() {
        // Each of these would once have sent the client secret to login.<value>.
        for typo in [
            "mypurecloud.iee",
            "mypurecloud.ie.evil.example",
            "api.mypurcloud.ie",
            "pure.cloud",
            "example.com",
        ] {
            let err = Endpoints::parse(typo).unwrap_err();
            assert!(matches!(err, ConfigError::UnknownRegion(_)), "{typo}");
            assert!(err.to_string().contains("https://"), "{err}");
        }
        let ie = Endpoints::parse("eu-west-1").unwrap();
        for same in [
            "login.mypurecloud.ie",
            "API-DOWNLOADS.mypurecloud.ie",
            "https://api.mypurecloud.ie",
            "https://login.mypurecloud.ie/",
        ] {
            assert_eq!(Endpoints::parse(same).unwrap(), ie, "{same}");
        }
        // Any other host is fine when written as a base URL: a deliberate choice.
        let proxy = Endpoints::parse("https://genesys-proxy.example.com").unwrap();
        assert_eq!(proxy.login, "https://genesys-proxy.example.com");
        assert!(!proxy.local);
        assert!(Endpoints::parse("http://127.0.0.1:9").unwrap().local);
    }

    #[test]
    fn genesys_hosts_are_the_regions_hosts_or_the_base_urls_origin() {
        let ie = Endpoints::parse("eu-west-1").unwrap();
        let url = |s: &str| Url::parse(s).unwrap();
        assert!(ie.is_genesys(&url("https://api-downloads.mypurecloud.ie/x")));
        assert!(ie.is_genesys(&url("https://api.mypurecloud.com/x")));
        assert!(!ie.is_genesys(&url("https://api.mypurecloud.ie:8443/x")));
        assert!(!ie.is_genesys(&url("https://cdn.example.com/x")));
        let base = Endpoints::parse("http://127.0.0.1:9").unwrap();
        assert!(base.is_genesys(&url("http://127.0.0.1:9/cdn/x")));
        assert!(!base.is_genesys(&url("http://127.0.0.1:10/cdn/x")));
    }

    #[test]
    fn the_allowance_is_a_whole_number_in_range() {
        assert_eq!(parse_allowance(" 54 "), Ok(54));
        for bad in ["0", "-5", "1e3", "54.5", "100001", "lots", ""] {
            let err = parse_allowance(bad).unwrap_err();
            assert!(err.to_string().contains(ENV_ALLOWANCE), "{err}");
        }
        // From the variable to the client: tvault_router's settings test
        // the_genesys_allowance_reaches_the_client_and_a_bad_one_is_named.
    }

    #[test]
    fn a_config_hides_its_client_secret() {
        // Which variables are needed, and what a partial set says: tvault_router's
        // settings tests (partial_genesys_settings_name_what_is_missing).
        let cfg = Config::builder()
            .client_id("id")
            .client_secret(Secret::new("s3cr3t-value"))
            .region("eu-central-1")
            .build()
            .unwrap();
        assert_eq!(cfg.endpoints.api, "https://api.mypurecloud.de");
        let shown = format!("{cfg:?} {}", cfg.client_secret);
        assert!(!shown.contains("s3cr3t-value"), "{shown}");
        assert!(shown.contains("[redacted]"));
    }
}
