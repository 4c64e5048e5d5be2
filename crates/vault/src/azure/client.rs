//! The Azure writer's client: the signing, retrying HTTP stack every raw
//! REST call goes through ([`AzureWriter::send`]), the one place a failed
//! answer becomes a [`VaultError`] ([`status_error`]), and `Create
//! Container`. (`List Blobs` is in `list.rs`.)

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode};
use object_store::ObjectStore;
use object_store::azure::MicrosoftAzure;
use object_store::client::{HttpClient, HttpError, HttpRequest, HttpRequestBody, HttpResponse};
use tvault_core::ports::VaultError;

use super::config::AzureSettings;
use super::failure::{AzureFailure, FailureKind};
use super::retry::{Shared, StatsSnapshot};
use crate::writer::backend_error as backend;

/// The write side of an Azure vault: settings, the signing credentials and
/// the retrying HTTP client shared with object_store's reads. Cheap to clone
/// (each staged block's task holds one).
#[derive(Clone)]
pub struct AzureWriter {
    pub(crate) settings: Arc<AzureSettings>,
    pub(crate) store: Arc<MicrosoftAzure>,
    pub(crate) http: HttpClient,
    pub(super) shared: Arc<Shared>,
    pub(crate) block_size: usize,
    pub(crate) blocks_in_flight: usize,
    /// Blobs per `List Blobs` page (`list.rs`).
    pub(crate) list_page_size: usize,
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

/// A transport error or a give-up of the retry layer: always worth a later
/// retry, and said in plain words ([`AzureFailure::from_http_error`]).
fn http_error(op: &'static str, path: &str, e: HttpError) -> VaultError {
    let mut failure = AzureFailure::from_http_error(&e);
    if failure.kind == FailureKind::Other {
        failure.detail = e.to_string();
    }
    backend(op, path, failure.to_string(), true)
}

/// A failed answer as Azure gave it: status, error code, request id, body.
async fn failure_of(resp: HttpResponse) -> AzureFailure {
    let status = resp.status().as_u16();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (code, request_id) = (header("x-ms-error-code"), header("x-ms-request-id"));
    let body = resp.into_body().bytes().await.unwrap_or_default();
    AzureFailure::from_answer(
        status,
        code.as_deref(),
        request_id.as_deref(),
        &String::from_utf8_lossy(&body),
    )
}

/// Classify a final non-success answer of a raw REST call
/// ([`failure::classify`](super::failure::classify) decides what it means;
/// this adds what only a write can meet). Never includes the URL (it may
/// carry a SAS) nor the XML body.
pub(crate) async fn status_error(
    op: &'static str,
    path: &str,
    container: &str,
    resp: HttpResponse,
) -> VaultError {
    let status = resp.status();
    let failure = failure_of(resp).await;
    // Azure says Md5Mismatch; Azurite's Put Blob says InvalidOperation
    // "Provided contentMD5 doesn't match." for the same thing.
    let damaged = failure.code.contains("Md5Mismatch")
        || failure.code.contains("Crc64Mismatch")
        || failure.detail.contains("contentMD5 doesn't match");
    // Bytes damaged on the way: a new attempt sends them again.
    if status == StatusCode::BAD_REQUEST && damaged {
        let message = format!(
            "Azure refused the bytes as damaged in transit ({}: Content-MD5 mismatch); nothing stored",
            failure.code
        );
        return backend(op, path, message, true);
    }
    if failure.kind == FailureKind::ContainerNotFound {
        let message = failure.to_string().replacen(
            "the vault's container",
            &format!("container {container}"),
            1,
        );
        return backend(op, path, message, false);
    }
    if failure.kind == FailureKind::Other
        && (status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS)
    {
        let message = format!("{failure} after all retries");
        return backend(op, path, message, true);
    }
    // Refusals become `Access`: the router re-reads a rotated settings secret on it.
    failure.into_vault_error(op, path)
}

/// A header value from our own text; a value Azure cannot take is a permanent error.
pub(super) fn header(v: &str) -> Result<HeaderValue, VaultError> {
    HeaderValue::from_str(v)
        .map_err(|e| backend("put", "", format!("bad header value: {e}"), false))
}

impl AzureWriter {
    /// Sign and send one request through the retrying client.
    pub(crate) async fn send(
        &self,
        op: &'static str,
        path: &str,
        method: Method,
        url: &str,
        headers: Vec<(&'static str, HeaderValue)>,
        body: Bytes,
    ) -> Result<HttpResponse, VaultError> {
        let mut req: HttpRequest = http::Request::new(HttpRequestBody::from(body.clone()));
        *req.method_mut() = method;
        *req.uri_mut() = url
            .parse()
            .map_err(|e| backend(op, path, format!("bad blob URL: {e}"), false))?;
        let h = req.headers_mut();
        h.insert(http::header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        for (name, value) in headers {
            h.insert(name, value);
        }
        let cred = self
            .store
            .credentials()
            .get_credential()
            .await
            // In plain words, as for object_store's own requests: a failed
            // token fetch names the variables looked for, never the
            // identity endpoint's URL (found when listing moved here).
            .map_err(|e| match AzureFailure::from_store_error(&e) {
                Some(f) => f.into_vault_error(op, path),
                None => backend(op, path, format!("no Azure credential: {e}"), true),
            })?;
        object_store::azure::AzureAuthorizer::new(&cred, &self.settings.account)
            .try_authorize(&mut req)
            .map_err(|e| backend(op, path, format!("signing failed: {e}"), false))?;
        self.http
            .execute(req)
            .await
            .map_err(|e| http_error(op, path, e))
    }

    /// The store the vault reads through: object_store's client over the
    /// same retrying HTTP stack. Crate-only: its puts are not create-only.
    pub(crate) fn reader(&self) -> Arc<dyn ObjectStore> {
        self.store.clone()
    }

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
            Err(status_error("create container", &c, &c, resp).await)
        }
    }
}
