//! The whole pipeline in one place for end-to-end tests: queues in moto with
//! a redrive policy, a realistic mix of events, and the checks of a drained
//! run (every conversation in the vault once, every manifest verified, only
//! the poison in the dead-letter queue, unchanged).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::{Value, json};
use tvault_aws::{Queue, SdkConfig};
use tvault_core::ports::Vault;

use crate::genesys::{FakeConversation, FakeGenesys};
use crate::lambda::{Answer, RuntimeApi};
use crate::peak::envelope;
use crate::services;

/// moto's endpoint from `TVAULT_TEST_MOTO`, as an SDK configuration. `None`
/// when moto is not running and services are not required
/// ([`services::required`](crate::services::required)); else a panic.
pub async fn moto() -> Option<(String, SdkConfig)> {
    let endpoint = services::var("TVAULT_TEST_MOTO", services::START)?;
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&endpoint)
        .region(aws_config::Region::new(REGION))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .load()
        .await;
    Some((endpoint, config))
}

/// The region the tests use with moto.
pub const REGION: &str = crate::peak::REGION;

/// Environment for a child process (the Lambda, the worker) to reach moto.
pub fn aws_env(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", endpoint.to_string()),
        ("AWS_REGION", REGION.to_string()),
        ("AWS_ACCESS_KEY_ID", "test".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
    ]
}

/// A source queue with a redrive policy to its dead-letter queue.
pub struct Queues {
    pub source: Queue,
    pub dlq: Queue,
    pub source_arn: String,
}

/// Create a queue pair with `maxReceiveCount` `max_receives` and the given
/// default visibility timeout.
pub async fn queues(config: &SdkConfig, max_receives: u32, visibility_secs: u32) -> Queues {
    let sqs = aws_sdk_sqs::Client::new(config);
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let name = format!("tvault-e2e-{n}");
    let dlq_url = sqs
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .send()
        .await
        .expect("create DLQ")
        .queue_url
        .unwrap_or_default();
    let arn = |url: String| {
        let sqs = sqs.clone();
        async move {
            sqs.get_queue_attributes()
                .queue_url(url)
                .attribute_names(QueueAttributeName::QueueArn)
                .send()
                .await
                .expect("queue ARN")
                .attributes
                .unwrap_or_default()
                .remove(&QueueAttributeName::QueueArn)
                .unwrap_or_default()
        }
    };
    let dlq_arn = arn(dlq_url.clone()).await;
    let url = sqs
        .create_queue()
        .queue_name(&name)
        .attributes(
            QueueAttributeName::RedrivePolicy,
            format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"{max_receives}"}}"#),
        )
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            visibility_secs.to_string(),
        )
        .send()
        .await
        .expect("create queue")
        .queue_url
        .unwrap_or_default();
    let source_arn = arn(url.clone()).await;
    Queues {
        source: Queue::new(config, url),
        dlq: Queue::new(config, dlq_url),
        source_arn,
    }
}

/// The conversation id of the Genesys fixtures.
pub const FIXTURE_CONVERSATION: &str = "8d3f4c1e-5b2a-4e7f-9c61-0a2b3c4d5e6f";

/// The `customer.end` fixture (`fixtures/genesys/`), about conversation `conv`.
pub fn customer_end(conv: &str) -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/genesys/eventbridge_customer_end__webmessaging.json"
    );
    std::fs::read_to_string(path)
        .expect("the customer.end fixture")
        .replace(FIXTURE_CONVERSATION, conv)
}

/// A mix of events as the EventBridge rule would deliver them.
pub struct Mix {
    /// Every body to send, in order.
    pub bodies: Vec<String>,
    /// The conversations that must end up in the vault.
    pub conversations: BTreeSet<String>,
    /// The bodies that must end up in the dead-letter queue.
    pub poison: Vec<String>,
}

