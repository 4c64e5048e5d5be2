//! `List Blobs`, page by page: the Azure vault's one listing. The service
//! lists a container in name order and pages it by marker (at most 5,000
//! blobs a page), so the vault's ordered listing ([`Lister`]) is these
//! pages in turn, holding one at a time; and it returns each blob's
//! Content-MD5, which object_store's list does not.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use http::Method;
use tvault_core::ports::{Listed, VaultError};
use tvault_core::text::percent_encode;

use super::client::{AzureWriter, status_error};
use crate::listing::Lister;
use crate::writer::backend_error as backend;

/// Blobs per `List Blobs` page: the service's maximum (and default).
pub const LIST_PAGE_SIZE: usize = 5000;

/// One blob as `List Blobs` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedBlob {
    pub name: String,
    pub size: u64,
    /// The Content-MD5 property (base64), which Azure verified on upload.
    pub content_md5: Option<String>,
    pub last_modified: DateTime<Utc>,
    pub e_tag: Option<String>,
}

impl AzureWriter {
    /// The same writer, listing `n` blobs a page (1 to 5,000): tests use a
    /// small page to cross page boundaries with a few blobs.
    pub fn with_list_page_size(mut self, n: usize) -> Self {
        self.list_page_size = n.clamp(1, LIST_PAGE_SIZE);
        self
    }

    /// `List Blobs` with each blob's Content-MD5, collected: with the MD5
    /// that Azure verified when the blob was written, a listing can confirm
    /// the bytes of a whole vault without reading them back.
    pub async fn list_with_md5(&self, prefix: &str) -> Result<Vec<ListedBlob>, VaultError> {
        self.list_blobs(prefix.to_string()).try_collect().await
    }

    /// Every blob whose name starts with `prefix` (a plain string prefix),
    /// in name order, one page in memory at a time.
    pub fn list_blobs(&self, prefix: String) -> BoxStream<'_, Result<ListedBlob, VaultError>> {
        // State: the next page's marker ("" for the first), None when done.
        futures::stream::try_unfold(Some(String::new()), move |marker| {
            let prefix = prefix.clone();
            async move {
                let Some(marker) = marker else {
                    return Ok(None);
                };
                let (blobs, next) = self.list_page(&prefix, &marker).await?;
                // A service that hands back the marker it was given would
                // page forever.
                if next.as_deref().is_some_and(|n| n == marker) {
                    let message = format!("List Blobs returned marker {marker:?} again");
                    return Err(backend("list", &prefix, message, false));
                }
                let page = futures::stream::iter(blobs.into_iter().map(Ok));
                Ok(Some((page, next)))
            }
        })
        .try_flatten()
        .boxed()
    }

    /// One `List Blobs` page from `marker`, and the next page's marker.
    async fn list_page(
        &self,
        prefix: &str,
        marker: &str,
    ) -> Result<(Vec<ListedBlob>, Option<String>), VaultError> {
        let mut url = format!(
            "{}/{}?restype=container&comp=list&maxresults={}&prefix={}",
            self.settings.endpoint,
            self.settings.container,
            self.list_page_size,
            percent_encode(prefix)
        );
        if !marker.is_empty() {
            url.push_str("&marker=");
            url.push_str(&percent_encode(marker));
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
            .map_err(|e| backend("list", prefix, e.to_string(), true))?;
        let xml = String::from_utf8_lossy(&body);
        let mut blobs = Vec::new();
        for blob in xml.split("<Blob>").skip(1) {
            blobs.push(parse_blob(prefix, blob)?);
        }
        let next = xml_field(&xml, "NextMarker")
            .filter(|m| !m.is_empty())
            .map(xml_unescape);
        Ok((blobs, next))
    }
}

/// One `<Blob>` element. The sizes and times are the service's: a value
/// that does not parse is an error naming the blob, never a panic or a 0.
fn parse_blob(prefix: &str, blob: &str) -> Result<ListedBlob, VaultError> {
    let name = xml_field(blob, "Name")
        .map(xml_unescape)
        .unwrap_or_default();
    let bad = |what: &str| {
        let message = format!("List Blobs gave blob {name:?} an unreadable {what}");
        backend("list", prefix, message, false)
    };
    let size = xml_field(blob, "Content-Length")
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("Content-Length"))?;
    let last_modified = xml_field(blob, "Last-Modified")
        .and_then(|s| DateTime::parse_from_rfc2822(s).ok())
        .ok_or_else(|| bad("Last-Modified"))?
        .with_timezone(&Utc);
    let content_md5 = xml_field(blob, "Content-MD5")
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let e_tag = xml_field(blob, "Etag").map(xml_unescape);
    Ok(ListedBlob {
        name,
        size,
        content_md5,
        last_modified,
        e_tag,
    })
}

impl Lister for AzureWriter {
    fn list_ordered<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, Result<Listed, VaultError>> {
        // A folder, as object_store asks for one: `conversations/c1/` must
        // not list `conversations/c10/`.
        let folder = prefix.trim_end_matches('/');
        let folder = if folder.is_empty() {
            String::new()
        } else {
            format!("{folder}/")
        };
        self.list_blobs(folder)
            .map_ok(|b| Listed {
                path: b.name,
                size: b.size,
                last_modified: b.last_modified,
                e_tag: b.e_tag,
            })
            .boxed()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blob_with_an_unreadable_size_or_time_is_an_error_naming_it() {
        let good = "<Name>a&amp;b</Name><Properties><Last-Modified>Wed, 02 Dec 2026 06:00:00 GMT</Last-Modified><Etag>0x1</Etag><Content-Length>18446744073709551615</Content-Length><Content-MD5>x==</Content-MD5></Properties></Blob>";
        let b = parse_blob("p/", good).unwrap();
        assert_eq!(b.name, "a&b");
        assert_eq!(b.size, u64::MAX);
        assert_eq!(b.last_modified.to_rfc3339(), "2026-12-02T06:00:00+00:00");
        assert_eq!(b.e_tag.as_deref(), Some("0x1"));
        for (from, to, what) in [
            ("18446744073709551615", "1e30", "Content-Length"),
            ("18446744073709551615", "-1", "Content-Length"),
            (
                "Wed, 02 Dec 2026 06:00:00 GMT",
                "yesterday",
                "Last-Modified",
            ),
        ] {
            let e = parse_blob("p/", &good.replace(from, to)).unwrap_err();
            let text = e.to_string();
            assert!(text.contains("\"a&b\"") && text.contains(what), "{text}");
        }
    }
}
