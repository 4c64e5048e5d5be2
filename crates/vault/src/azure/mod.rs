//! The Azure Blob Storage backend of the vault.
//!
//! | module | role |
//! |---|---|
//! | [`config`] | vault URL + credentials → validated [`AzureSettings`] |
//! | `connection_string` | parsing `AZURE_STORAGE_CONNECTION_STRING` |
//! | `secret` | keys, SAS tokens and connection strings held in `tvault_core::secret::Secret` |
//! | [`retry`] | the retrying, rate-adapting HTTP layer under every request; the [`RetryPolicy`] defaults |
//! | [`limiter`] | adaptive (AIMD) concurrency toward the account |
//! | `blocks` | the create-only write path: `Put Blob`, `Put Block`, `Put Block List` |
//!
//! Reads, lists and heads go through object_store's `MicrosoftAzure`; writes
//! are raw REST calls signed by object_store's [`AzureAuthorizer`], because
//! object_store can neither send `Content-MD5` on a put nor make a multipart
//! upload create-only (see `docs/azure.md`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use tvault_vault::azure::AzureConfig;
//! let settings = AzureConfig::new("az://vault")
//!     .with_connection_string("UseDevelopmentStorage=true")
//!     .build()?;
//! let vault = tvault_vault::azure::open(settings)?;
//! # Ok(()) }
//! ```
//!
//! [`AzureAuthorizer`]: object_store::azure::AzureAuthorizer

use std::sync::Arc;

use bytes::Bytes;
use http::Method;
use object_store::azure::{AzureConfigKey, MicrosoftAzure, MicrosoftAzureBuilder};
use object_store::client::{HttpClient, HttpConnector};
use tvault_core::ports::VaultError;

pub(crate) mod blocks;
pub mod config;
mod connection_string;
pub mod limiter;
pub mod retry;
mod secret;

pub use config::{AzureConfig, AzureSettings, ConfigError, Credential};

pub use retry::{RetryPolicy, StatsSnapshot};

use crate::store::ObjectVault;
use retry::{RetryingConnector, Shared};

/// Size of one staged block. 4 MiB keeps memory small (two in flight plus
/// one filling: about 12 MiB) and allows blobs up to 50,000 × 4 MiB ≈ 195 GiB.
pub const BLOCK_SIZE: usize = 4 * 1024 * 1024;
/// Blocks uploaded at once per streamed object.
pub const BLOCKS_IN_FLIGHT: usize = 2;

/// The write side of an Azure vault: settings, the signing credentials and
/// the retrying HTTP client shared with object_store's reads.
pub struct AzureWriter {
    pub(crate) settings: AzureSettings,
    pub(crate) store: Arc<MicrosoftAzure>,
    pub(crate) http: HttpClient,
    shared: Arc<Shared>,
    pub(crate) block_size: usize,
    pub(crate) blocks_in_flight: usize,
}

// Not derived: object_store's `MicrosoftAzure` prints its credential in `Debug`.
impl std::fmt::Debug for AzureWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureWriter")
            .field("account", &self.settings.account)
            .field("container", &self.settings.container)
            .field("endpoint", &self.settings.endpoint)
            .field("block_size", &self.block_size)
            .finish_non_exhaustive()
    }
}

/// An Azure backend that could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot set up the Azure client: {0}")]
    Client(String),
}

/// Open the vault described by `settings`.
pub fn open(settings: AzureSettings) -> Result<ObjectVault, OpenError> {
    open_with_blocks(settings, BLOCK_SIZE, BLOCKS_IN_FLIGHT)
}

