//! The handler: an SQS batch in, a partial batch response out; or one
//! EventBridge event invoked directly.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures::StreamExt;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;
use serde_json::value::RawValue;
use tokio::task::JoinSet;
use tvault_aws::{Queue, SdkConfig};
use tvault_core::ports::Deadline;
use tvault_router::{Handled, Router};

/// Time kept back from the invocation's deadline to change visibilities and
/// answer: a fixed part plus a twentieth of what is left.
const RESERVE_FIXED: Duration = Duration::from_secs(2);

/// The last part of the reserve, left to print the metrics line and post the
/// response once the visibility changes are done (or given up).
const ANSWER_MARGIN: Duration = Duration::from_millis(500);

/// No invocation lasts longer than Lambda's 15-minute limit; a deadline
/// header further away than this (a clock jump, a broken emulator) is read
/// as this, so the arithmetic on it cannot overflow.
const LONGEST_INVOCATION: Duration = Duration::from_secs(15 * 60);

pub struct App {
    router: Arc<Router>,
    config: SdkConfig,
    concurrency: usize,
    function_name: String,
    queues: Mutex<HashMap<String, Queue>>,
}

/// When an invocation's records must stop, and when its visibility changes
/// must be done.
#[derive(Debug, Clone, Copy)]
struct Budget {
    /// Records are cut off here (the deadline less the reserve).
    records_until: Instant,
    /// The same, for the retries inside a record.
    deadline: Deadline,
    /// Visibility changes are given up here (the deadline less the answer margin).
    changes_until: Instant,
}

impl App {
    pub fn new(router: Router, config: &SdkConfig, concurrency: usize) -> Self {
        Self {
            router: Arc::new(router),
            config: config.clone(),
            concurrency: concurrency.max(1),
            function_name: std::env::var("AWS_LAMBDA_FUNCTION_NAME")
                .unwrap_or_else(|_| "tvault".into()),
            queues: Mutex::new(HashMap::new()),
        }
    }

    /// The payload arrives as raw JSON so that a direct invocation's event
    /// is archived byte for byte as received (its `source/` copy is provenance).
    pub async fn handle(&self, event: LambdaEvent<Box<RawValue>>) -> Result<Value, Error> {
        let budget = budget(event.context.deadline);
        let raw = event.payload;
        let probe: Value = serde_json::from_str(raw.get())?;
        let result = if probe.get("Records").is_some() {
            let batch: SqsEvent = serde_json::from_value(probe)?;
            let response = self.batch(batch, budget).await;
            Ok(serde_json::to_value(response)?)
        } else {
            let id = probe.get("id").and_then(Value::as_str).unwrap_or("direct");
            self.direct(id, raw.get(), budget).await
        };
        println!(
            "{}",
            self.router
                .metrics
                .emf_line(&self.function_name, now_ms() as i64, true)
        );
        result
    }

    /// An EventBridge event invoked without a queue: a failure is the
    /// invocation's error, so Lambda's async retries and the rule's DLQ apply.
    async fn direct(&self, id: &str, body: &str, budget: Budget) -> Result<Value, Error> {
        let handled = self.run_one(id, body, 1, budget).await;
        match handled.result {
            Ok(_) => Ok(Value::Null),
            Err(e) => Err(e.to_string().into()),
        }
    }

