//! Azure vault configuration: a vault URL plus credentials, validated once in
//! [`AzureConfig::build`] into [`AzureSettings`].
//!
//! Accepted URLs:
//! - `az://CONTAINER` (account and endpoint from the credentials);
//! - `https://ACCOUNT.blob.core.windows.net/CONTAINER` (any `ACCOUNT.blob.SUFFIX` host);
//! - `http://127.0.0.1:PORT/ACCOUNT/CONTAINER`, path-style, for Azurite and other
//!   emulators (plain `http://` only to loopback addresses).
//! - the RA-GRS read-only secondary of either form,
//!   `https://ACCOUNT-secondary.blob.core.windows.net/CONTAINER` (or
//!   `http://127.0.0.1:PORT/ACCOUNT-secondary/CONTAINER`): requests go there,
//!   signed for ACCOUNT, so ACCOUNT's credential (the reader connection
//!   string or SAS) serves both. Azure: "the account name is always the name
//!   of the primary location, even for secondary access" (Authorize with
//!   Shared Key), and the secondary host is the account name plus
//!   `-secondary` ("Azure Storage redundancy", read access to the secondary).
//!
//! Credentials, in this order: `AZURE_STORAGE_CONNECTION_STRING` (account-key
//! or SAS form, or `UseDevelopmentStorage=true` for Azurite; object_store does
//! not read connection strings, so they are parsed here), else
//! `AZURE_STORAGE_ACCOUNT_KEY` or `AZURE_STORAGE_SAS_TOKEN`, else whatever
//! object_store resolves from the other `AZURE_*` variables (managed or
//! workload identity, a service principal, a bearer token).

use std::collections::BTreeMap;
use std::str::FromStr;

use object_store::ClientConfigKey;
use object_store::azure::AzureConfigKey;
use tvault_core::secret::Secret;
use tvault_core::text::percent_encode;
use url::{Host, Url};

use super::config_error::err;
use super::connection_string::ConnectionString;
use super::credential::sas_without_question_mark;
use super::retry::RetryPolicy;
// Re-exported where callers have always found them.
pub use super::config_error::{ConfigError, redact_url};
pub use super::credential::{
    CONNECTION_STRING_VAR, Credential, DEV_ACCOUNT, DEV_ACCOUNT_KEY, DEV_BLOB_ENDPOINT,
};

/// Whether `s` carries anything a URL in a setting must not: user info, a
/// query string or a fragment (a password, a SAS).
fn carries_credentials(s: &str) -> bool {
    redact_url(s) != s.trim()
}

/// Validated settings of an Azure vault.
#[derive(Debug, Clone)]
pub struct AzureSettings {
    /// Storage account name.
    pub account: String,
    /// The container that holds the vault (one vault per container).
    pub container: String,
    /// The account's blob endpoint without a trailing `/`, e.g.
    /// `https://acct.blob.core.windows.net` or `http://127.0.0.1:10000/devstoreaccount1`.
    pub endpoint: String,
    /// How requests are authorised.
    pub credential: Credential,
    /// Retry, timeout and concurrency settings.
    pub retry: RetryPolicy,
    /// Other `AZURE_*` settings handed to object_store as they are.
    pub(crate) passthrough: Vec<(AzureConfigKey, Secret)>,
}

impl AzureSettings {
    /// Whether the endpoint is plain `http://` (allowed for loopback only).
    pub fn is_plain_http(&self) -> bool {
        self.endpoint.starts_with("http://")
    }

    /// The URL of `container`/`path` (each segment percent-encoded).
    pub fn blob_url(&self, path: &str) -> String {
        let mut url = format!("{}/{}", self.endpoint, self.container);
        for segment in path.split('/') {
            url.push('/');
            url.push_str(&percent_encode(segment));
        }
        url
    }
}

/// Builder for [`AzureSettings`]: [`AzureConfig::new`] from parts (tests),
/// [`AzureConfig::from_env`] for binaries; [`AzureConfig::build`] validates.
#[derive(Debug, Clone, Default)]
pub struct AzureConfig {
    url: String,
    connection_string: Option<Secret>,
    vars: BTreeMap<String, Secret>,
    retry: RetryPolicy,
}