/// `total` events: lifecycle events for conversations registered in `fake`
/// (with two small attachments each), transcript-carrying events, `dupes`
/// exact duplicates, `skipped` voice events and `poison` bad records
/// (not JSON, unsafe ids, wrong types). Returns the bodies and what to expect.
pub fn mix(fake: &FakeGenesys, total: usize, dupes: usize, skipped: usize, poison: usize) -> Mix {
    let fresh = total - dupes - skipped - poison;
    let lifecycle = fresh / 2;
    let mut bodies = Vec::with_capacity(total);
    let mut conversations = BTreeSet::new();
    for i in 0..fresh {
        let conv = format!("e2e-{i:05}-8d3f4c1e");
        if i < lifecycle {
            fake.add(FakeConversation::sample(
                &conv,
                format!("photo of {conv}").into_bytes(),
                format!("invoice {conv}").into_bytes(),
            ));
            let suffix = ["customer.end", "acw"][i % 2];
            let body = json!({"eventTime": 1_789_896_700_123u64 + i as u64, "conversationId": conv, "mediaType": "MESSAGE", "messageType": "WEBMESSAGING"});
            bodies.push(envelope(&format!("evt-{i}"), suffix, &conv, body));
        } else {
            let body = json!({"conversationId": conv, "mediaType": "MESSAGE", "messages": [
                {"messageId": format!("{conv}-m1"), "timestamp": "2026-09-20T09:14:03.512Z", "direction": "inbound", "participantPurpose": "customer", "text": format!("hello from {conv}")},
                {"messageId": format!("{conv}-m2"), "timestamp": "2026-09-20T09:15:10.044Z", "direction": "outbound", "participantPurpose": "agent", "text": "how can I help?"}
            ]});
            bodies.push(envelope(&format!("evt-{i}"), "transcripts", &conv, body));
        }
        conversations.insert(conv);
    }
    for d in 0..dupes {
        bodies.push(bodies[d * 7 % fresh].clone());
    }
    for s in 0..skipped {
        let conv = format!("voice-{s:03}");
        let body = json!({"eventTime": 1_789_896_700_123u64, "conversationId": conv, "mediaType": "VOICE"});
        bodies.push(envelope(&format!("voice-{s}"), "customer.end", &conv, body));
    }
    let poison = crate::peak::poison(poison);
    bodies.extend(poison.iter().cloned());
    // Interleave, deterministically, so that bad and duplicate records share batches with good ones.
    let mut order: Vec<usize> = (0..bodies.len()).collect();
    order.sort_by_key(|&i| (i * 7919) % bodies.len());
    let bodies = order.into_iter().map(|i| bodies[i].clone()).collect();
    Mix {
        bodies,
        conversations,
        poison,
    }
}

/// Send every body, sixteen requests at a time (one by one, 3,000 bodies
/// cost moto half a minute). The order on the queue follows `bodies` only
/// roughly, as with EventBridge.
pub async fn send_all(queue: &Queue, bodies: &[String]) {
    use futures::StreamExt;
    futures::stream::iter(bodies)
        .map(|b| queue.send(b))
        .buffer_unordered(16)
        .for_each(|r| async move {
            r.expect("send");
        })
        .await;
}

/// Wait until the source queue holds nothing, visible or in flight.
pub async fn until_drained(queue: &Queue, timeout: Duration) -> bool {
    let end = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < end {
        if queue.depth().await.map(|d| d == (0, 0)).unwrap_or(false) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    false
}

/// Every conversation with its manifests (generations).
pub async fn generations(vault: &dyn Vault) -> BTreeMap<String, usize> {
    let mut out: BTreeMap<String, usize> = BTreeMap::new();
    for l in vault.list("conversations/").await.expect("list") {
        if let Some((conv, _)) = tvault_core::keys::parse_manifest(&l.path) {
            *out.entry(conv.to_string()).or_default() += 1;
        }
    }
    out
}

/// Read every message of the dead-letter queue (and delete them).
pub async fn take_all(queue: &Queue) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..20 {
        let batch = queue.receive(10, 1, 60).await.expect("receive");
        if batch.is_empty() {
            break;
        }
        for m in batch {
            queue.delete(&m.receipt_handle).await.expect("delete");
            out.push(m.body);
        }
    }
    out.sort();
    out
}

/// Re-hash every object of every manifest; the problems found (empty when all is well).
pub async fn verify_all(vault: &dyn Vault) -> Vec<String> {
    let mut problems = Vec::new();
    for l in vault.list("conversations/").await.expect("list") {
        if tvault_core::keys::parse_manifest(&l.path).is_none() {
            continue;
        }
        let bytes = vault.get(&l.path).await.expect("manifest");
        let m = match tvault_core::manifest::Manifest::from_slice(&bytes) {
            Ok(m) => m,
            Err(e) => {
                problems.push(format!("{}: {e}", l.path));
                continue;
            }
        };
        for o in &m.objects {
            if let Err(e) = tvault_core::read::verify_entry(vault, o).await {
                problems.push(e.to_string());
            }
        }
    }
    problems
}