/// [`open`] with another block size (tests use small blocks to exercise staging).
pub fn open_with_blocks(
    settings: AzureSettings,
    block_size: usize,
    blocks_in_flight: usize,
) -> Result<ObjectVault, OpenError> {
    let shared = Shared::new(settings.retry.clone());
    let connector = RetryingConnector::new(shared.clone());
    let options = settings.retry.client_options(settings.is_plain_http());
    // Client options first: the passthrough settings may adjust them (a proxy URL).
    let mut b = MicrosoftAzureBuilder::new().with_client_options(options.clone());
    for (key, value) in &settings.passthrough {
        b = b.with_config(*key, value.expose());
    }
    b = b
        .with_account(&settings.account)
        .with_container_name(&settings.container)
        .with_endpoint(settings.endpoint.clone())
        .with_allow_http(settings.is_plain_http())
        .with_retry(settings.retry.object_store_retry())
        .with_http_connector(connector.clone());
    b = match &settings.credential {
        Credential::AccessKey(k) => b.with_access_key(k.expose()),
        Credential::Sas(s) => b.with_config(AzureConfigKey::SasKey, s.expose()),
        Credential::Ambient => b,
    };
    // object_store's errors name settings, never their values.
    let store = b.build().map_err(|e| OpenError::Client(e.to_string()))?;
    let http = connector
        .connect(&options)
        .map_err(|e| OpenError::Client(e.to_string()))?;
    let store = Arc::new(store);
    let writer = AzureWriter {
        settings,
        store: store.clone(),
        http,
        shared,
        block_size: block_size.max(1),
        blocks_in_flight: blocks_in_flight.max(1),
    };
    Ok(ObjectVault::with_azure(store, Arc::new(writer)))
}

impl AzureWriter {
    /// Retry and throttling counters since the vault was opened.
    pub fn stats(&self) -> StatsSnapshot {
        self.shared.snapshot()
    }

    /// The settings this vault runs with.
    pub fn settings(&self) -> &AzureSettings {
        &self.settings
    }

    /// `Create Container` (`PUT ?restype=container`); an existing container is fine.
    /// For tests and first-time setup: in production the infrastructure
    /// template creates the container, and the writer needs no right to.
    pub async fn create_container(&self) -> Result<(), VaultError> {
        let url = format!(
            "{}/{}?restype=container",
            self.settings.endpoint, self.settings.container
        );
        let c = self.settings.container.clone();
        let resp = self
            .send(
                "create container",
                &c,
                Method::PUT,
                &url,
                Vec::new(),
                Bytes::new(),
            )
            .await?;
        let status = resp.status();
        if status.is_success() || status == http::StatusCode::CONFLICT {
            Ok(())
        } else {
            Err(blocks::status_error("create container", &c, &c, resp).await)
        }
    }
}

/// One blob as `List Blobs` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedBlob {
    pub name: String,
    pub size: u64,
    /// The Content-MD5 property (base64), which Azure verified on upload.
    pub content_md5: Option<String>,
}

impl AzureWriter {
    /// `List Blobs` with each blob's Content-MD5, which object_store's list
    /// does not return: with the MD5 that Azure verified when the blob was
    /// written, a listing can confirm the bytes of a whole vault without
    /// reading them back.
    pub async fn list_with_md5(&self, prefix: &str) -> Result<Vec<ListedBlob>, VaultError> {
        let mut out = Vec::new();
        let mut marker = String::new();
        loop {
            let mut url = format!(
                "{}/{}?restype=container&comp=list&maxresults=5000&prefix={}",
                self.settings.endpoint,
                self.settings.container,
                blocks::urlencode(prefix)
            );
            if !marker.is_empty() {
                url.push_str("&marker=");
                url.push_str(&blocks::urlencode(&marker));
            }
            let resp = self
                .send("list", prefix, Method::GET, &url, Vec::new(), Bytes::new())
                .await?;
            if !resp.status().is_success() {
                let c = &self.settings.container;
                return Err(blocks::status_error("list", prefix, c, resp).await);
            }
            let body = resp
                .into_body()
                .bytes()
                .await
                .map_err(|e| VaultError::Backend {
                    op: "list",
                    path: prefix.to_string(),
                    message: e.to_string(),
                    transient: true,
                })?;
            let xml = String::from_utf8_lossy(&body);
            for blob in xml.split("<Blob>").skip(1) {
                let name = xml_field(blob, "Name")
                    .map(xml_unescape)
                    .unwrap_or_default();
                let size = xml_field(blob, "Content-Length")
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                let content_md5 = xml_field(blob, "Content-MD5")
                    .filter(|s| !s.is_empty())
                    .map(str::to_string);
                out.push(ListedBlob {
                    name,
                    size,
                    content_md5,
                });
            }
            match xml_field(&xml, "NextMarker") {
                Some(m) if !m.is_empty() => marker = xml_unescape(m),
                _ => return Ok(out),
            }
        }
    }
}

fn xml_field<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find(&close)?;
    Some(&xml[start..start + len])
}

fn xml_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}