    async fn batch(&self, batch: SqsEvent, budget: Budget) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        // Visibility changes run on their own while later records finish.
        let mut changes = JoinSet::new();
        let mut results = futures::stream::iter(batch.records)
            .map(|m| async move {
                let id = m.message_id.clone().unwrap_or_default();
                let count = m
                    .attributes
                    .get("ApproximateReceiveCount")
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(1);
                if let Some(sent) = m
                    .attributes
                    .get("SentTimestamp")
                    .and_then(|s| s.parse::<u64>().ok())
                {
                    self.router
                        .metrics
                        .saw_age_ms(now_ms().saturating_sub(sent));
                }
                let handled = self
                    .run_one(&id, m.body.as_deref().unwrap_or(""), count, budget)
                    .await;
                (m, handled)
            })
            .buffer_unordered(self.concurrency);
        while let Some((m, handled)) = results.next().await {
            if handled.is_done() {
                continue;
            }
            if let Some(delay) = handled.requeue_after {
                self.change_visibility(&mut changes, &m, delay);
            }
            response.add_failure(m.message_id.unwrap_or_default());
        }
        drop(results);
        let pending = tokio::time::timeout_at(budget.changes_until.into(), async {
            while changes.join_next().await.is_some() {}
        })
        .await;
        if pending.is_err() {
            tracing::warn!(
                pending = changes.len(),
                "visibility changes not done within the deadline's reserve; those records return after the queue's visibility timeout"
            );
            changes.abort_all();
        }
        response
    }

    /// Archive one record on a task of its own (a panic fails this record
    /// only), cut off at the record deadline so the function always answers
    /// before its own timeout.
    async fn run_one(&self, id: &str, body: &str, count: u32, budget: Budget) -> Handled {
        let left = budget
            .records_until
            .saturating_duration_since(Instant::now());
        let handling = self
            .router
            .handle_isolated(id, body, count, budget.deadline);
        match tokio::time::timeout(left, handling).await {
            Ok(h) => h,
            Err(_) => {
                tracing::warn!(
                    message_id = id,
                    "record cut off at the invocation deadline; it returns to the queue"
                );
                self.router
                    .metrics
                    .failed
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Handled {
                    result: Err(tvault_core::ArchiveError::TimedOut),
                    requeue_after: None,
                }
            }
        }
    }

    /// Start hiding a failed record for `delay` (not-ready or throttled, so
    /// it comes back later instead of burning its receives), or releasing it
    /// at once (zero: invalid input, to reach the DLQ in seconds).
    fn change_visibility(&self, changes: &mut JoinSet<()>, m: &SqsMessage, delay: Duration) {
        let (Some(arn), Some(receipt)) = (&m.event_source_arn, &m.receipt_handle) else {
            return;
        };
        let Some(url) = queue_url(arn) else {
            tracing::warn!(arn, "cannot derive the queue URL from the event source ARN");
            return;
        };
        let queue = self.queues.lock().map(|mut q| {
            q.entry(url.clone())
                .or_insert_with(|| Queue::new(&self.config, &url))
                .clone()
        });
        let Ok(queue) = queue else { return };
        let (receipt, id) = (receipt.clone(), m.message_id.clone().unwrap_or_default());
        changes.spawn(async move {
            if let Err(e) = queue.change_visibility(&receipt, delay).await {
                tracing::warn!(message_id = %id, error = %e, "could not change the record's visibility; it returns after the queue's visibility timeout");
            }
        });
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The invocation's budget, from its deadline (milliseconds since the epoch).
fn budget(deadline_ms: u64) -> Budget {
    let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms())).min(LONGEST_INVOCATION);
    let keep = RESERVE_FIXED + left / 20;
    let now = Instant::now();
    let records_until = now + left.saturating_sub(keep);
    Budget {
        records_until,
        deadline: Deadline::at(records_until),
        changes_until: now + left.saturating_sub(ANSWER_MARGIN),
    }
}

