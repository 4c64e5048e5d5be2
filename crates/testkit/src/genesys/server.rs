//! The fake's HTTP server: one hyper http1 connection task per client
//! connection, and a plain `match` for routing.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::StreamExt;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, LOCATION, REFERER};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use super::model::{Body, FakeAttachment, FakeConversation, Fault, Media, Route, generated_chunk};
use super::permissions;
use super::ratelimit::{Window, rate_window};
use super::refusals::{recordings_format, wait_if_held, wants_url_json};
use super::routes::route_of;
use super::{CLIENT_ID, CLIENT_SECRET, State, analytics, fnv1a, shapes};

pub(crate) type Resp = Response<UnsyncBoxBody<Bytes, std::io::Error>>;

/// The origins the fake writes into the URLs it hands out.
#[derive(Clone)]
pub(crate) struct Bases {
    /// The API listener's: transcripts' attachment URLs, `selfUri`s.
    pub api: String,
    /// The other listener's: signed URLs.
    pub signed: String,
}

/// Which of the two listeners a connection came in on.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Listener {
    /// The Genesys API host (`GENESYSCLOUD_REGION`).
    Api,
    /// Another host: signed URLs, third-party attachments, redirect targets.
    Other,
}

pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<Mutex<State>>,
    bases: Bases,
    which: Listener,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let state = state.clone();
        let bases = bases.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let state = state.clone();
                let bases = bases.clone();
                async move { Ok::<_, Infallible>(handle(&state, &bases, which, req).await) }
            });
            // A client that hangs up mid-body (or a truncated body we serve on
            // purpose) ends the connection with an error; nothing to report.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

async fn handle(
    state: &Mutex<State>,
    bases: &Bases,
    which: Listener,
    req: Request<Incoming>,
) -> Resp {
    let route = route_of(
        req.method(),
        &req.uri()
            .path()
            .trim_matches('/')
            .split('/')
            .collect::<Vec<_>>(),
    );
    let referer = req
        .headers()
        .get(REFERER)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let resp = respond(state, bases, which, req).await;
    let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
    st.log
        .push((route, tokio::time::Instant::now(), resp.status().as_u16()));
    st.referers.extend(referer);
    resp
}