impl AzureConfig {
    /// A configuration for the vault at `url`, with no credentials yet.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ..Default::default()
        }
    }

    /// `url` plus `AZURE_STORAGE_CONNECTION_STRING` and the `AZURE_*`
    /// variables of this process.
    pub fn from_env(url: impl Into<String>) -> Self {
        let mut cfg = Self::new(url);
        for (k, v) in std::env::vars_os() {
            if let (Some(k), Some(v)) = (k.to_str(), v.to_str()) {
                if k == CONNECTION_STRING_VAR {
                    cfg.connection_string = Some(Secret::new(v));
                } else if k.starts_with("AZURE_") {
                    cfg.vars.insert(k.to_string(), Secret::new(v));
                }
            }
        }
        cfg
    }

    /// Use this connection string (as `AZURE_STORAGE_CONNECTION_STRING` would).
    pub fn with_connection_string(mut self, s: impl Into<Secret>) -> Self {
        self.connection_string = Some(s.into());
        self
    }

    /// Set an `AZURE_*` variable as if it were in the environment.
    pub fn with_var(mut self, name: &str, value: impl Into<Secret>) -> Self {
        self.vars.insert(name.to_ascii_uppercase(), value.into());
        self
    }

    /// Replace the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The vault URL without user info or query string (which could hold a
    /// password or a SAS), for messages.
    pub fn url_without_query(&self) -> String {
        redact_url(&self.url)
    }

    fn var(&self, names: &[&str]) -> Option<&Secret> {
        names
            .iter()
            .find_map(|n| self.vars.get(*n))
            .filter(|s| !s.is_empty())
    }

    /// Validate and resolve everything.
    pub fn build(self) -> Result<AzureSettings, ConfigError> {
        for name in [
            "AZURE_ALLOW_INVALID_CERTIFICATES",
            "AZURE_STORAGE_ALLOW_INVALID_CERTIFICATES",
        ] {
            if self.vars.contains_key(name) {
                return err(format!(
                    "TLS certificate checks cannot be turned off: unset {name}"
                ));
            }
        }
        if self.vars.contains_key("AZURE_ALLOW_HTTP") {
            return err(
                "plain http is decided by the vault URL (loopback addresses only): unset AZURE_ALLOW_HTTP",
            );
        }
        if self.var(&["AZURE_STORAGE_USE_EMULATOR"]).is_some() {
            return err(
                "AZURE_STORAGE_USE_EMULATOR is not supported: set AZURE_STORAGE_CONNECTION_STRING=UseDevelopmentStorage=true, or use an http://127.0.0.1:PORT/devstoreaccount1/CONTAINER vault URL with the development connection string",
            );
        }
        let target = parse_url(&self.url)?;
        let cs = match &self.connection_string {
            Some(s) if !s.is_empty() => Some(ConnectionString::parse(s)?),
            _ => None,
        };

        // The account: from the URL, the connection string or AZURE_STORAGE_ACCOUNT_NAME; all that are set must agree.
        let mut account: Option<(String, &str)> = None;
        let named = [
            (target.account.clone(), "the vault URL"),
            (
                cs.as_ref().and_then(|c| c.account.clone()),
                CONNECTION_STRING_VAR,
            ),
            (
                self.var(&["AZURE_STORAGE_ACCOUNT_NAME"])
                    .map(|s| s.expose().to_string()),
                "AZURE_STORAGE_ACCOUNT_NAME",
            ),
        ];
        for (value, from) in named {
            let Some(value) = value else { continue };
            match &account {
                Some((a, a_from)) if *a != value => {
                    return err(format!(
                        "{a_from} names storage account {a:?} but {from} names {value:?}: make them agree"
                    ));
                }
                Some(_) => {}
                None => account = Some((value, from)),
            }
        }
        let Some((account, _)) = account else {
            return err(format!(
                "no storage account for {:?}: set {CONNECTION_STRING_VAR}, or AZURE_STORAGE_ACCOUNT_NAME, or use https://ACCOUNT.blob.core.windows.net/{}",
                redact_url(&self.url),
                target.container
            ));
        };

        // The endpoint: from the URL, the connection string or AZURE_STORAGE_ENDPOINT; all that are set must agree.
        if let Some(e) = self.var(&["AZURE_STORAGE_ENDPOINT", "AZURE_ENDPOINT"])
            && carries_credentials(e.expose())
        {
            return err(
                "AZURE_STORAGE_ENDPOINT carries a user name, a query string or a fragment: give the bare https://ACCOUNT.blob.core.windows.net, and a SAS in AZURE_STORAGE_SAS_TOKEN",
            );
        }
        let mut endpoint: Option<(String, &str)> = None;
        let named = [
            (target.endpoint.clone(), "the vault URL"),
            (
                cs.as_ref().and_then(|c| c.blob_endpoint()),
                CONNECTION_STRING_VAR,
            ),
            (
                self.var(&["AZURE_STORAGE_ENDPOINT", "AZURE_ENDPOINT"])
                    .map(|s| s.expose().trim_end_matches('/').to_string()),
                "AZURE_STORAGE_ENDPOINT",
            ),
        ];
        for (value, from) in named {
            let Some(value) = value else { continue };
            match &endpoint {
                // The URL may name the RA-GRS secondary of the credential's endpoint.
                Some((e, e_from)) if !primary_of(e).eq_ignore_ascii_case(&primary_of(&value)) => {
                    return err(format!(
                        "{e_from} points at {} but {from} points at {}: make them agree",
                        redact_url(e),
                        redact_url(&value)
                    ));
                }
                Some(_) => {}
                None => endpoint = Some((value, from)),
            }
        }
        let endpoint = endpoint
            .map(|(e, _)| e)
            .or_else(|| cs.as_ref().and_then(|c| c.default_endpoint.clone()))
            .unwrap_or_else(|| format!("https://{account}.blob.core.windows.net"));
        check_endpoint(&endpoint)?;

        // The credential: the connection string's, or AZURE_STORAGE_ACCOUNT_KEY / _SAS_TOKEN, never both.
        let key_var = self.var(&[
            "AZURE_STORAGE_ACCOUNT_KEY",
            "AZURE_STORAGE_ACCESS_KEY",
            "AZURE_STORAGE_MASTER_KEY",
        ]);
        let sas_var = self.var(&["AZURE_STORAGE_SAS_TOKEN", "AZURE_STORAGE_SAS_KEY"]);
        let from_vars = match (key_var, sas_var) {
            (Some(_), Some(_)) => {
                return err(
                    "both AZURE_STORAGE_ACCOUNT_KEY and AZURE_STORAGE_SAS_TOKEN are set: keep one",
                );
            }
            (Some(k), None) => Some(Credential::AccessKey(k.clone())),
            (None, Some(s)) => Some(Credential::Sas(sas_without_question_mark(s))),
            (None, None) => None,
        };
        let from_cs = cs.as_ref().and_then(|c| c.credential.clone());
        let credential = match (from_cs, from_vars) {
            (Some(_), Some(_)) => {
                return err(format!(
                    "{CONNECTION_STRING_VAR} carries a credential and AZURE_STORAGE_ACCOUNT_KEY or AZURE_STORAGE_SAS_TOKEN is set too: unset one"
                ));
            }
            (Some(c), None) | (None, Some(c)) => c,
            (None, None) => Credential::Ambient,
        };
        if let Credential::AccessKey(k) = &credential
            && object_store::azure::AzureAccessKey::try_new(k.expose()).is_err()
        {
            return err(
                "the storage account key is not valid base64: copy it again from the storage account's access keys",
            );
        }
        if credential == Credential::Ambient && endpoint.starts_with("http://") {
            return err(format!(
                "no credential for the emulator at {}: set {CONNECTION_STRING_VAR}=UseDevelopmentStorage=true or its explicit form with AccountKey",
                redact_url(&endpoint)
            ));
        }

        Ok(AzureSettings {
            account,
            container: target.container,
            endpoint,
            credential,
            retry: self.retry.clone(),
            passthrough: self.passthrough(),
        })
    }

    /// The `AZURE_*` variables object_store understands and this module does not handle itself.
    fn passthrough(&self) -> Vec<(AzureConfigKey, Secret)> {
        let mut out = Vec::new();
        for (name, value) in &self.vars {
            let Ok(key) = AzureConfigKey::from_str(&name.to_ascii_lowercase()) else {
                continue;
            };
            let handled = matches!(
                key,
                AzureConfigKey::AccountName
                    | AzureConfigKey::AccessKey
                    | AzureConfigKey::SasKey
                    | AzureConfigKey::Endpoint
                    | AzureConfigKey::ContainerName
                    | AzureConfigKey::UseEmulator
                    | AzureConfigKey::Client(
                        ClientConfigKey::AllowHttp | ClientConfigKey::AllowInvalidCertificates
                    )
            );
            if !handled {
                out.push((key, value.clone()));
            }
        }
        out
    }
}