/// A fresh container in Azurite for one test: its vault URL (the value of
/// `TVAULT_VAULT`) and the development connection string for its account.
/// `None` when Azurite is not running and services are not required; else a panic.
pub async fn azurite_container(account: &str) -> Option<(String, String)> {
    let endpoint = services::var("TVAULT_TEST_AZURITE", services::START)?;
    // Same host, another account of scripts/start-azurite (they share the dev key).
    let base = endpoint
        .trim_end_matches('/')
        .rsplit_once('/')
        .map(|(b, _)| b.to_string())
        .unwrap_or(endpoint.clone());
    let account_url = format!("{base}/{account}");
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let url = format!("{account_url}/e2e-{n}");
    let cs = format!(
        "DefaultEndpointsProtocol=http;AccountName={account};AccountKey={};BlobEndpoint={account_url};",
        tvault_vault::azure::config::DEV_ACCOUNT_KEY
    );
    let vault = azurite_vault(&url, &cs);
    vault
        .azure()
        .expect("an Azure vault")
        .create_container()
        .await
        .expect("create container");
    Some((url, cs))
}

/// Open the Azure vault at `url` with connection string `cs`.
pub fn azurite_vault(url: &str, cs: &str) -> std::sync::Arc<tvault_vault::ObjectVault> {
    tvault_vault::open_azure(tvault_vault::azure::AzureConfig::new(url).with_connection_string(cs))
        .expect("open Azurite vault")
}

/// Every conversation of `expected` in `vault` with exactly one generation,
/// and no other conversation.
pub async fn assert_archived_once(vault: &dyn Vault, expected: &BTreeSet<String>) {
    let generations = generations(vault).await;
    let stored: BTreeSet<&String> = generations.keys().collect();
    assert_eq!(
        stored,
        expected.iter().collect(),
        "every conversation, and nothing else"
    );
    let twice: Vec<_> = generations.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "archived more than once: {twice:?}");
}

/// The checks of a drained run: every conversation of `mix` in the vault at
/// `vault_url` exactly once, nothing else, every manifest verified, and the
/// dead-letter queue holding exactly the poison, unchanged.
pub async fn check_drained(q: &Queues, vault_url: &str, cs: &str, mix: &Mix) {
    let vault = azurite_vault(vault_url, cs);
    assert_archived_once(vault.as_ref(), &mix.conversations).await;
    let problems = verify_all(vault.as_ref()).await;
    assert!(problems.is_empty(), "{problems:#?}");
    let mut poison = mix.poison.clone();
    poison.sort();
    assert_eq!(take_all(&q.dlq).await, poison, "only the poison, unchanged");
}

/// What an SQS event source mapping does, once: receive a batch of up to 10
/// (hidden for `visibility` seconds), invoke the function behind `rt` with it
/// as an `SqsEvent`, and delete the records the response does not list in
/// `batchItemFailures`. `None` when the queue had nothing visible; else how
/// many records the batch held and the ids that failed. A function that
/// fails the whole batch is a failed test (the router never does).
pub async fn deliver_batch(
    rt: &RuntimeApi,
    q: &Queues,
    visibility: i32,
    timeout: Duration,
) -> Option<(usize, Vec<String>)> {
    let batch = q.source.receive(10, 1, visibility).await.unwrap();
    if batch.is_empty() {
        return None;
    }
    let answer = rt.invoke(sqs_event(q, &batch), timeout).await;
    let Answer::Response(resp) = answer else {
        panic!("the function failed the whole batch: {answer:?}")
    };
    let failed = settle_batch(q, &batch, &resp).await;
    Some((batch.len(), failed))
}

/// The `SqsEvent` an event source mapping invokes the function with for `batch`.
pub fn sqs_event(q: &Queues, batch: &[tvault_aws::Received]) -> Value {
    let records: Vec<Value> = batch
        .iter()
        .map(|m| {
            json!({
                "messageId": m.message_id,
                "receiptHandle": m.receipt_handle,
                "body": m.body,
                "attributes": {
                    "ApproximateReceiveCount": m.receive_count.to_string(),
                    "SentTimestamp": m.sent_at_ms.unwrap_or(0).to_string(),
                },
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": q.source_arn,
                "awsRegion": REGION,
            })
        })
        .collect();
    json!({ "Records": records })
}

/// What an event source mapping does with the function's answer: delete the
/// records `resp` does not list in `batchItemFailures`. Returns the ids it
/// lists, in order.
pub async fn settle_batch(q: &Queues, batch: &[tvault_aws::Received], resp: &Value) -> Vec<String> {
    let failed: BTreeSet<String> = resp["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_string())
        .collect();
    for m in batch {
        if !failed.contains(&m.message_id) {
            q.source.delete(&m.receipt_handle).await.unwrap();
        }
    }
    failed.into_iter().collect()
}