async fn respond(
    state: &Mutex<State>,
    bases: &Bases,
    which: Listener,
    req: Request<Incoming>,
) -> Resp {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let path = parts.uri.path().to_string();
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let route = route_of(&parts.method, &segs);
    let auth = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    {
        let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
        *st.counts.entry(route).or_default() += 1;
    }
    wait_if_held(state, route).await;
    let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
    st.correlation += 1;
    let corr = format!("fake-corr-{}", st.correlation);
    let fault = st
        .faults
        .get_mut(&route)
        .and_then(|q| (!q.is_empty()).then(|| q.remove(0)));
    let mut truncate = None;
    let mut spent = None;
    match fault {
        Some(Fault::Status(202)) => {
            return with_corr(raw(202, Bytes::new(), "application/json"), &corr);
        }
        Some(Fault::Status(s)) => {
            return with_corr(
                json_resp(
                    s,
                    shapes::error(s, "scripted.fault", "scripted by the test", &corr),
                ),
                &corr,
            );
        }
        Some(Fault::RetryAfter { status, secs }) => {
            let msg =
                format!("Rate limit exceeded the maximum. Retry the request in [{secs}] seconds");
            let mut r = json_resp(
                status,
                shapes::error(status, "too.many.requests.retry.after", &msg, &corr),
            );
            r.headers_mut()
                .insert("retry-after", HeaderValue::from(secs));
            return with_corr(r, &corr);
        }
        Some(Fault::RetryAfterRaw { status, value }) => {
            let mut r = json_resp(
                status,
                shapes::error(
                    status,
                    "too.many.requests.retry.after",
                    "Rate limit exceeded",
                    &corr,
                ),
            );
            if let Ok(v) = HeaderValue::from_str(&value) {
                r.headers_mut().insert("retry-after", v);
            }
            return with_corr(r, &corr);
        }
        Some(Fault::Redirect { location }) => {
            let mut r = raw(302, Bytes::new(), "text/plain");
            if let Ok(v) = HeaderValue::from_str(&location) {
                r.headers_mut().insert(LOCATION, v);
            }
            return with_corr(r, &corr);
        }
        Some(Fault::TooManyRequests) => {
            return with_corr(
                json_resp(
                    429,
                    shapes::error(429, "too.many.requests", "Rate limit exceeded", &corr),
                ),
                &corr,
            );
        }
        Some(Fault::Truncate { keep }) => truncate = Some(keep),
        Some(Fault::WindowSpent { reset }) => spent = Some(reset),
        None => {}
    }
    let resp = match route {
        Route::Token => token(&mut st, auth.as_deref(), &body),
        // Genesys's API host serves no signed URL: they point at a storage
        // host, here the other listener.
        Route::Signed if which == Listener::Api => json_resp(
            404,
            shapes::error(
                404,
                "not.found",
                "signed URLs are served by another host",
                &corr,
            ),
        ),
        Route::Signed | Route::Cdn => {
            if auth.is_some() {
                st.credentials_on_anonymous += 1;
                json_resp(400, json!({"error": "credentials sent to a signed URL"}))
            } else {
                serve_attachment(&st, segs[1], route, parts.uri.query(), truncate)
            }
        }
        Route::Unknown => json_resp(404, shapes::error(404, "not.found", "no such route", &corr)),
        _ => match bearer_ok(&mut st, auth.as_deref()) {
            false => json_resp(
                401,
                shapes::error(401, "bad.credentials", "Invalid login credentials.", &corr),
            ),
            true => {
                let window = match spent {
                    Some(reset) => {
                        let allowed = st.ratelimit_allowed.unwrap_or(300);
                        Some(Window {
                            allowed,
                            count: allowed,
                            reset,
                        })
                    }
                    None => rate_window(&mut st, auth.as_deref()),
                };
                match window {
                    Some(w) if w.count > w.allowed => {
                        // `fixtures/genesys/http_429_response.json`: Retry-After
                        // and the reset agree; the count is past the allowance.
                        let mut r = json_resp(
                            429,
                            shapes::error(429, "too.many.requests", "Rate limit exceeded", &corr),
                        );
                        r.headers_mut()
                            .insert("retry-after", HeaderValue::from(w.reset));
                        w.stamp(r)
                    }
                    Some(w) => w.stamp(api(
                        &mut st,
                        bases,
                        route,
                        &segs,
                        parts.uri.query(),
                        &body,
                        &corr,
                    )),
                    None => api(
                        &mut st,
                        bases,
                        route,
                        &segs,
                        parts.uri.query(),
                        &body,
                        &corr,
                    ),
                }
            }
        },
    };
    with_corr(resp, &corr)
}

fn token(st: &mut State, auth: Option<&str>, body: &[u8]) -> Resp {
    let expected = format!(
        "Basic {}",
        base64(format!("{CLIENT_ID}:{CLIENT_SECRET}").as_bytes())
    );
    if auth != Some(expected.as_str()) || body != b"grant_type=client_credentials" {
        return json_resp(
            401,
            json!({"error": "invalid_client", "description": "client not found or secret wrong"}),
        );
    }
    st.tokens_issued += 1;
    let value = format!("fake-token-{}-{}", st.tokens_issued, st.correlation);
    st.tokens.insert(value.clone(), st.token_uses);
    // `fixtures/genesys/oauth_token_response.json`, with `expires_in` as raw
    // JSON so a test can send any number (the SDK's `AuthResponse` reads an int).
    let body = format!(
        r#"{{"access_token":{},"token_type":"bearer","expires_in":{}}}"#,
        json!(value),
        st.token_expires_in
    );
    raw(200, Bytes::from(body), "application/json")
}

