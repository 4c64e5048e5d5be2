//! The Azure Blob Storage backend of the vault.
//!
//! | module | role |
//! |---|---|
//! | [`config`] | vault URL + credentials → validated [`AzureSettings`] |
//! | `connection_string` | parsing `AZURE_STORAGE_CONNECTION_STRING` |
//! | `credential` | [`Credential`], Azurite's development account, the connection-string variable |
//! | `config_error` | [`ConfigError`] and [`config::redact_url`], the one way a message quotes a URL |
//! | [`failure`] | what a failed request means, in plain words: the one classification of Azure's answers and transport errors |
//! | [`retry`] | the retrying, rate-adapting HTTP layer under every request; the [`RetryPolicy`] defaults |
//! | [`limiter`] | adaptive (AIMD) concurrency toward the account |
//! | `client` | [`AzureWriter`]: signed raw REST calls, failed answers → errors, `Create Container` |
//! | `list` | `List Blobs` page by page: the vault's ordered listing, with each blob's MD5 |
//! | `blocks` | the create-only write path: `Put Blob`, `Put Block`, `Put Block List` |
//!
//! Reads and heads go through object_store's `MicrosoftAzure`; writes and
//! lists are raw REST calls signed by object_store's [`AzureAuthorizer`], because
//! object_store can neither send `Content-MD5` on a put nor make a multipart
//! upload create-only (see `docs/azure.md`), and its list returns no MD5.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use tvault_vault::azure::AzureConfig;
//! let settings = AzureConfig::new("az://vault")
//!     .with_connection_string("UseDevelopmentStorage=true")
//!     .build()?;
//! let vault = tvault_vault::location::open_azure_settings(settings)?;
//! # Ok(()) }
//! ```
//!
//! [`AzureAuthorizer`]: object_store::azure::AzureAuthorizer

use std::any::Any;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::client::HttpConnector;
use tvault_core::ports::{ByteStream, Deadline, Expect, VaultError};

pub(crate) mod blocks;
mod client;
pub mod config;
mod config_error;
mod connection_string;
mod credential;
pub mod failure;
pub mod limiter;
mod list;
pub mod retry;

pub use client::AzureWriter;
pub use config::{AzureConfig, AzureSettings, ConfigError, Credential};
pub use failure::{AzureFailure, FailureKind};
pub use list::{LIST_PAGE_SIZE, ListedBlob};
pub use retry::{RetryPolicy, StatsSnapshot};

use crate::writer::{CreateOnlyWriter, Landed, PART_SIZE, PARTS_IN_FLIGHT, Streamed};
use retry::{RetryingConnector, Shared};

/// An Azure backend that could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot set up the Azure client: {0}")]
    Client(String),
}

/// The writer for the vault described by `settings`.
pub fn open(settings: AzureSettings) -> Result<AzureWriter, OpenError> {
    open_with_blocks(settings, PART_SIZE, PARTS_IN_FLIGHT)
}

/// [`open`] with another block size (tests use small blocks to exercise staging).
pub fn open_with_blocks(
    settings: AzureSettings,
    block_size: usize,
    blocks_in_flight: usize,
) -> Result<AzureWriter, OpenError> {
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
    Ok(AzureWriter {
        settings: Arc::new(settings),
        store: Arc::new(store),
        http,
        shared,
        block_size: block_size.max(1),
        blocks_in_flight: blocks_in_flight.max(1),
        list_page_size: LIST_PAGE_SIZE,
    })
}

#[async_trait]
impl CreateOnlyWriter for AzureWriter {
    async fn create(
        &self,
        path: &str,
        bytes: Bytes,
        content_type: &str,
        sha256: &str,
    ) -> Result<Landed, VaultError> {
        self.put_blob(path, bytes, content_type, sha256, None).await
    }

    async fn create_stream(
        &self,
        path: &str,
        body: ByteStream,
        content_type: &str,
        expect: &Expect,
        deadline: Deadline,
    ) -> Result<Streamed, VaultError> {
        self.put_stream(path, body, content_type, expect, deadline)
            .await
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
