//! Secrets never reach the logs, failing calls included; correlation ids do.

use std::io::Write;
use std::sync::{Arc, Mutex};

use tvault_core::ports::Deadline;
use tvault_testkit::genesys::{CLIENT_ID, CLIENT_SECRET, FakeGenesys, Fault, Route};

use crate::util::*;

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn client_secret_and_tokens_never_appear_in_logs_even_for_failing_calls() {
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let fake = FakeGenesys::start().await.unwrap();
    fake.add(sample(CONV));
    // A run through every failure path: 429, 5xx, a token that stops
    // working, an expired signed URL, a 404 from the downloads API.
    fake.script(
        Route::Recordings,
        [
            Fault::RetryAfter {
                status: 429,
                secs: 1,
            },
            Fault::Status(503),
        ],
    );
    fake.script(Route::Signed, [Fault::Status(403)]);
    fake.expire_tokens_after(2);
    let s = setup(source(&fake));
    let out = s
        .archiver
        .archive_raw(&customer_end(CONV), Deadline::NONE)
        .await;
    tracing::info!(outcome = ?out, "first run");
    // The 404 on its own run: scripted above, the 403's fresh URL would take it.
    let s404 = setup(source(&fake));
    fake.script(Route::DownloadUrl, [Fault::Status(404)]);
    let out404 = s404
        .archiver
        .archive_raw(&customer_end(CONV), Deadline::NONE)
        .await;
    tracing::info!(outcome = ?out404, "run with a 404");
    // And a refused secret, with its error logged the way a caller would.
    let bad = setup(source_with(
        &fake,
        fast(),
        &format!("{CLIENT_SECRET}-wrong"),
    ));
    let err = bad
        .archiver
        .archive_raw(&customer_end(CONV), Deadline::NONE)
        .await
        .unwrap_err();
    tracing::error!(error = %err, debug = ?err, "second run");
    tracing::info!(source = ?source(&fake), "the source's Debug");

    // Every path was taken: the fake answered each failure on its route...
    let answered: Vec<(Route, u16)> = fake
        .requests()
        .into_iter()
        .map(|(route, _, status)| (route, status))
        .collect();
    for (route, status, path) in [
        (Route::Recordings, 429, "throttled"),
        (Route::Recordings, 503, "server error"),
        (Route::Signed, 403, "expired signed URL"),
        (Route::DownloadUrl, 404, "unknown download"),
        (Route::Token, 401, "refused secret"),
    ] {
        assert!(
            answered.contains(&(route, status)),
            "the {path} path was not taken ({route:?} never answered {status}): {answered:?}"
        );
    }
    // ...the lapsed token was refused on an API route and a new one issued...
    assert!(
        answered
            .iter()
            .any(|&(r, s)| s == 401 && !matches!(r, Route::Token)),
        "no API call was refused for its token: {answered:?}"
    );
    let issued_ok = answered
        .iter()
        .filter(|&&(r, s)| r == Route::Token && s == 200)
        .count();
    assert!(issued_ok >= 3, "tokens renewed: {answered:?}");
    // ...each run ended the way that path ends: the 403 got a fresh URL and
    // the first run archived; the 404 made an attachment missing; the wrong
    // secret failed the record.
    assert!(
        matches!(out, Ok(tvault_core::Outcome::Archived(ref a)) if a.missing.is_empty()),
        "{out:?}"
    );
    assert!(
        matches!(out404, Ok(tvault_core::Outcome::Archived(ref a)) if a.missing.len() == 1),
        "{out404:?}"
    );
    assert_eq!(
        err.class(),
        tvault_core::ErrorClass::Permanent,
        "a refused secret: {err}"
    );

    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("fake-corr-"),
        "correlation ids are logged on failures:\n{text}"
    );
    assert!(text.contains("Genesys request failed"), "{text}");
    // ...and logged, each with its status.
    for status in [429, 503, 403, 404, 401] {
        assert!(
            text.contains(&format!("status={status}")),
            "no log line for the {status}:\n{text}"
        );
    }
    assert!(!text.contains(CLIENT_SECRET), "secret in logs:\n{text}");
    let basic = basic(&format!("{CLIENT_ID}:{CLIENT_SECRET}"));
    assert!(!text.contains(&basic), "basic credentials in logs");
    assert!(
        !text.contains("fake-token-"),
        "access token in logs:\n{text}"
    );
    assert!(
        !text.contains("Signature=sig"),
        "signed URL query in logs:\n{text}"
    );
}

fn basic(s: &str) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in s.as_bytes().chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..=c.len() {
            out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}