/// What the vault URL says.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    account: Option<String>,
    container: String,
    endpoint: Option<String>,
}

fn parse_url(s: &str) -> Result<Target, ConfigError> {
    let s = s.trim();
    // Quoted in every message below: never the user info or the query.
    let shown = redact_url(s);
    if s.contains(['?', '#']) {
        return err(format!(
            "vault URL {shown:?} carries a query string or fragment: put a SAS token in AZURE_STORAGE_SAS_TOKEN or the connection string, not in the URL"
        ));
    }
    for scheme in ["az://", "azure://"] {
        if let Some(rest) = s.strip_prefix(scheme) {
            let container = rest.trim_end_matches('/');
            check_container(container, &shown)?;
            return Ok(Target {
                account: None,
                container: container.to_string(),
                endpoint: None,
            });
        }
    }
    let url = match Url::parse(s) {
        Ok(u) => u,
        Err(e) => {
            return err(format!(
                "vault URL {shown:?} does not parse ({e}): use az://CONTAINER or https://ACCOUNT.blob.core.windows.net/CONTAINER"
            ));
        }
    };
    if !url.username().is_empty() || url.password().is_some() {
        return err(format!(
            "vault URL {shown:?} carries a user name or password: put credentials in {CONNECTION_STRING_VAR} or the AZURE_STORAGE_* variables, never in the URL"
        ));
    }
    let Some(host) = url.host() else {
        return err(format!("vault URL {shown:?} has no host"));
    };
    let segments: Vec<&str> = url
        .path_segments()
        .map(|p| p.filter(|x| !x.is_empty()).collect())
        .unwrap_or_default();
    let origin = match url.port() {
        Some(p) => format!("{}://{}:{p}", url.scheme(), host),
        None => format!("{}://{}", url.scheme(), host),
    };
    let path_style = !matches!(host, Host::Domain(d) if d != "localhost");
    if path_style {
        // Emulators put the account in the path: http://127.0.0.1:10000/ACCOUNT/CONTAINER.
        let [account, container] = segments.as_slice() else {
            return err(format!(
                "vault URL {shown:?}: an address without a domain name must be path-style, like http://127.0.0.1:10000/devstoreaccount1/CONTAINER"
            ));
        };
        check_container(container, &shown)?;
        return Ok(Target {
            account: Some(primary_account(account).to_string()),
            container: container.to_string(),
            endpoint: Some(format!("{origin}/{account}")),
        });
    }
    let Host::Domain(domain) = host else {
        return err(format!("vault URL {shown:?} has no domain name"));
    };
    let Some((account, rest)) = domain.split_once('.') else {
        return err(format!(
            "vault URL {shown:?}: expected https://ACCOUNT.blob.core.windows.net/CONTAINER"
        ));
    };
    if !rest.starts_with("blob.") {
        return err(format!(
            "vault URL {shown:?} is not a blob endpoint: expected https://ACCOUNT.blob.core.windows.net/CONTAINER"
        ));
    }
    let [container] = segments.as_slice() else {
        return err(format!(
            "vault URL {shown:?} must name exactly one container and no folder: https://{domain}/CONTAINER"
        ));
    };
    check_container(container, &shown)?;
    Ok(Target {
        account: Some(primary_account(account).to_string()),
        container: container.to_string(),
        endpoint: Some(origin),
    })
}

