//! `tvault serve`: a read-only web reading room over the vault and the
//! search index, for one person on their own machine.
//!
//! Every request must carry the access token printed at start (`?token=`;
//! compared in constant time) or it is refused with 403 before anything else
//! is looked at. On a loopback address the `Host` header must name it too,
//! so a web page elsewhere cannot reach the room through DNS rebinding.
//! Every response carries a Content-Security-Policy that lets nothing run
//! and nothing load from elsewhere, `nosniff`, `no-referrer` and `no-store`.
//! Only `GET` and `HEAD` are served, and only through the vault's read
//! calls: the room never writes to the vault.
//!
//! | module | role |
//! |---|---|
//! | `pages` | the search and day pages (maud: escaped by default) |
//! | `files` | the conversation page, attachments and JSON (re-hashed as served), zips |

mod files;
mod pages;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, combinators::UnsyncBoxBody};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tvault_core::ports::Vault;

use crate::zone::Zone;

/// A response with a body that may stream from a file.
pub(crate) type Resp = Response<UnsyncBoxBody<Bytes, std::io::Error>>;

/// The policy of every page: nothing runs, nothing loads from elsewhere;
/// inline styles and `data:` images only; forms only to the room itself.
pub const CSP: &str = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; \
                       base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// What the room serves from.
pub struct Room {
    pub vault: Arc<dyn Vault>,
    /// The search index folder (`None`: search is off, the rest works).
    pub index_dir: Option<PathBuf>,
    pub zone: Zone,
    pub token: String,
    /// Where it listens (for the `Host` check and the URL it prints).
    pub addr: SocketAddr,
}

impl Room {
    /// The URL to open: the room's address with its token.
    pub fn url(&self) -> String {
        format!("http://{}/?token={}", self.addr, self.token)
    }

    /// `path` with the token (and `query`, already encoded) appended.
    pub(crate) fn link(&self, path: &str, query: &str) -> String {
        if query.is_empty() {
            format!("{path}?token={}", self.token)
        } else {
            format!("{path}?{query}&token={}", self.token)
        }
    }
}

/// A fresh access token: 32 bytes from the operating system's secure
/// generator, in hex.
pub fn new_token() -> Result<String, String> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| format!("no random bytes for the access token: {e}"))?;
    Ok(tvault_core::hash::hex(&b))
}

/// Serve `listener` until the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, room: Arc<Room>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let room = room.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let room = room.clone();
                async move { Ok::<_, Infallible>(handle(&room, req).await) }
            });
            // A browser that hangs up mid-download ends the connection with
            // an error; nothing to report.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

/// The query string's pairs, decoded.
pub(crate) type Params = Vec<(String, String)>;

pub(crate) fn param<'a>(p: &'a Params, key: &str) -> Option<&'a str> {
    p.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.trim().is_empty())
}

async fn handle(room: &Room, req: Request<hyper::body::Incoming>) -> Resp {
    let head = req.method() == Method::HEAD;
    let mut resp = route(room, &req).await;
    secure(&mut resp);
    if head {
        let (parts, _) = resp.into_parts();
        return Response::from_parts(parts, empty());
    }
    resp
}

async fn route(room: &Room, req: &Request<hyper::body::Incoming>) -> Resp {
    if !host_ok(room, req) {
        return text(StatusCode::FORBIDDEN, "403 Forbidden: unknown Host\n");
    }
    let params: Params = url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    let given = params
        .iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    if !same(given.as_bytes(), room.token.as_bytes()) {
        return text(
            StatusCode::FORBIDDEN,
            "403 Forbidden: open the URL `tvault serve` printed (it carries the access token)\n",
        );
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            "405: this reading room only reads\n",
        );
    }
    let path = req.uri().path();
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        [] => pages::search(room, &params).await,
        ["day"] => pages::day(room, param(&params, "d").unwrap_or("")).await,
        ["day", d] => pages::day(room, d).await,
        ["export.zip"] => files::results_zip(room, &params).await,
        ["c", id] => files::conversation(room, id, &params).await,
        ["c", id, "export.zip"] => files::conversation_zip(room, id, &params).await,
        ["c", id, file @ ("manifest.json" | "transcript.json")] => {
            files::json(room, id, file, &params).await
        }
        ["c", id, "attachments", att, name] => {
            files::attachment(room, id, att, name, &params).await
        }
        _ => pages::message(
            room,
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such page.",
        ),
    }
}

/// On loopback, the `Host` header must be the room's own address.
fn host_ok(room: &Room, req: &Request<hyper::body::Incoming>) -> bool {
    if !room.addr.ip().is_loopback() {
        return true;
    }
    let Some(host) = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
    else {
        return false;
    };
    let port = room.addr.port();
    [
        room.addr.to_string(),
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
    ]
    .iter()
    .any(|h| h.eq_ignore_ascii_case(host))
}

/// Constant-time comparison, so the token cannot be guessed byte by byte
/// from response times.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn secure(resp: &mut Resp) {
    let h = resp.headers_mut();
    for (k, v) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        h.insert(k, HeaderValue::from_static(v));
    }
}

pub(crate) fn empty() -> UnsyncBoxBody<Bytes, std::io::Error> {
    Full::new(Bytes::new())
        .map_err(|never| match never {})
        .boxed_unsync()
}

pub(crate) fn full(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Resp {
    let mut r = Response::new(
        Full::new(body.into())
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

pub(crate) fn text(status: StatusCode, body: &'static str) -> Resp {
    full(status, "text/plain; charset=utf-8", body)
}

pub(crate) fn html(status: StatusCode, body: String) -> Resp {
    full(status, "text/html; charset=utf-8", body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole_and_are_random() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"abcd"));
        assert!(!same(b"", b"a"));
        let (a, b) = (new_token().unwrap(), new_token().unwrap());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
    }
}
