//! What an operator reads from the running binary: the worker's `/metrics`,
//! `/healthz` and `/readyz` (`--metrics-addr`), and the log lines of
//! `--log-format json|text` (flat JSON objects; no colour codes off a
//! terminal).

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tvault_testkit::genesys::{CLIENT_ID, CLIENT_SECRET, FakeGenesys};
use tvault_testkit::panic::transcript_event;
use tvault_testkit::pipeline;

use crate::util;

/// A port free now on 127.0.0.1 (the worker binds it a moment later).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET path` over plain HTTP/1.1: the status and the body; `None` while
/// nothing listens.
async fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.ok()?;
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    Some((status, body.to_string()))
}

/// The value of the sample `series` (name and labels as written) in a
/// Prometheus text page.
fn sample(page: &str, series: &str) -> Option<f64> {
    page.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.parse().unwrap())
}

fn worker(
    endpoint: &str,
    fake: &FakeGenesys,
    queue_url: &str,
    vault: &std::path::Path,
    port: u16,
) -> tokio::process::Child {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_tvault"));
    cmd.arg("--vault")
        .arg(vault)
        .args(["worker", "--queue-url", queue_url, "--visibility", "2"])
        .args(["--metrics-addr", &format!("127.0.0.1:{port}")])
        .env_clear()
        .env("GENESYSCLOUD_OAUTHCLIENT_ID", CLIENT_ID)
        .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", CLIENT_SECRET)
        .env("GENESYSCLOUD_REGION", fake.base_url())
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true);
    for (k, v) in pipeline::aws_env(endpoint) {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap()
}

async fn wait_for<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = Instant::now() + Duration::from_secs(60);
    while !done().await {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_worker_serves_its_counters_health_and_readiness() {
    let Some((endpoint, config)) = pipeline::moto().await else {
        return;
    };
    let fake = FakeGenesys::start().await.unwrap();
    // Poison moves to the DLQ on its third receive: it is received (and
    // counted as invalid) twice.
    let q = pipeline::queues(&config, 2, 2).await;
    let archived = ["m1-8d3f4c1e", "m2-8d3f4c1e", "m3-8d3f4c1e"];
    for c in archived {
        q.source.send(&transcript_event(c)).await.unwrap();
    }
    q.source.send(&transcript_event(archived[0])).await.unwrap();
    q.source.send("this is not JSON").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = worker(
        &endpoint,
        &fake,
        q.source.url(),
        &dir.path().join("v"),
        port,
    );

    wait_for("/healthz", || async {
        get(port, "/healthz").await.map(|(s, _)| s) == Some(200)
    })
    .await;
    wait_for("the queue to drain", || async {
        q.source.depth().await.unwrap() == (0, 0) && q.dlq.depth().await.unwrap().0 == 1
    })
    .await;
    // The DLQ move happens on a receive after the record's last count; the
    // page must show everything once the counts settle.
    let end = Instant::now() + Duration::from_secs(30);
    let page = loop {
        let (status, page) = get(port, "/metrics").await.unwrap();
        assert_eq!(status, 200);
        if sample(&page, "tvault_time_to_archive_seconds_count") == Some(6.0) {
            break page;
        }
        assert!(Instant::now() < end, "not every record counted: {page}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let outcome = |o: &str| sample(&page, &format!("tvault_records_total{{outcome=\"{o}\"}}"));
    assert_eq!(outcome("archived"), Some(3.0), "{page}");
    assert_eq!(outcome("already_in_vault"), Some(1.0), "{page}");
    assert_eq!(outcome("invalid"), Some(2.0), "{page}");
    for zero in ["skipped", "not_ready", "transient", "permanent"] {
        assert_eq!(outcome(zero), Some(0.0), "{zero} announced at zero: {page}");
    }
    assert!(
        sample(&page, "tvault_bytes_written_total").unwrap() > 0.0,
        "{page}"
    );
    assert_eq!(sample(&page, "tvault_attachments_missing_total"), Some(0.0));
    assert_eq!(sample(&page, "tvault_genesys_retries_total"), Some(0.0));
    // Archived and already in vault have an age (SQS's sent time); failures do not.
    assert_eq!(
        sample(&page, "tvault_record_age_seconds_count"),
        Some(4.0),
        "{page}"
    );
    assert_eq!(
        sample(&page, "tvault_record_age_seconds_bucket{le=\"+Inf\"}"),
        Some(4.0)
    );
    assert!(
        page.contains("# TYPE tvault_records_total counter\n"),
        "{page}"
    );

    let (status, body) = get(port, "/readyz").await.unwrap();
    assert_eq!((status, body.as_str()), (200, "ready\n"));
    assert_eq!(get(port, "/nothing").await.unwrap().0, 404);

    child.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_whose_queue_is_gone_is_alive_but_not_ready() {
    let Some((endpoint, _config)) = pipeline::moto().await else {
        return;
    };
    let fake = FakeGenesys::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("{endpoint}/123456789012/no-such-queue");
    let mut child = worker(&endpoint, &fake, &url, &dir.path().join("v"), port);
    wait_for("/healthz", || async {
        get(port, "/healthz").await.map(|(s, _)| s) == Some(200)
    })
    .await;
    let (status, body) = get(port, "/readyz").await.unwrap();
    assert_eq!(status, 503, "{body}");
    assert!(body.starts_with("not ready: "), "{body}");
    assert!(body.contains("queue"), "names what failed: {body}");
    child.kill().await.unwrap();
}

#[test]
fn log_format_json_writes_flat_objects_before_or_after_the_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("event.json");
    std::fs::write(&input, transcript_event("logfmt-8d3f4c1e")).unwrap();
    let vault = dir.path().join("v");
    let file = input.to_str().unwrap();
    for args in [
        vec!["--log-format", "json", "-v", "archive", file],
        vec!["-v", "archive", file, "--log-format", "json"],
    ] {
        let out = util::tvault(&vault, &args);
        assert_eq!(out.status.code(), Some(0), "{}", util::stderr(&out));
        let err = util::stderr(&out);
        let lines: Vec<serde_json::Value> = err
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect();
        let line = lines
            .iter()
            .find(|v| v["message"] == "archived" || v["message"] == "already in vault")
            .unwrap_or_else(|| panic!("{err}"));
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["conversation_id"], "logfmt-8d3f4c1e");
        assert!(line["timestamp"].is_string(), "{line}");
    }
}

#[test]
fn text_logs_have_no_colour_codes_off_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("event.json");
    std::fs::write(&input, transcript_event("nocolour-8d3f4c1e")).unwrap();
    let out = util::tvault(
        dir.path().join("v"),
        &["-v", "archive", input.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", util::stderr(&out));
    let err = util::stderr(&out);
    assert!(err.contains("archived"), "{err}");
    assert!(!err.contains('\u{1b}'), "{err:?}");
}

#[test]
fn an_unknown_log_format_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = util::tvault(dir.path().join("v"), &["--log-format", "xml", "verify"]);
    assert_eq!(out.status.code(), Some(2), "{}", util::stderr(&out));
    assert!(util::stderr(&out).contains("xml"));
}
