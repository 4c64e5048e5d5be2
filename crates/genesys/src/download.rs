//! Attachment bytes, streamed.
//!
//! A Genesys-hosted URL (`https://api-downloads.{domain}/api/v2/downloads/{downloadId}`,
//! or `{base}/api/v2/downloads/{downloadId}` in base-URL mode) is exchanged for a
//! signed URL: `GET {api}/api/v2/downloads/{downloadId}?issueRedirect=false`
//! with the bearer token returns `{"url": ...}`, which is fetched *without*
//! the Authorization header. Signed URLs expire within minutes: a 403 from
//! one gets one fresh URL. Any other URL is fetched directly, without Genesys
//! credentials.
//!
//! Bytes are never buffered whole: the response is handed on as a stream and
//! the vault hashes and checks it (size, sha256) on the way. A body that ends
//! before its `Content-Length` is an error of the stream, so it is never
//! stored as complete.

use std::error::Error as _;

use futures::{StreamExt, TryStreamExt};
use reqwest::{Method, Response, StatusCode, Url};
use tracing::info;
use tvault_core::id::check_id;
use tvault_core::manifest::strip_query;
use tvault_core::ports::{ByteStream, Deadline, SourceError};
use tvault_core::transcript::AttachmentRef;

use crate::client::{Auth, Call, Client};
use crate::config::{Endpoints, check_scheme};
use crate::models::UrlResponse;
use crate::transcript::parse;

/// The download id of a Genesys-hosted attachment URL, if it is one.
pub fn download_id<'a>(endpoints: &Endpoints, url: &'a str) -> Option<&'a str> {
    let rest = url.strip_prefix(endpoints.downloads.as_str())?;
    let id = rest.split(['/', '?', '#']).next()?;
    check_id(id).ok().map(|()| id)
}

/// Open the bytes of `att` as a stream.
pub async fn open(
    client: &Client,
    att: &AttachmentRef,
    deadline: Deadline,
) -> Result<ByteStream, SourceError> {
    let url = att.url.as_deref().ok_or_else(|| SourceError::Gone {
        reason: "the attachment has no download URL".into(),
    })?;
    usable(url)?;
    let Some(id) = download_id(client.endpoints(), url) else {
        let resp = get(client, "attachment", url, deadline).await?;
        return Ok(stream(resp));
    };
    let mut refreshed = false;
    loop {
        let signed = signed_url(client, id, deadline).await?;
        usable(&signed)?;
        match client
            .send(&anonymous("attachment-signed", &signed), deadline)
            .await
        {
            Ok(resp) => return Ok(stream(resp)),
            Err(f) if f.status == Some(StatusCode::FORBIDDEN) && !refreshed => {
                info!(
                    download_id = id,
                    "signed URL refused (expired?); asking for a fresh one"
                );
                refreshed = true;
            }
            // A fresh URL refused too: most likely clock skew or a CDN hiccup,
            // not a permission we lack, so the record is retried later.
            Err(f) if f.status == Some(StatusCode::FORBIDDEN) => {
                return Err(SourceError::Transient {
                    reason: format!(
                        "download {id}: a fresh signed URL was refused too ({})",
                        f.error
                    ),
                    retry_after: None,
                });
            }
            Err(f) => return Err(f.error),
        }
    }
}

/// `GET {api}/api/v2/downloads/{downloadId}?issueRedirect=false` → the signed URL.
async fn signed_url(client: &Client, id: &str, deadline: Deadline) -> Result<String, SourceError> {
    let path = format!("/api/v2/downloads/{id}?issueRedirect=false");
    let (_, body) = client.get_json("download-url", &path, deadline).await?;
    let r: UrlResponse = parse("download-url", &body)?;
    r.url
        .filter(|u| !u.is_empty())
        .ok_or_else(|| SourceError::BadResponse {
            reason: format!("download-url {id}: the response has no url"),
        })
}

/// Plain http is refused except to loopback; refusing is final (recorded as missing).
fn usable(url: &str) -> Result<(), SourceError> {
    let parsed = Url::parse(url).map_err(|e| SourceError::Gone {
        reason: format!("unusable attachment URL {:?}: {e}", strip_query(url)),
    })?;
    check_scheme(&parsed).map_err(|()| SourceError::Gone {
        reason: format!(
            "refused to fetch {:?}: only https (or http to loopback) is allowed",
            strip_query(url)
        ),
    })
}

fn anonymous(what: &'static str, url: &str) -> Call {
    Call {
        what,
        method: Method::GET,
        url: url.to_string(),
        body: None,
        auth: Auth::Anonymous,
        // No total timeout: a large attachment takes as long as it takes; the
        // client's read timeout catches a stalled body.
        timeout: None,
    }
}

async fn get(
    client: &Client,
    what: &'static str,
    url: &str,
    deadline: Deadline,
) -> Result<Response, SourceError> {
    Ok(client.send(&anonymous(what, url), deadline).await?)
}

/// The body as a stream of chunks; transport errors (a truncated body
/// included) become `std::io::Error`s that name their causes but not the URL.
fn stream(resp: Response) -> ByteStream {
    resp.bytes_stream()
        .map_err(|e| {
            let e = e.without_url();
            // reqwest's own text is generic ("error decoding response body");
            // hyper's cause says what happened (a body cut short, say).
            let mut msg = e.to_string();
            let mut cause = e.source();
            while let Some(c) = cause {
                msg.push_str(": ");
                msg.push_str(&c.to_string());
                cause = c.source();
            }
            std::io::Error::other(msg)
        })
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_ids_are_recognised_only_under_the_downloads_prefix() {
        let e = Endpoints::parse("eu-west-1").unwrap();
        assert_eq!(
            download_id(
                &e,
                "https://api-downloads.mypurecloud.ie/api/v2/downloads/5f0e9d8c7b6a4a39"
            ),
            Some("5f0e9d8c7b6a4a39")
        );
        assert_eq!(
            download_id(&e, "https://cdn.example.com/api/v2/downloads/x"),
            None
        );
        assert_eq!(
            download_id(
                &e,
                "https://api-downloads.mypurecloud.ie/api/v2/downloads/..%2F"
            ),
            None
        );
        let b = Endpoints::parse("http://127.0.0.1:9").unwrap();
        assert_eq!(
            download_id(&b, "http://127.0.0.1:9/api/v2/downloads/abc?x=1"),
            Some("abc")
        );
    }

    #[test]
    fn plain_http_attachment_urls_are_refused_for_good() {
        assert!(matches!(
            usable("http://cdn.example.com/a.jpg"),
            Err(SourceError::Gone { .. })
        ));
        assert!(usable("https://cdn.example.com/a.jpg").is_ok());
        assert!(usable("http://127.0.0.1:8/a.jpg").is_ok());
    }
}
