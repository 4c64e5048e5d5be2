//! A peak day's load, generated deterministically: conversations registered
//! in the fake Genesys API, the lifecycle events the EventBridge rule would
//! deliver for them (duplicates included), a share of poison, and what must be
//! in the vault afterwards. The 2,000-conversation test of `scripts/test` and
//! `scripts/bench-peak` (issue 16) draw from it.
//!
//! The mix follows issue 16: 70% web messaging, 20% SMS or WhatsApp, 10%
//! legacy chat; 5-40 messages each; 10% of the messaging conversations with
//! 1-3 attachments; a `customer.end` for every conversation and an `acw` for
//! half of them (the same conversation announced twice, as Genesys does when
//! an agent wraps up: `fixtures/genesys/eventbridge_acw__webmessaging.json`);
//! 0.5% poison. Event bodies follow the `customer.end` and `acw` fixtures;
//! the conversations follow [`FakeConversation::sample`] and
//! [`FakeConversation::chat_sample`], which follow the recordings fixtures.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::genesys::model::{AGENT_PARTICIPANT, CUSTOMER_PARTICIPANT};
use crate::genesys::{
    Body, CHAT_AGENT_COMMUNICATION, CHAT_CUSTOMER_COMMUNICATION, FakeAttachment, FakeConversation,
    FakeGenesys, FakeMessage, Media, generated_sha256,
};

/// The region named in the envelopes (the tests' moto region).
pub const REGION: &str = "eu-west-1";

/// What to generate.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Conversations.
    pub conversations: usize,
    /// Attachment sizes, smallest and largest (bytes). Bodies up to 64 KiB
    /// are distinct per attachment; larger ones are generated on the fly by
    /// the fake (the same repeating pattern, never held in memory).
    pub attachment_bytes: (u64, u64),
    /// How many of the attachments are `huge_bytes` long instead (issue 16:
    /// five of 100 MiB in the full run).
    pub huge: usize,
    pub huge_bytes: u64,
    /// Poison messages per thousand events (issue 16: 5, that is 0.5%).
    pub poison_per_mille: usize,
    /// Conversations in ten whose recordings answer 202 on the first request
    /// (issue 16: 3): the transcript is still being made (FACTS.md).
    pub not_ready_per_10: u64,
    /// Serve SMS and WhatsApp without a messaging recording, so the client
    /// takes the messages API path (FACTS.md: the fallback when the
    /// recordings API has none) and the run exercises both.
    pub sms_by_messages_api: bool,
    /// Milliseconds between one conversation's start and the next (the
    /// day or days the load covers, and so what `reconcile` must list).
    pub spacing_ms: i64,
}

impl Spec {
    /// `n` conversations with small attachments (1-16 KiB) and no huge one:
    /// what a test can afford on every run.
    pub fn small(n: usize) -> Self {
        Self {
            conversations: n,
            attachment_bytes: (1024, 16 * 1024),
            huge: 0,
            huge_bytes: 0,
            poison_per_mille: 5,
            not_ready_per_10: 0,
            sms_by_messages_api: false,
            spacing_ms: 7_000,
        }
    }

    /// The benchmark's load (issue 16): attachments of 10 KiB to 1 MiB and,
    /// from 10,000 conversations, five of 100 MiB; 30% of recordings not
    /// ready at first; SMS and WhatsApp through the messages API; the
    /// conversations spread over four hours.
    pub fn bench(n: usize) -> Self {
        Self {
            conversations: n,
            attachment_bytes: (10 * 1024, 1024 * 1024),
            huge: if n >= 10_000 { 5 } else { 0 },
            huge_bytes: 100 * 1024 * 1024,
            poison_per_mille: 5,
            not_ready_per_10: 3,
            sms_by_messages_api: true,
            spacing_ms: (4 * 3600 * 1000 / n.max(1) as i64).max(1),
        }
    }

    /// The first and the last UTC day the conversations start on (both
    /// included, as `tvault reconcile --from --to` takes them).
    pub fn days(&self) -> (chrono::NaiveDate, chrono::NaiveDate) {
        let first = origin();
        let n = self.conversations.saturating_sub(1) as i64;
        let last = first + Duration::milliseconds(self.spacing_ms.saturating_mul(n));
        (first.date_naive(), last.date_naive())
    }
}

/// When the first conversation starts: Black Friday 2026, 08:00 UTC.
fn origin() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-27T08:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

/// The generated load and what it must leave behind.
#[derive(Debug, Clone, Default)]
pub struct Load {
    /// Every message body to put on the queue, in a deterministic mixed order.
    pub bodies: Vec<String>,
    /// The valid event bodies (each must be kept, byte for byte, under its
    /// conversation's `source/`).
    pub events: BTreeSet<String>,
    /// Every conversation that must be in the vault, exactly once.
    pub conversations: BTreeSet<String>,
    /// Every attachment: (conversation, attachment id) → (SHA-256, size).
    pub attachments: BTreeMap<(String, String), (String, u64)>,
    /// The bodies that must end in the dead-letter queue, sorted.
    pub poison: Vec<String>,
    /// Conversations per kind: web messaging, SMS or WhatsApp, legacy chat.
    pub kinds: [usize; 3],
}