fn bearer_ok(st: &mut State, auth: Option<&str>) -> bool {
    let Some(token) = auth.and_then(|a| a.strip_prefix("Bearer ")) else {
        return false;
    };
    match st.tokens.get_mut(token) {
        Some(Some(0)) | None => false,
        Some(Some(n)) => {
            *n -= 1;
            true
        }
        Some(None) => true,
    }
}

fn api(
    st: &mut State,
    bases: &Bases,
    route: Route,
    segs: &[&str],
    query: Option<&str>,
    body: &[u8],
    corr: &str,
) -> Resp {
    let base = bases.api.as_str();
    if let Some(v) = permissions::refusal(st, route, corr) {
        return json_resp(403, v);
    }
    if let Some((status, v)) = analytics::handle(st, route, segs, query, body, corr) {
        return json_resp(status, v);
    }
    let not_found = || {
        json_resp(
            404,
            shapes::error(
                404,
                "not.found",
                "The requested resource was not found.",
                corr,
            ),
        )
    };
    if route == Route::DownloadUrl {
        let id = segs[3];
        return match find_attachment(st, id) {
            Some(a) if !a.gone => {
                st.signed_issued += 1;
                let first = st.signed_for.insert(id.to_string());
                if first
                    && st
                        .expire_one_in
                        .is_some_and(|k| fnv1a(id).is_multiple_of(k))
                {
                    let serial = st.signed_issued;
                    st.expired.insert(serial);
                }
                let url = format!(
                    "{}/signed/{id}?Expires=1789900000&Signature=sig{}&Key-Pair-Id=KFAKE",
                    bases.signed, st.signed_issued
                );
                if wants_url_json(query) {
                    json_resp(200, json!({"url": url}))
                } else {
                    // `issueRedirect` defaults to true (`refusals`).
                    let mut r = raw(303, Bytes::new(), "text/plain");
                    if let Ok(v) = HeaderValue::from_str(&url) {
                        r.headers_mut().insert(LOCATION, v);
                    }
                    r
                }
            }
            _ => not_found(),
        };
    }
    let conv_id = if route == Route::Recordings {
        segs[3]
    } else {
        segs[4]
    };
    // A recording still being made answers 202 (`not_ready_first`).
    if route == Route::Recordings
        && let Some(c) = st.conversations.get_mut(conv_id)
        && c.not_ready_first > 0
    {
        c.not_ready_first -= 1;
        return raw(202, Bytes::new(), "application/json");
    }
    let Some(c) = st.conversations.get(conv_id) else {
        return not_found();
    };
    // A chat is not a message conversation: the messages API answers 404
    // for it (FACTS.md, "Legacy chat").
    if c.media == Media::Chat && route != Route::Recordings {
        return not_found();
    }
    match route {
        // Without `formatId=NONE`, media to transcode: not ready (`refusals`).
        Route::Recordings if !recordings_format(query) => {
            raw(202, Bytes::new(), "application/json")
        }
        Route::Recordings => json_resp(200, shapes::recordings(base, c)),
        Route::Conversation => json_resp(200, shapes::conversation(c)),
        Route::Bulk => {
            let ids: Vec<String> = serde_json::from_slice(body).unwrap_or_default();
            // "a JSON array of up to 1,000 message ids" (FACTS.md, "Getting the transcript").
            if ids.len() > 1000 {
                return json_resp(
                    400,
                    shapes::error(400, "bad.request", "at most 1000 ids", corr),
                );
            }
            let entities: Vec<Value> = c
                .messages
                .iter()
                .filter(|m| ids.contains(&m.id))
                .map(|m| shapes::message(base, c, m))
                .collect();
            json_resp(200, json!({"entities": entities}))
        }
        Route::Message => match c.messages.iter().find(|m| m.id == segs[6]) {
            Some(m) => json_resp(200, shapes::message(base, c, m)),
            None => not_found(),
        },
        _ => not_found(),
    }
}