/// `arn:aws:sqs:REGION:ACCOUNT:NAME` to the queue URL, honouring
/// `AWS_ENDPOINT_URL_SQS` / `AWS_ENDPOINT_URL` (emulators) as the SDK does.
fn queue_url(arn: &str) -> Option<String> {
    let parts: Vec<&str> = arn.split(':').collect();
    let [_, _, "sqs", region, account, name] = parts.as_slice() else {
        return None;
    };
    let endpoint = std::env::var("AWS_ENDPOINT_URL_SQS")
        .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
        .unwrap_or_else(|_| format!("https://sqs.{region}.amazonaws.com"));
    Some(format!(
        "{}/{account}/{name}",
        endpoint.trim_end_matches('/')
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tvault_core::Archiver;
    use tvault_core::ports::{ConversationSource, SystemClock, Vault};
    use tvault_testkit::panic::{PanickingSource, transcript_event};
    use tvault_vault::ObjectVault;

    /// An app over a memory vault, with `source` as its Genesys.
    fn app(source: Option<Arc<dyn ConversationSource>>) -> (App, Arc<ObjectVault>) {
        let vault = tvault_vault::open("memory://").unwrap();
        let archiver = Archiver::new(vault.clone(), source, Arc::new(SystemClock));
        let router = Router::from_parts(archiver, vault.clone());
        let config = SdkConfig::builder().build();
        (App::new(router, &config, 4), vault)
    }

    fn invocation(payload: &str) -> LambdaEvent<Box<RawValue>> {
        let mut context = lambda_runtime::Context::default();
        context.deadline = now_ms() + 60_000;
        LambdaEvent::new(RawValue::from_string(payload.to_string()).unwrap(), context)
    }

    /// An SQS event with these (message id, body) records, as the event
    /// source mapping sends it (no ARN: no visibility change is attempted).
    fn sqs_event(records: &[(&str, &str)]) -> String {
        let records: Vec<Value> = records
            .iter()
            .map(|(id, body)| {
                serde_json::json!({
                    "messageId": id, "receiptHandle": format!("rh-{id}"), "body": body,
                    "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
                    "eventSource": "aws:sqs", "awsRegion": "eu-west-1"
                })
            })
            .collect();
        serde_json::json!({ "Records": records }).to_string()
    }

    fn failures(response: &Value) -> Vec<&str> {
        let mut ids: Vec<&str> = response["batchItemFailures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["itemIdentifier"].as_str().unwrap())
            .collect();
        ids.sort();
        ids
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_record_fails_alone_and_its_batch_answers() {
        let (app, vault) = app(Some(Arc::new(PanickingSource)));
        let boom = tvault_testkit::pipeline::customer_end("boom-8d3f4c1e");
        let calm = [
            transcript_event("calm-1-8d3f4c1e"),
            transcript_event("calm-2-8d3f4c1e"),
        ];
        let event = sqs_event(&[
            ("m-calm-1", &calm[0]),
            ("m-boom", &boom),
            ("m-calm-2", &calm[1]),
        ]);
        let response = app.handle(invocation(&event)).await.unwrap();
        assert_eq!(failures(&response), ["m-boom"]);
        for conv in ["calm-1-8d3f4c1e", "calm-2-8d3f4c1e"] {
            let stored = vault.list(&format!("conversations/{conv}/")).await.unwrap();
            assert!(
                stored.iter().any(|l| l.path.contains("/manifest.")),
                "{conv} committed: {stored:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_direct_invocation_is_archived_byte_for_byte() {
        let (app, vault) = app(None);
        // Key order, spacing and number spelling as a producer might send them;
        // re-serialising would sort the keys and drop the spaces.
        let event = r#"{ "id" : "evt-raw-1", "version":"0", "source":"tvault.tests", "detail-type":"transcript",
            "detail": {"messages": [{"text": "hi", "timestamp": "2026-09-20T09:14:03.512Z", "messageId": "m1"}],
                       "mediaType": "MESSAGE", "conversationId": "raw-8d3f4c1e", "size": 1.0e3}}"#;
        let answer = app.handle(invocation(event)).await.unwrap();
        assert_eq!(answer, Value::Null);
        let mut found = false;
        for l in vault
            .list("conversations/raw-8d3f4c1e/source/")
            .await
            .unwrap()
        {
            found |= vault.get(&l.path).await.unwrap().as_ref() == event.as_bytes();
        }
        assert!(found, "the event's bytes are in the vault as received");
    }

    #[test]
    fn queue_urls_come_from_arns() {
        // SAFETY of the test: only this test reads these variables.
        if std::env::var("AWS_ENDPOINT_URL").is_err()
            && std::env::var("AWS_ENDPOINT_URL_SQS").is_err()
        {
            assert_eq!(
                queue_url("arn:aws:sqs:eu-west-1:123456789012:vault-q").as_deref(),
                Some("https://sqs.eu-west-1.amazonaws.com/123456789012/vault-q")
            );
        }
        assert_eq!(queue_url("arn:aws:s3:::bucket"), None);
    }

    #[test]
    fn the_budget_keeps_time_in_reserve_for_visibility_changes_and_the_answer() {
        let b = budget(now_ms() + 60_000);
        let left = b.records_until.saturating_duration_since(Instant::now());
        assert!(
            left <= Duration::from_secs(55) && left >= Duration::from_secs(54),
            "{left:?}"
        );
        let changes = b.changes_until.saturating_duration_since(Instant::now());
        assert!(
            changes <= Duration::from_millis(59_500) && changes >= Duration::from_secs(59),
            "{changes:?}"
        );
        let b = budget(now_ms().saturating_sub(5));
        assert!(b.records_until <= Instant::now() && b.changes_until <= Instant::now());
    }

    #[test]
    fn a_deadline_header_far_in_the_future_is_read_as_the_longest_invocation() {
        for ms in [u64::MAX, u64::MAX / 2, now_ms() + 10 * 3_600_000] {
            let b = budget(ms);
            let left = b.records_until.saturating_duration_since(Instant::now());
            assert!(left <= LONGEST_INVOCATION, "{ms}: {left:?}");
        }
    }
}
