//! A Lambda Runtime API emulator: the three calls a custom runtime makes
//! (`GET /2018-06-01/runtime/invocation/next`, `POST .../{id}/response`,
//! `POST .../{id}/error`, and `POST .../runtime/init/error`), enough to run
//! the real `bootstrap` binary with `AWS_LAMBDA_RUNTIME_API=127.0.0.1:PORT`.
//!
//! A test calls [`RuntimeApi::invoke`] with an event; the emulator hands it
//! to the runtime's next `/next` poll and returns what the runtime posts back.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::sync::{Notify, oneshot};

/// What the runtime answered for one invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// `POST .../response`.
    Response(Value),
    /// `POST .../error`.
    Error(Value),
}

struct Pending {
    id: String,
    event: Bytes,
    deadline_ms: u64,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Pending>,
    waiting: HashMap<String, oneshot::Sender<Answer>>,
    first_next: Option<Instant>,
    init_error: Option<Value>,
    seq: u64,
}

/// A running emulator. Dropping it stops the server.
pub struct RuntimeApi {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    ready: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RuntimeApi {
    /// Start on `127.0.0.1:0` in the current tokio runtime.
    pub async fn start() -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state: Arc<Mutex<State>> = Arc::default();
        let ready = Arc::new(Notify::new());
        let (s, r) = (state.clone(), ready.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (s, r) = (s.clone(), r.clone());
                tokio::spawn(async move {
                    let svc = service_fn(move |req| {
                        let (s, r) = (s.clone(), r.clone());
                        async move { Ok::<_, Infallible>(handle(&s, &r, req).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Ok(Self {
            addr,
            state,
            ready,
            task,
        })
    }

    /// The value for `AWS_LAMBDA_RUNTIME_API`.
    pub fn host_port(&self) -> String {
        self.addr.to_string()
    }

    /// When the runtime first asked for an invocation (the end of its cold start).
    pub fn first_poll(&self) -> Option<Instant> {
        self.state.lock().ok().and_then(|s| s.first_next)
    }

    /// An init error the runtime reported, if any.
    pub fn init_error(&self) -> Option<Value> {
        self.state.lock().ok().and_then(|s| s.init_error.clone())
    }

    /// Invoke the function with `event` and `timeout` (the function's
    /// configured timeout: the deadline it is told), and wait for its answer.
    pub async fn invoke(&self, event: Value, timeout: Duration) -> Answer {
        self.invoke_raw(serde_json::to_vec(&event).unwrap_or_default(), timeout)
            .await
    }

    /// [`RuntimeApi::invoke`] with the event's bytes exactly as given (a
    /// direct invocation whose spacing and key order must survive).
    pub async fn invoke_raw(&self, event: impl Into<Bytes>, timeout: Duration) -> Answer {
        let event = event.into();
        let (tx, rx) = oneshot::channel();
        {
            let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            s.seq += 1;
            let id = format!("req-{}", s.seq);
            let now_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0);
            s.waiting.insert(id.clone(), tx);
            s.queue.push_back(Pending {
                id,
                event,
                deadline_ms: now_ms + timeout.as_millis() as u64,
            });
        }
        self.ready.notify_one();
        rx.await
            .unwrap_or(Answer::Error(Value::String("the emulator stopped".into())))
    }
}

type Resp = Response<Full<Bytes>>;

fn status(code: StatusCode) -> Resp {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = code;
    r
}

async fn handle(state: &Arc<Mutex<State>>, ready: &Arc<Notify>, req: Request<Incoming>) -> Resp {
    let path = req.uri().path().to_string();
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (req.method().clone(), segs.as_slice()) {
        (Method::GET, ["2018-06-01", "runtime", "invocation", "next"]) => loop {
            let next = {
                let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
                s.first_next.get_or_insert_with(Instant::now);
                s.queue.pop_front()
            };
            if let Some(p) = next {
                let mut r = Response::new(Full::new(p.event));
                let h = r.headers_mut();
                let hv = |s: String| {
                    hyper::header::HeaderValue::from_str(&s)
                        .unwrap_or(hyper::header::HeaderValue::from_static("x"))
                };
                h.insert("lambda-runtime-aws-request-id", hv(p.id));
                h.insert("lambda-runtime-deadline-ms", hv(p.deadline_ms.to_string()));
                h.insert(
                    "lambda-runtime-invoked-function-arn",
                    hv("arn:aws:lambda:eu-west-1:123456789012:function:tvault-router".into()),
                );
                h.insert(
                    "lambda-runtime-trace-id",
                    hv("Root=1-00000000-000000000000000000000000".into()),
                );
                return r;
            }
            ready.notified().await;
        },
        (
            Method::POST,
            [
                "2018-06-01",
                "runtime",
                "invocation",
                id,
                kind @ ("response" | "error"),
            ],
        ) => {
            let id = id.to_string();
            let kind = *kind;
            let body = req
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let value: Value = serde_json::from_slice(&body)
                .unwrap_or(Value::String(String::from_utf8_lossy(&body).into()));
            let tx = state
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .waiting
                .remove(&id);
            match tx {
                Some(tx) => {
                    let _ = tx.send(if kind == "response" {
                        Answer::Response(value)
                    } else {
                        Answer::Error(value)
                    });
                    status(StatusCode::ACCEPTED)
                }
                None => status(StatusCode::BAD_REQUEST),
            }
        }
        (Method::POST, ["2018-06-01", "runtime", "init", "error"]) => {
            let body = req
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            state.lock().unwrap_or_else(|e| e.into_inner()).init_error =
                Some(serde_json::from_slice(&body).unwrap_or(Value::Null));
            status(StatusCode::ACCEPTED)
        }
        _ => status(StatusCode::NOT_FOUND),
    }
}
