//! A small fake Azure Blob endpoint that refuses every request the way
//! Azure does, for testing what a person sees when the storage account says
//! no: the status, the `x-ms-error-code` and `x-ms-request-id` headers, and
//! the XML error body (none for a HEAD, as Azure sends none).
//!
//! Shapes, from Azure's REST docs: the body is
//! `<?xml ...?><Error><Code>...</Code><Message>...</Message></Error>` and,
//! since version 2017-07-29, the code is also in `x-ms-error-code` ("Status
//! and error codes"); every answer carries `x-ms-request-id` ("Common REST
//! API error codes" / request headers). Azure's messages end with
//! `RequestId:...` and `Time:...` lines. The codes and their statuses:
//! `AuthenticationFailed` 403 and `AuthorizationFailure` 403 ("Common REST
//! API error codes"; the latter is what a storage firewall rule answers),
//! `AuthorizationPermissionMismatch` 403 ("SAS error codes"),
//! `ContainerNotFound` 404 ("Blob service error codes").

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The refusal every request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 403 `AuthorizationFailure`: a storage firewall (network rule) denial.
    Firewall,
    /// 403 `AuthenticationFailed`: a wrong or expired key or SAS signature.
    BadCredential,
    /// 403 `AuthorizationPermissionMismatch`: a SAS without the right.
    MissingRight,
    /// 404 `ContainerNotFound`.
    ContainerNotFound,
}

impl Refusal {
    /// Status, code, and Azure's message for the code (docs above).
    pub fn answer(self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Refusal::Firewall => (
                StatusCode::FORBIDDEN,
                "AuthorizationFailure",
                "This request is not authorized to perform this operation.",
            ),
            Refusal::BadCredential => (
                StatusCode::FORBIDDEN,
                "AuthenticationFailed",
                "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.",
            ),
            Refusal::MissingRight => (
                StatusCode::FORBIDDEN,
                "AuthorizationPermissionMismatch",
                "This request is not authorized to perform this operation using this permission.",
            ),
            Refusal::ContainerNotFound => (
                StatusCode::NOT_FOUND,
                "ContainerNotFound",
                "The specified container does not exist.",
            ),
        }
    }
}

/// The request id every answer carries (Azure's are GUIDs).
pub const REQUEST_ID: &str = "5f0c3a1e-601e-0042-2b1c-9a8b7c000000";

/// A running fake; stops when dropped.
pub struct RefusingAzure {
    addr: SocketAddr,
    requests: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl RefusingAzure {
    /// Start on 127.0.0.1 port 0, answering every request with `refusal`.
    pub async fn start(refusal: Refusal) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let requests = Arc::new(AtomicU64::new(0));
        let count = requests.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let count = count.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req: Request<Incoming>| {
                        count.fetch_add(1, Ordering::Relaxed);
                        async move { Ok::<_, std::convert::Infallible>(refuse(refusal, &req)) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Ok(Self {
            addr,
            requests,
            task,
        })
    }

    /// The path-style account endpoint, `http://127.0.0.1:PORT/devstoreaccount1`.
    pub fn endpoint(&self) -> String {
        format!("http://{}/devstoreaccount1", self.addr)
    }

    /// Requests answered so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

impl Drop for RefusingAzure {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn refuse(refusal: Refusal, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let (status, code, message) = refusal.answer();
    // A HEAD's answer has headers only.
    let body = if req.method() == Method::HEAD {
        String::new()
    } else {
        format!(
            "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code><Message>{message}\nRequestId:{REQUEST_ID}\nTime:2026-12-02T03:00:00.0000000Z</Message></Error>"
        )
    };
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert("content-type", "application/xml".parse().unwrap());
    h.insert("x-ms-error-code", code.parse().unwrap());
    h.insert("x-ms-request-id", REQUEST_ID.parse().unwrap());
    h.insert("x-ms-version", "2025-11-05".parse().unwrap());
    resp
}
