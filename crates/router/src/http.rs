//! The worker's operations endpoint (`tvault worker --metrics-addr ADDR`):
//! `GET /metrics` (the Prometheus text format of the process's
//! [`Registry`]), `GET /healthz` (the process is alive and serving) and
//! `GET /readyz` (the vault is reachable and the queue readable, checked at
//! most once per [`READY_TTL`] however often a probe asks).
//!
//! Served with hyper's own HTTP/1 server (already in the tree through
//! reqwest), not a web framework: three fixed paths need no router.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::Mutex;
use tvault_aws::Queue;
use tvault_core::ports::Vault;

use crate::router::Router;
use crate::telemetry::{Registry, prometheus};

/// How long a readiness answer is reused: Kubernetes probes every few
/// seconds per pod, and each check costs a vault HEAD and an SQS call.
pub const READY_TTL: Duration = Duration::from_secs(5);

/// How long one check may wait for the vault or the queue.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// A name no archive writes: a HEAD on it answers 404 from a reachable vault
/// whose credential may read, which is all readiness needs to know.
const PROBE_OBJECT: &str = "index/readyz-probe";

/// What the endpoint reads.
pub struct Ops {
    router: Arc<Router>,
    queue: Queue,
    registry: Arc<Registry>,
    ready: Mutex<Option<(Instant, Result<(), String>)>>,
}

impl Ops {
    pub fn new(router: Arc<Router>, queue: Queue, registry: Arc<Registry>) -> Arc<Self> {
        Arc::new(Self {
            router,
            queue,
            registry,
            ready: Mutex::new(None),
        })
    }

    /// Whether the vault and the queue answer, from the cache when it is
    /// fresh. Probes that arrive during a check wait for its answer.
    pub async fn readiness(&self) -> Result<(), String> {
        let mut cached = self.ready.lock().await;
        if let Some((at, answer)) = &*cached
            && at.elapsed() < READY_TTL
        {
            return answer.clone();
        }
        let answer = self.check().await;
        *cached = Some((Instant::now(), answer.clone()));
        answer
    }

    async fn check(&self) -> Result<(), String> {
        let vault = self.router.vault().await;
        let (v, q) = tokio::join!(
            tokio::time::timeout(CHECK_TIMEOUT, vault.exists(PROBE_OBJECT)),
            tokio::time::timeout(CHECK_TIMEOUT, self.queue.depth()),
        );
        let mut problems = Vec::new();
        match v {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => problems.push(format!("vault: {e}")),
            Err(_) => problems.push(format!(
                "vault: no answer within {} s",
                CHECK_TIMEOUT.as_secs()
            )),
        }
        match q {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => problems.push(format!("queue: {}", tvault_aws::error_text(&e))),
            Err(_) => problems.push(format!(
                "queue: no answer within {} s",
                CHECK_TIMEOUT.as_secs()
            )),
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }

    async fn answer(&self, req: &Request<Incoming>) -> Response<Full<Bytes>> {
        if req.method() != Method::GET && req.method() != Method::HEAD {
            return text(StatusCode::METHOD_NOT_ALLOWED, "only GET\n".into());
        }
        match req.uri().path() {
            "/healthz" => text(StatusCode::OK, "ok\n".into()),
            "/readyz" => match self.readiness().await {
                Ok(()) => text(StatusCode::OK, "ready\n".into()),
                Err(why) => {
                    tracing::warn!(reason = %why, "not ready");
                    text(
                        StatusCode::SERVICE_UNAVAILABLE,
                        format!("not ready: {why}\n"),
                    )
                }
            },
            "/metrics" => {
                let mut r = text(StatusCode::OK, prometheus::render(&self.registry));
                r.headers_mut().insert(
                    hyper::header::CONTENT_TYPE,
                    hyper::header::HeaderValue::from_static(prometheus::CONTENT_TYPE),
                );
                r
            }
            _ => text(
                StatusCode::NOT_FOUND,
                "not found: try /metrics, /healthz or /readyz\n".into(),
            ),
        }
    }
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// Serve `ops` on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, ops: Arc<Ops>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors, usually: wait instead of spinning.
                tracing::warn!(error = %e, "metrics endpoint: accept failed");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let ops = ops.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req: Request<Incoming>| {
                let ops = ops.clone();
                async move { Ok::<_, Infallible>(ops.answer(&req).await) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
