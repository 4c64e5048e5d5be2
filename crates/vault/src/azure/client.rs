//! The Azure writer's client: the signing, retrying HTTP stack every raw
//! REST call goes through ([`AzureWriter::send`]), the one place a failed
//! answer becomes a [`VaultError`] ([`status_error`]), and the calls that are
//! neither reads object_store makes nor writes (`Create Container`,
//! `List Blobs` with Content-MD5).

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode};
use object_store::ObjectStore;
use object_store::azure::MicrosoftAzure;
use object_store::client::{HttpClient, HttpError, HttpRequest, HttpRequestBody, HttpResponse};
use tvault_core::ports::VaultError;
use tvault_core::text::percent_encode;

use super::config::AzureSettings;
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

/// A transport error or a give-up of the retry layer: always worth a later retry.
fn http_error(op: &'static str, path: &str, e: HttpError) -> VaultError {
    backend(op, path, e.to_string(), true)
}

/// The Azure error code (`x-ms-error-code`, else `<Code>`) and `<Message>` of a failed response.
async fn error_code(resp: HttpResponse) -> (String, String) {
    let header = resp
        .headers()
        .get("x-ms-error-code")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = resp.into_body().bytes().await.unwrap_or_default();
    let body = String::from_utf8_lossy(&body);
    let field = |tag: &str| {
        body.split_once(&format!("<{tag}>"))
            .and_then(|(_, rest)| rest.split_once(&format!("</{tag}>")))
            .map(|(v, _)| v.to_string())
            .unwrap_or_default()
    };
    (header.unwrap_or_else(|| field("Code")), field("Message"))
}

/// Classify a final non-success answer. Never includes the URL (it may carry a SAS).
pub(crate) async fn status_error(
    op: &'static str,
    path: &str,
    container: &str,
    resp: HttpResponse,
) -> VaultError {
    let status = resp.status();
    let (code, message) = error_code(resp).await;
    // Azure says Md5Mismatch; Azurite's Put Blob says InvalidOperation
    // "Provided contentMD5 doesn't match." for the same thing.
    let damaged = code.contains("Md5Mismatch")
        || code.contains("Crc64Mismatch")
        || message.contains("contentMD5 doesn't match");
    let (message, transient) = match status {
        // Its own variant: the router re-reads a rotated settings secret on it.
        StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => {
            return VaultError::Access {
                op,
                path: path.to_string(),
                message: format!(
                    "Azure refused the credential ({} {code}): check the key or SAS and that it grants read, create and list on container {container}",
                    status.as_u16()
                ),
            };
        }
        StatusCode::NOT_FOUND if code == "ContainerNotFound" => (
            format!(
                "container {container} does not exist: create it (the infrastructure template does) or fix the vault URL"
            ),
            false,
        ),
        // Bytes damaged on the way: a new attempt sends them again.
        StatusCode::BAD_REQUEST if damaged => (
            format!(
                "Azure refused the bytes as damaged in transit ({code}: Content-MD5 mismatch); nothing stored"
            ),
            true,
        ),
        s if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS => (
            format!("Azure answered {} {code} after all retries", s.as_u16()),
            true,
        ),
        s => (
            format!(
                "Azure answered {} {code}: {}",
                s.as_u16(),
                message.lines().next().unwrap_or_default()
            ),
            false,
        ),
    };
    backend(op, path, message, transient)
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
            .map_err(|e| backend(op, path, format!("no Azure credential: {e}"), true))?;
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
                percent_encode(prefix)
            );
            if !marker.is_empty() {
                url.push_str("&marker=");
                url.push_str(&percent_encode(&marker));
            }
            let resp = self
                .send("list", prefix, Method::GET, &url, Vec::new(), Bytes::new())
                .await?;
            if !resp.status().is_success() {
                let c = &self.settings.container;
                return Err(status_error("list", prefix, c, resp).await);
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