/// splitmix64: a deterministic stream without a dependency.
fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A number in `lo..=hi` drawn for (`i`, `salt`).
fn draw(i: usize, salt: u64, lo: u64, hi: u64) -> u64 {
    lo + mix64(((i as u64) << 8) ^ salt) % (hi - lo + 1)
}

/// An EventBridge envelope around a Genesys event body, as the partner bus
/// delivers it (`fixtures/genesys/eventbridge_customer_end__webmessaging.json`).
pub fn envelope(id: &str, topic_suffix: &str, conv: &str, body: serde_json::Value) -> String {
    json!({
        "version": "0",
        "id": id,
        "detail-type": format!("v2.detail.events.conversation.{{id}}.{topic_suffix}"),
        "source": "aws.partner/genesys.com/cloud/6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d/tvault-e2e",
        "account": "123456789012",
        "time": "2026-09-20T09:31:40Z",
        "region": REGION,
        "resources": [],
        "detail": {
            "topicName": format!("v2.detail.events.conversation.{conv}.{topic_suffix}"),
            "version": "2",
            "eventBody": body,
            "metadata": {"CorrelationId": "00000000-0000-4000-8000-000000000000"},
            "timestamp": "2026-09-20T09:31:40.412Z"
        }
    })
    .to_string()
}

/// `n` poison bodies: not JSON, an unsafe id, a wrong type, no id, truncated.
pub fn poison(n: usize) -> Vec<String> {
    let bad = [
        "this is not JSON".to_string(),
        r#"{"detail":{"conversationId":"../../etc/passwd","messages":[]}}"#.to_string(),
        envelope(
            "bad-time",
            "customer.end",
            "bad-time-1",
            json!({"conversationId": "bad-time-1", "mediaType": "MESSAGE", "eventTime": "yesterday"}),
        ),
        r#"{"detail-type":"v2.detail.events.conversation.{id}.customer.end","detail":{"eventBody":{"mediaType":"MESSAGE"}}}"#.to_string(),
        r#"{"detail": {"conversationId": "trunc"#.to_string(),
    ];
    (0..n).map(|p| bad[p % bad.len()].clone()).collect()
}

/// A UUID-shaped id unique to (`i`, `k`, `salt`).
fn uuid(i: usize, k: usize, salt: u64) -> String {
    let a = mix64(((i as u64) << 20) ^ ((k as u64) << 4) ^ salt);
    let b = mix64(a ^ salt);
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    )
}

