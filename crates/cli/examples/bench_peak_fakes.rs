//! The outside world of `scripts/bench-peak` in one process: the fake
//! Genesys API serving N generated conversations, the fault proxy in front of
//! Azurite, and the queues in moto with the load on them. It prints one JSON
//! line (the URLs the workers need), writes what the end check must find to
//! `OUT/expected.json`, then samples the queue and the counters once a second
//! into `OUT/timeline.jsonl` until it is sent SIGTERM.
//!
//! ```text
//! bench_peak_fakes --n 200 --azurite http://127.0.0.1:PORT --account devstoreaccount1 \
//!     --out DIR [--send-over SECS] [--faults 0.2] [--seed 7]
//! ```
//! with `AWS_ENDPOINT_URL` (moto), `AWS_REGION` and test credentials set.
//!
//! The load (issue 16): 70 % web messaging, 20 % SMS/WhatsApp, 10 % legacy
//! chat; 5 to 40 messages each; 10 % with 1 to 3 attachments of 10 KiB to
//! 1 MiB (and, from N = 10,000, five of 100 MiB); a `customer.end` event for
//! each and an `acw` for every second one (duplicates by design); 0.5 %
//! poison records. Genesys: 300 requests per token and minute with
//! `inin-ratelimit-*` headers and 429 past them, the first 30 % of
//! recordings requests answered 202, a tenth of signed-URL requests refused
//! 403 (expired), one at a time. Azure: the share `--faults` of requests answered 503/429
//! (half each) and 2 % of answers dropped after forwarding.

// A benchmark binary, like a `main`: a panic is its error report.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::json;
use tvault_testkit::genesys::{FakeAttachment, FakeConversation, FakeGenesys, Fault, Route};
use tvault_testkit::pipeline;
use tvault_testkit::proxy::{FaultPlan, Proxy};

/// SplitMix64, seeded per conversation: the same N and seed give the same load.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [lo, hi].
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Which kind of conversation `i` is, by the issue's shares.
fn kind(rng: &mut Rng) -> &'static str {
    match rng.next() % 100 {
        0..70 => "WEBMESSAGING",
        70..80 => "SMS",
        80..90 => "WHATSAPP",
        _ => "CHAT",
    }
}