/// Azure's name for an account's RA-GRS secondary: the account name plus this.
const SECONDARY: &str = "-secondary";

/// The account `name` belongs to: `ACCOUNT` for `ACCOUNT-secondary`.
/// (Account names are lower-case letters and digits, so a real account
/// never ends in `-secondary`.)
fn primary_account(name: &str) -> &str {
    name.strip_suffix(SECONDARY)
        .filter(|a| !a.is_empty())
        .unwrap_or(name)
}

/// The primary endpoint of `endpoint`, which may be the secondary one:
/// `https://a-secondary.blob.x` → `https://a.blob.x`,
/// `http://127.0.0.1:P/a-secondary` → `http://127.0.0.1:P/a`.
fn primary_of(endpoint: &str) -> String {
    let e = endpoint.trim_end_matches('/');
    if let Some((head, tail)) = e.split_once(&format!("{SECONDARY}.blob."))
        && let Some((scheme, account)) = head.rsplit_once("://")
        && !account.is_empty()
        && !account.contains(['/', '.'])
    {
        return format!("{scheme}://{account}.blob.{tail}");
    }
    match e.rsplit_once('/') {
        Some((origin, last)) if origin.contains("://") && !origin.ends_with('/') => {
            format!("{origin}/{}", primary_account(last))
        }
        _ => e.to_string(),
    }
}

/// Azure container names: 3 to 63 lower-case letters, digits and single hyphens.
fn check_container(c: &str, url: &str) -> Result<(), ConfigError> {
    let ok = (3..=63).contains(&c.len())
        && c.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !c.starts_with('-')
        && !c.ends_with('-')
        && !c.contains("--");
    if ok {
        Ok(())
    } else {
        err(format!(
            "vault URL {url:?}: {c:?} is not a container name (3-63 lower-case letters, digits and single hyphens)"
        ))
    }
}

/// `https://` anywhere; plain `http://` only to loopback (emulators).
fn check_endpoint(endpoint: &str) -> Result<(), ConfigError> {
    let shown = redact_url(endpoint);
    let Ok(url) = Url::parse(endpoint) else {
        return err(format!("blob endpoint {shown:?} does not parse"));
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" if url.host().is_some_and(|h| is_loopback(&h)) => Ok(()),
        "http" => err(format!(
            "plain http:// is refused for {shown}: use https://, or a loopback address (127.0.0.1, ::1, localhost) for an emulator"
        )),
        other => err(format!(
            "blob endpoint {shown:?} has scheme {other:?}: use https://"
        )),
    }
}

/// 127.0.0.0/8, ::1 or `localhost`.
pub fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