fn find_attachment<'a>(st: &'a State, download_id: &str) -> Option<&'a FakeAttachment> {
    let indexed = st
        .downloads
        .get(download_id)
        .and_then(|conv| st.conversations.get(conv))
        .into_iter()
        .flat_map(|c| c.messages.iter().flat_map(|m| &m.attachments))
        .find(|a| a.download_id == download_id);
    if indexed.is_some() {
        return indexed;
    }
    // A conversation changed in place since it was added.
    st.conversations
        .values()
        .flat_map(|c: &FakeConversation| c.messages.iter().flat_map(|m| &m.attachments))
        .find(|a| a.download_id == download_id)
}

fn serve_attachment(
    st: &State,
    id: &str,
    route: Route,
    query: Option<&str>,
    truncate: Option<u64>,
) -> Resp {
    let a = match find_attachment(st, id) {
        Some(a) if !a.gone && (route == Route::Cdn) == a.third_party => a,
        _ => return json_resp(404, json!({"error": "not found"})),
    };
    if route == Route::Signed && !query.is_some_and(|q| q.contains("Signature=")) {
        return json_resp(403, json!({"error": "missing signature"}));
    }
    let serial = query
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("Signature=sig")))
        .and_then(|n| n.parse::<u64>().ok());
    if route == Route::Signed && serial.is_some_and(|n| st.expired.contains(&n)) {
        return json_resp(403, json!({"error": "Request has expired"}));
    }
    let full = a.body.len();
    let send = truncate.map_or(full, |k| k.min(full));
    let stream: futures::stream::BoxStream<'static, Bytes> = match &a.body {
        Body::Bytes(b) => futures::stream::iter(vec![b.slice(..send as usize)]).boxed(),
        Body::Generated { .. } => {
            let chunk = generated_chunk();
            let size = chunk.len() as u64;
            futures::stream::unfold(0u64, move |sent| {
                let chunk = chunk.clone();
                async move {
                    (sent < send).then(|| {
                        let n = (send - sent).min(size);
                        (chunk.slice(..n as usize), sent + n)
                    })
                }
            })
            .boxed()
        }
    };
    // A streamed body has no exact size hint, so hyper sends the declared
    // Content-Length and, when the stream ends early, cuts the connection:
    // exactly what a truncated download looks like to a client. hyper sends
    // nothing at all if the body ends before its buffer was flushed, so a
    // truncated body pauses first, letting the headers and the bytes go out.
    let stream = if send < full {
        let pause = futures::stream::once(async {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        })
        .filter_map(|()| async { None });
        stream.chain(pause).boxed()
    } else {
        stream
    };
    let body = StreamBody::new(stream.map(|b| Ok::<_, std::io::Error>(Frame::data(b))));
    let mut r = Response::new(BodyExt::boxed_unsync(body));
    r.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(full));
    if let Ok(ct) = HeaderValue::from_str(&a.mime) {
        r.headers_mut().insert(CONTENT_TYPE, ct);
    }
    r
}

fn raw(status: u16, body: Bytes, content_type: &'static str) -> Resp {
    let mut r = Response::new(
        Full::new(body)
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn json_resp(status: u16, v: Value) -> Resp {
    raw(status, Bytes::from(v.to_string()), "application/json")
}

fn with_corr(mut r: Resp, corr: &str) -> Resp {
    if let Ok(v) = HeaderValue::from_str(corr) {
        r.headers_mut().insert("ININ-Correlation-Id", v);
    }
    r
}

pub(crate) fn base64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in input.chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_rfc4648_vectors() {
        assert_eq!(super::base64(b"f"), "Zg==");
        assert_eq!(super::base64(b"fo"), "Zm8=");
        assert_eq!(super::base64(b"foo"), "Zm9v");
        assert_eq!(super::base64(b"foobar"), "Zm9vYmFy");
    }
}