/// Conversation `i`, its attachments' (id, sha256, size), and its kind.
fn conversation(
    i: usize,
    seed: u64,
    big: bool,
) -> (FakeConversation, Vec<(String, String, u64)>, &'static str) {
    let id = format!("bp-{i:06}-{seed:x}");
    let mut rng = Rng(seed ^ (i as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let kind = kind(&mut rng);
    let mut c = if kind == "CHAT" {
        FakeConversation::chat_sample(&id)
    } else {
        FakeConversation::sample(&id, Vec::new(), Vec::new())
    };
    // SMS and WhatsApp are served without a messaging recording, so the
    // client takes the messages API path (FACTS.md: the fallback when the
    // recordings API has none); the fake writes `messengerType` webmessaging
    // for every messaging conversation.
    c.with_recording = !matches!(kind, "SMS" | "WHATSAPP");
    let template = c.messages.clone();
    let n_messages = rng.range(5, 40) as usize;
    let with_attachments = kind != "CHAT" && rng.next().is_multiple_of(10);
    let mut attachments = Vec::new();
    c.messages = (0..n_messages)
        .map(|m| {
            let mut msg = template[m % template.len()].clone();
            msg.id = format!("{id}-m{m:02}");
            // Minutes after the sample's start, in order, before its end.
            msg.timestamp = if kind == "CHAT" {
                format!("2026-09-21T15:{:02}:{:02}.000Z", 2 + m / 60, m % 60)
            } else {
                format!("2026-09-20T09:{:02}:{:02}.512Z", 14 + m / 60, m % 60)
            };
            msg.text = format!("message {m} of {id}: {}", rng.next());
            msg.attachments = Vec::new();
            msg
        })
        .collect();
    if with_attachments {
        let count = rng.range(1, 3) as usize;
        for a in 0..count {
            let len = if big && i.is_multiple_of(997) && a == 0 {
                100 << 20
            } else {
                rng.range(10 << 10, 1 << 20)
            };
            let aid = format!("{id}-a{a}");
            let mut att = FakeAttachment::generated(&aid, &format!("file-{a}.bin"), len);
            att.sha = tvault_testkit::genesys::Sha::Real;
            attachments.push((aid, tvault_testkit::genesys::generated_sha256(len), len));
            let m = (a * 3) % c.messages.len();
            c.messages[m].attachments.push(att);
        }
    }
    (c, attachments, kind)
}

/// An EventBridge envelope as the partner bus delivers it (the shape of
/// `fixtures/genesys/eventbridge_customer_end__webmessaging.json`).
fn event(id: &str, suffix: &str, conv: &str, kind: &str) -> String {
    let media = if kind == "CHAT" { "CHAT" } else { "MESSAGE" };
    json!({
        "version": "0",
        "id": id,
        "detail-type": format!("v2.detail.events.conversation.{{id}}.{suffix}"),
        "source": "aws.partner/genesys.com/cloud/6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d/bench-peak",
        "account": "123456789012",
        "time": "2026-09-20T09:31:40Z",
        "region": pipeline::REGION,
        "resources": [],
        "detail": {
            "topicName": format!("v2.detail.events.conversation.{conv}.{suffix}"),
            "version": "2",
            "eventBody": {"eventTime": 1_789_896_700_123u64, "conversationId": conv,
                          "mediaType": media, "messageType": kind},
            "metadata": {"CorrelationId": "00000000-0000-4000-8000-000000000000"},
            "timestamp": "2026-09-20T09:31:40.412Z"
        }
    })
    .to_string()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = arg(&args, "--n")
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let seed: u64 = arg(&args, "--seed")
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
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
    let mut expected_attachments = BTreeMap::new();
    let mut kinds: BTreeMap<String, &str> = BTreeMap::new();
    let mut attachment_count = 0usize;
    for i in 0..n {
        let (c, atts, kind) = conversation(i, seed, n >= 10_000);
        attachment_count += atts.len();
        kinds.insert(c.id.clone(), kind);
        if !atts.is_empty() {
            expected_attachments.insert(c.id.clone(), atts);
        }
        fake.add(c);
    }
    let recordings_202 = (n * 3).div_ceil(10);
    fake.script(Route::Recordings, vec![Fault::Status(202); recordings_202]);
    let _ = attachment_count;

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

    let mut bodies: Vec<(String, String)> = Vec::new();
    for (i, (conv, kind)) in kinds.iter().enumerate() {
        bodies.push((
            conv.clone(),
            event(&format!("end-{i}"), "customer.end", conv, kind),
        ));
        if i % 2 == 0 {
            bodies.push((conv.clone(), event(&format!("acw-{i}"), "acw", conv, kind)));
        }
    }
    let poison_n = (n * 5).div_ceil(1000);
    let bad = [
        "this is not JSON".to_string(),
        r#"{"detail":{"conversationId":"../../etc/passwd","messages":[]}}"#.to_string(),
        r#"{"detail": {"conversationId": "trunc"#.to_string(),
    ];
    let poison: Vec<String> = (0..poison_n)
        .map(|p| format!("{} #{p}", bad[p % bad.len()]))
        .collect();
    // Poison spread through the load, so bad records share batches with good ones.
    for (p, body) in poison.iter().enumerate() {
        let at = (p * 7919) % (bodies.len() + 1);
        bodies.insert(at, (String::new(), body.clone()));
    }

    let expected = json!({
        "n": n,
        "seed": seed,
        "conversations": kinds,
        "attachments": expected_attachments,
        "poison": poison,
        "events": bodies.len(),
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
    let mut expired = 0u64;
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
            // Expiring signed URLs: a tenth of signed-URL requests refused 403
            // (what an expired one gets, docs/genesys.md), one at a time, so
            // the fresh URL the client asks for next is served: scripted all
            // at once, the refusals would meet the retries of one attachment.
            let signed = fake.count(Route::Signed);
            while expired < signed.div_ceil(10) {
                fake.script(Route::Signed, [Fault::Status(403)]);
                expired += 1;
            }
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
