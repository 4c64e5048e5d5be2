//! Attachment bytes, streamed.
//!
//! A Genesys-hosted URL, `/api/v2/downloads/{downloadId}` on `api.{domain}`
//! or `api-downloads.{domain}` of any known region (or on the base URL in
//! base-URL mode), is exchanged for a signed URL: `GET
//! {api}/api/v2/downloads/{downloadId}?issueRedirect=false` with the bearer
//! token returns `{"url": ...}`, which is fetched *without* the Authorization
//! header. Signed URLs expire within minutes: a 401 or 403 from one gets one
//! fresh URL. Any other URL is fetched directly, without Genesys credentials.
//!
//! Where a URL may go is [`crate::hosts`]'s rule. An attachment that cannot be
//! fetched for good is [`SourceError::Gone`], which the archive records under
//! `missing[]` with the reason while the rest of the conversation is archived:
//! a URL refused by that rule (plain http, a local address; also on a
//! redirect), too many redirects, 404 or 410, a fresh signed URL refused
//! again, or a 401/403 from a URL fetched without credentials (there are no
//! credentials of ours to renew, and nothing else to ask for a new URL).
//! Throttling, 5xx and network errors stay transient: the record is retried.
//!
//! Bytes are never buffered whole: the response is handed on as a stream and
//! the vault hashes and checks it (size, sha256) on the way. A body that ends
//! before its `Content-Length` is an error of the stream, so it is never
//! stored as complete.

use futures::{StreamExt, TryStreamExt};
use reqwest::{Method, Response, StatusCode, Url};
use tracing::info;
use tvault_core::id::check_id;
use tvault_core::manifest::strip_query;
use tvault_core::ports::{ByteStream, Deadline, SourceError};
use tvault_core::text::error_chain;
use tvault_core::transcript::AttachmentRef;

use crate::client::{Auth, Call, Client, Failure};
use crate::config::Endpoints;
use crate::hosts;
use crate::models::UrlResponse;
use crate::response::parse;

/// The download id of a Genesys-hosted attachment URL, if it is one: the
/// segment after `/api/v2/downloads/` on `api.{domain}` or
/// `api-downloads.{domain}` of a known region, or under the base URL.
pub fn download_id(endpoints: &Endpoints, url: &str) -> Option<String> {
    let rest = match url.strip_prefix(endpoints.downloads.as_str()) {
        Some(rest) => rest.to_string(),
        None => {
            let u = Url::parse(url).ok()?;
            // Only the id is used (with our own API host), never the URL, so
            // its scheme does not matter here.
            let host = u.host_str()?;
            if u.port().is_some() || !hosts::serves_downloads(host) {
                return None;
            }
            u.path().strip_prefix("/api/v2/downloads/")?.to_string()
        }
    };
    let id = rest.split(['/', '?', '#']).next()?;
    check_id(id).ok().map(|()| id.to_string())
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
    if let Some(id) = download_id(client.endpoints(), url) {
        return through_downloads_api(client, &id, deadline).await;
    }
    let parsed = allowed(client, url)?;
    // The parsed form is what is sent and shown: control characters in a
    // crafted URL are percent-encoded there, never written to a log or reason.
    match client
        .send(&anonymous("attachment", parsed.as_str()), deadline)
        .await
    {
        Ok(resp) => Ok(stream(resp)),
        Err(f) if refused(&f) => {
            let whose = if client.endpoints().is_genesys(&parsed) {
                "a Genesys URL that is not a downloads-API URL, so there is no fresh one to ask for"
            } else {
                "a third-party URL, fetched without credentials"
            };
            Err(SourceError::Gone {
                reason: format!("{} ({whose})", f.error),
            })
        }
        Err(f) => Err(f.error),
    }
}

/// The downloads API's signed URL for `id`, fetched; one fresh URL after a 401/403.
async fn through_downloads_api(
    client: &Client,
    id: &str,
    deadline: Deadline,
) -> Result<ByteStream, SourceError> {
    let mut refreshed = false;
    loop {
        let signed = allowed(client, &signed_url(client, id, deadline).await?)?;
        match client
            .send(&anonymous("attachment-signed", signed.as_str()), deadline)
            .await
        {
            Ok(resp) => return Ok(stream(resp)),
            Err(f) if refused(&f) && !refreshed => {
                info!(
                    download_id = id,
                    "signed URL refused (expired?); asking for a fresh one"
                );
                refreshed = true;
            }
            Err(f) if refused(&f) => {
                return Err(SourceError::Gone {
                    reason: format!(
                        "download {id}: a fresh signed URL was refused too ({})",
                        f.error
                    ),
                });
            }
            Err(f) => return Err(f.error),
        }
    }
}

/// 401 or 403 to a request made without credentials: the URL refuses us.
fn refused(f: &Failure) -> bool {
    matches!(
        f.status,
        Some(StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
    )
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

/// The URL, if [`hosts::check_target`] lets it be fetched; refusing is final
/// (recorded as missing), and nothing is sent.
fn allowed(client: &Client, url: &str) -> Result<Url, SourceError> {
    let parsed = Url::parse(url).map_err(|e| SourceError::Gone {
        reason: format!("unusable attachment URL {:?}: {e}", strip_query(url)),
    })?;
    hosts::check_target(&parsed, client.endpoints().local).map_err(|why| SourceError::Gone {
        reason: format!("refused to fetch {:?}: {why}", strip_query(url)),
    })?;
    Ok(parsed)
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

/// The body as a stream of chunks; transport errors (a truncated body
/// included) become `std::io::Error`s that name their causes but not the URL.
fn stream(resp: Response) -> ByteStream {
    resp.bytes_stream()
        // reqwest's own text is generic ("error decoding response body");
        // hyper's cause says what happened (a body cut short, say).
        .map_err(|e| std::io::Error::other(error_chain(&e.without_url())))
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_ids_are_recognised_on_any_genesys_api_host() {
        let e = Endpoints::parse("eu-west-1").unwrap();
        let id = |url: &str| download_id(&e, url);
        assert_eq!(
            id("https://api-downloads.mypurecloud.ie/api/v2/downloads/5f0e9d8c7b6a4a39").as_deref(),
            Some("5f0e9d8c7b6a4a39")
        );
        // The API host serves the same path; so do other regions' hosts.
        assert_eq!(
            id("https://api.mypurecloud.ie/api/v2/downloads/5f0e9d8c7b6a4a39?issueRedirect=true")
                .as_deref(),
            Some("5f0e9d8c7b6a4a39")
        );
        assert_eq!(
            id("https://API.usw2.pure.cloud/api/v2/downloads/abc").as_deref(),
            Some("abc")
        );
        for not in [
            "https://cdn.example.com/api/v2/downloads/x",
            "https://login.mypurecloud.ie/api/v2/downloads/x",
            "https://api.mypurecloud.ie:8443/api/v2/downloads/x",
            "https://api.mypurecloud.ie.evil.example/api/v2/downloads/x",
            "https://api-downloads.mypurecloud.ie/attachments/x/photo.jpg",
            "https://api-downloads.mypurecloud.ie/api/v2/downloads/..%2F",
            "https://api.mypurecloud.ie/api/v2/downloads/",
        ] {
            assert_eq!(id(not), None, "{not}");
        }
        let b = Endpoints::parse("http://127.0.0.1:9").unwrap();
        assert_eq!(
            download_id(&b, "http://127.0.0.1:9/api/v2/downloads/abc?x=1").as_deref(),
            Some("abc")
        );
        assert_eq!(
            download_id(&b, "https://api.mypurecloud.de/api/v2/downloads/abc").as_deref(),
            Some("abc")
        );
    }
}
