//! The outside world of `scripts/bench-peak` in one process: the fake
//! Genesys API serving N generated conversations, the fault proxy in front of
//! Azurite, and the queues in moto with the load on them. It prints one JSON
//! line (the URLs the workers need), writes what the end check must find to
//! `OUT/expected.json`, then samples the queue and the counters once a second
//! into `OUT/timeline.jsonl` until it is sent SIGTERM.
//!
//! ```text
//! bench_peak_fakes --n 200 --azurite http://127.0.0.1:PORT --out DIR \
//!     [--send-over SECS] [--faults 0.2] [--visibility 30]
//! ```
//! with `AWS_ENDPOINT_URL` (moto), `AWS_REGION` and test credentials set.
//!
//! The load is `tvault_testkit::peak` at [`peak::Spec::bench`], the
//! generator the 2,000-conversation test of `scripts/test` draws from
//! (issue 16's mix; five 100 MiB attachments from N = 10,000; 30 % of
//! recordings answering 202 on the first request). Genesys: 300 requests
//! per token and minute with `inin-ratelimit-*` headers and 429 past them;
//! the first signed URL of a tenth of the downloads expired (403; the fresh
//! one the client resolves next is served). Azure: the share `--faults` of
//! requests answered 503/429 (half each) and 2 % of answers dropped after
//! forwarding.

// A benchmark binary, like a `main`: a panic is its error report.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod bench_peak_args;

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

use bench_peak_args::{arg, now_ms};
use serde_json::json;
use tvault_testkit::genesys::{FakeGenesys, Route};
use tvault_testkit::peak;
use tvault_testkit::pipeline;
use tvault_testkit::proxy::{FaultPlan, Proxy};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = arg(&args, "--n")
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let faults: f64 = arg(&args, "--faults")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.2);
    let send_over: u64 = arg(&args, "--send-over")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let azurite = arg(&args, "--azurite").expect("--azurite http://127.0.0.1:PORT");
    let out = std::path::PathBuf::from(arg(&args, "--out").expect("--out DIR"));
    std::fs::create_dir_all(&out).expect("out dir");

    let fake = FakeGenesys::start().await.expect("fake Genesys");
    // Genesys's default allowance per token (FACTS.md, "Rate limits").
    fake.set_rate_limit_allowed(Some(300));
    let spec = peak::Spec::bench(n);
    let load = peak::generate(&fake, &spec);
    fake.expire_first_signed_urls(10);

    let half = faults / 2.0;
    let proxy = Proxy::start(
        &azurite,
        FaultPlan {
            throttle_503: half,
            throttle_429: half,
            drop_after: if faults > 0.0 { 0.02 } else { 0.0 },
            retry_after: Some(Duration::from_secs(1)),
            ..FaultPlan::default()
        },
    )
    .await
    .expect("fault proxy");

    let config = tvault_aws::sdk_config().await;
    let visibility: u32 = arg(&args, "--visibility")
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let queues = pipeline::queues(&config, 5, visibility).await;

    // Each body with its conversation (none for poison), for `sent.jsonl`;
    // per conversation its kind and how many lifecycle events announce it,
    // for the fewest Genesys requests the end check works out.
    let mut per_conversation: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    let bodies: Vec<(String, String)> = load
        .bodies
        .iter()
        .map(|b| {
            if load.poison.contains(b) {
                return (String::new(), b.clone());
            }
            let v: serde_json::Value = serde_json::from_str(b).expect("a generated event is JSON");
            let body = &v["detail"]["eventBody"];
            let conv = body["conversationId"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let kind = body["messageType"]
                .as_str()
                .or(body["mediaType"].as_str())
                .unwrap_or("?");
            let entry = per_conversation
                .entry(conv.clone())
                .or_insert_with(|| json!({"kind": kind, "events": 0}));
            entry["events"] = json!(entry["events"].as_u64().unwrap_or(0) + 1);
            (conv, b.clone())
        })
        .collect();
    let mut attachments: BTreeMap<&str, Vec<(&str, &str, u64)>> = BTreeMap::new();
    for ((conv, id), (sha, len)) in &load.attachments {
        attachments.entry(conv).or_default().push((id, sha, *len));
    }
    let (from, to) = spec.days();
    let expected = json!({
        "n": n,
        "conversations": per_conversation,
        "kinds": {"webmessaging": load.kinds[0], "sms_whatsapp": load.kinds[1], "chat": load.kinds[2]},
        "attachments": attachments,
        "poison": load.poison,
        "events": bodies.len(),
        "reconcile_from": from.to_string(),
        "reconcile_to": to.to_string(),
        "genesys_minimum_per_conversation": "token once per worker; recordings (or recordings + messages for SMS/WhatsApp); per attachment a download URL and the signed URL",
    });
    std::fs::write(out.join("expected.json"), expected.to_string()).expect("expected.json");
    println!(
        "{}",
        json!({
            "genesys": fake.base_url(),
            "proxy": proxy.url(),
            "queue": queues.source.url(),
            "dlq": queues.dlq.url(),
        })
    );
    std::io::stdout().flush().ok();

    // The load, then the samples. Sent times are the conversations' "end"
    // for time-to-vault.
    let sent_path = out.join("sent.jsonl");
    let started = Instant::now();
    let pace = (send_over > 0).then(|| Duration::from_secs(send_over) / bodies.len().max(1) as u32);
    let total = bodies.len();
    let mut sent = std::fs::File::create(&sent_path).expect("sent.jsonl");
    let mut timeline = std::fs::File::create(out.join("timeline.jsonl")).expect("timeline");
    let mut next_sample = Instant::now();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    let mut i = 0;
    loop {
        if i < total {
            let (conv, body) = &bodies[i];
            queues.source.send(body).await.expect("send");
            writeln!(sent, "{}", json!({"conversation": conv, "ms": now_ms()})).ok();
            i += 1;
            if let Some(p) = pace {
                let due = started + p * i as u32;
                tokio::time::sleep_until(due.into()).await;
            }
        }
        if Instant::now() >= next_sample || i >= total {
            next_sample += Duration::from_secs(1);
            let (visible, in_flight) = queues.source.depth().await.unwrap_or((0, 0));
            let (dlq, _) = queues.dlq.depth().await.unwrap_or((0, 0));
            let p = proxy.counts();
            let mut genesys = BTreeMap::new();
            for (name, route) in [
                ("token", Route::Token),
                ("recordings", Route::Recordings),
                ("conversation", Route::Conversation),
                ("bulk", Route::Bulk),
                ("message", Route::Message),
                ("download_url", Route::DownloadUrl),
                ("signed", Route::Signed),
                ("analytics", Route::AnalyticsQuery),
            ] {
                genesys.insert(name, fake.count(route));
            }
            let throttled_429 = fake.requests().iter().filter(|r| r.2 == 429).count();
            writeln!(
                timeline,
                "{}",
                json!({"ms": now_ms(), "sent": i, "visible": visible, "in_flight": in_flight,
                       "dlq": dlq, "azure": {"requests": p.requests, "forwarded": p.forwarded,
                       "throttled_503": p.throttled_503, "throttled_429": p.throttled_429,
                       "dropped_after": p.dropped_after},
                       "genesys": genesys, "genesys_429": throttled_429})
            )
            .ok();
            timeline.flush().ok();
        }
        if i >= total {
            tokio::select! {
                _ = term.recv() => break,
                _ = tokio::time::sleep_until(next_sample.into()) => {}
            }
        }
    }
}