/// Distinct bytes for one attachment.
fn attachment_bytes(i: usize, k: usize, len: u64) -> Bytes {
    let seed = mix64(((i as u64) << 16) ^ k as u64);
    Bytes::from(
        (0..len)
            .map(|j| (mix64(seed ^ (j / 8)) >> ((j % 8) * 8)) as u8)
            .collect::<Vec<u8>>(),
    )
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Generate the load, registering every conversation in `fake`.
pub fn generate(fake: &FakeGenesys, spec: &Spec) -> Load {
    let mut load = Load::default();
    let origin = origin();
    let mut huge_left = spec.huge;
    let mut events = Vec::new();
    for i in 0..spec.conversations {
        let conv = uuid(i, 0, 0xc0);
        let kind = match draw(i, 1, 0, 99) {
            0..=69 => 0,
            70..=89 => 1,
            _ => 2,
        };
        load.kinds[kind] += 1;
        let start = origin + Duration::milliseconds(i as i64 * spec.spacing_ms);
        let n_messages = draw(i, 2, 5, 40) as usize;
        let with_attachments = kind != 2 && draw(i, 3, 0, 9) == 0;
        let mut messages = Vec::with_capacity(n_messages);
        for k in 0..n_messages {
            let customer = k % 2 == 0;
            let participant = match (kind == 2, customer) {
                (true, true) => CHAT_CUSTOMER_COMMUNICATION,
                (true, false) => CHAT_AGENT_COMMUNICATION,
                (false, true) => CUSTOMER_PARTICIPANT,
                (false, false) => AGENT_PARTICIPANT,
            };
            messages.push(FakeMessage {
                id: if kind == 2 {
                    uuid(i, k + 1, 0x3e)
                } else {
                    uuid(i, k + 1, 0x3e).replace('-', "")
                },
                timestamp: (start + Duration::seconds(k as i64 * 20))
                    .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                    .to_string(),
                purpose: if customer { "customer" } else { "agent" }.into(),
                participant_id: participant.into(),
                text: format!("message {k} of conversation {i}"),
                attachments: Vec::new(),
            });
        }
        if with_attachments {
            for k in 0..draw(i, 4, 1, 3) as usize {
                let id = uuid(i, k, 0xa7);
                let (len, a) = if huge_left > 0 {
                    huge_left -= 1;
                    let len = spec.huge_bytes;
                    let a = FakeAttachment::generated(&id, &format!("scan-{k}.pdf"), len);
                    (len, a)
                } else {
                    let (lo, hi) = spec.attachment_bytes;
                    let len = draw(i, 5 + k as u64, lo, hi);
                    let a = if len <= 64 * 1024 {
                        FakeAttachment::new(
                            &id,
                            &format!("photo-{k}.jpg"),
                            "image/jpeg",
                            attachment_bytes(i, k, len),
                        )
                    } else {
                        FakeAttachment::generated(&id, &format!("photo-{k}.jpg"), len)
                    };
                    (len, a)
                };
                let sha = match &a.body {
                    Body::Bytes(b) => hex(&Sha256::digest(b)),
                    Body::Generated { len } => generated_sha256(*len),
                };
                load.attachments.insert((conv.clone(), id), (sha, len));
                // Customers send attachments (the fixtures' photo and invoice).
                messages[(2 * k) % n_messages].attachments.push(a);
            }
        }
        let end = start + Duration::seconds(n_messages as i64 * 20 + 30);
        let (base, media) = if kind == 2 {
            (FakeConversation::chat_sample(&conv), Media::Chat)
        } else {
            let mut c = FakeConversation::sample(&conv, Bytes::new(), Bytes::new());
            c.media = Media::Message;
            (c, Media::Message)
        };
        fake.add(FakeConversation {
            start_time: start.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            end_time: end.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            media,
            messages,
            with_recording: !(spec.sms_by_messages_api && kind == 1),
            not_ready_first: u32::from(draw(i, 6, 0, 9) < spec.not_ready_per_10),
            ..base
        });
        let (media_type, message_type) = match (kind, i % 2) {
            (0, _) => ("MESSAGE", Some("WEBMESSAGING")),
            (1, 0) => ("MESSAGE", Some("SMS")),
            (1, _) => ("MESSAGE", Some("WHATSAPP")),
            _ => ("CHAT", None),
        };
        let mut body = json!({
            "eventTime": end.timestamp_millis(),
            "conversationId": conv,
            "participantId": CUSTOMER_PARTICIPANT,
            "mediaType": media_type,
            "direction": "INBOUND",
        });
        if let Some(t) = message_type {
            body["messageType"] = json!(t);
        }
        events.push(envelope(
            &uuid(i, 0, 0xe1),
            "customer.end",
            &conv,
            body.clone(),
        ));
        if i % 2 == 0 {
            body["eventTime"] = json!(end.timestamp_millis() + 75_000);
            body["participantId"] = json!(AGENT_PARTICIPANT);
            events.push(envelope(&uuid(i, 0, 0xe2), "acw", &conv, body));
        }
        load.conversations.insert(conv);
    }
    load.events = events.iter().cloned().collect();
    let bad = poison(events.len() * spec.poison_per_mille / 1000);
    let mut bodies = events;
    bodies.extend(bad.iter().cloned());
    // A deterministic shuffle, so that an `acw` may come before its
    // `customer.end` and poison shares batches with good records.
    let mut keyed: Vec<(u64, String)> = bodies
        .into_iter()
        .enumerate()
        .map(|(j, b)| (mix64(j as u64 ^ 0x5eed), b))
        .collect();
    keyed.sort();
    load.bodies = keyed.into_iter().map(|(_, b)| b).collect();
    load.poison = bad;
    load.poison.sort();
    load
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_load_is_deterministic_and_mixed_as_issue_16_asks() {
        let fake = FakeGenesys::start().await.unwrap();
        let a = generate(&fake, &Spec::small(2000));
        let b = generate(&fake, &Spec::small(2000));
        assert_eq!(a.bodies, b.bodies, "same spec, same load");
        assert_eq!(a.conversations.len(), 2000);
        // 70/20/10 within sampling noise.
        assert!((1300..1500).contains(&a.kinds[0]), "{:?}", a.kinds);
        assert!((330..470).contains(&a.kinds[1]), "{:?}", a.kinds);
        assert!((140..260).contains(&a.kinds[2]), "{:?}", a.kinds);
        assert_eq!(a.events.len(), 3000, "customer.end for all, acw for half");
        assert_eq!(a.poison.len(), 15, "0.5% of the events");
        assert_eq!(a.bodies.len(), 3015);
        let with = a
            .attachments
            .keys()
            .map(|(c, _)| c)
            .collect::<BTreeSet<_>>()
            .len();
        assert!((120..260).contains(&with), "about 10% of messaging: {with}");
    }
}
