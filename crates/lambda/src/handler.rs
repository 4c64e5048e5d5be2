//! The handler: an SQS batch in, a partial batch response and the failed
//! records' visibility changes out; or one EventBridge event invoked
//! directly; or the daily seal invocation (`{"tvault": "seal", ...}`, which
//! touches no queue). Each record's life (its age, its own task, its
//! deadline and cut-off, its count) is the router's ([`Router::process`]);
//! so is the metrics line printed after each invocation.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::NaiveDate;
use futures::StreamExt;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;
use serde_json::value::RawValue;
use tokio::task::JoinSet;
use tracing::Instrument;
use tvault_aws::{Queue, SdkConfig};
use tvault_router::record::now_ms;
use tvault_router::telemetry::{Registry, emf};
use tvault_router::{Budget, Handled, Record, Router, Settings};

pub struct App {
    router: Arc<Router>,
    config: SdkConfig,
    concurrency: usize,
    function_name: String,
    /// The process's metrics recorder: one EMF line per invocation.
    registry: Arc<Registry>,
    /// The EMF line's `level`: one Lambda's log-level filter keeps.
    metrics_level: &'static str,
    /// Where SQS is when not at AWS (emulators), for queue URLs.
    sqs_endpoint: Option<String>,
    queues: Mutex<HashMap<String, Queue>>,
}

impl App {
    pub fn new(
        router: Router,
        config: &SdkConfig,
        settings: &Settings,
        registry: Arc<Registry>,
        metrics_level: &'static str,
    ) -> Self {
        Self {
            registry,
            metrics_level,
            router: Arc::new(router),
            config: config.clone(),
            concurrency: settings.record_concurrency.max(1),
            function_name: settings.function_name.clone(),
            sqs_endpoint: settings.sqs_endpoint.clone(),
            queues: Mutex::new(HashMap::new()),
        }
    }

    /// One invocation; its metrics line goes to stdout, where CloudWatch
    /// Logs reads Embedded Metric Format.
    pub async fn handle(&self, event: LambdaEvent<Box<RawValue>>) -> Result<Value, Error> {
        let (result, metrics) = self.answer(event).await;
        println!("{metrics}");
        result
    }

    /// The invocation's answer and its metrics line, in a span naming the
    /// Lambda request id so that every line of the invocation carries it.
    ///
    /// The payload arrives as raw JSON so that a direct invocation's event
    /// is archived byte for byte as received (its `source/` copy is provenance).
    async fn answer(&self, event: LambdaEvent<Box<RawValue>>) -> (Result<Value, Error>, String) {
        let request_id = event.context.request_id.clone();
        let budget = Budget::for_invocation(event.context.deadline);
        let span = tracing::info_span!("invocation", request_id = %request_id);
        let result = self.dispatch(&event.payload, budget).instrument(span).await;
        let metrics = emf::line(
            &self.registry,
            &emf::Context {
                function_name: &self.function_name,
                timestamp_ms: i64::try_from(now_ms()).unwrap_or(i64::MAX),
                level: self.metrics_level,
                request_id: Some(&request_id),
            },
        );
        (result, metrics)
    }

    async fn dispatch(&self, raw: &RawValue, budget: Budget) -> Result<Value, Error> {
        let probe: Value = serde_json::from_str(raw.get())?;
        if probe.get("Records").is_some() {
            let batch: SqsEvent = serde_json::from_value(probe)?;
            let response = self.batch(batch, budget).await;
            Ok(serde_json::to_value(response)?)
        } else if let Some(request) = tvault_router::seal::seal_request(&probe) {
            self.seal(request, budget).await
        } else {
            let id = probe.get("id").and_then(Value::as_str).unwrap_or("direct");
            self.direct(id, raw.get(), budget).await
        }
    }

    /// A seal invocation (the daily schedule: `{"tvault": "seal", ...}`,
    /// told apart by its `tvault` key): the day's ledger object and its
    /// witness, no queue. A failure is the invocation's error, so the
    /// schedule's retry policy tries again.
    async fn seal(
        &self,
        request: Result<NaiveDate, String>,
        budget: Budget,
    ) -> Result<Value, Error> {
        let day = request?;
        match self.router.seal(day, budget.deadline).await {
            Ok(report) => Ok(report.to_json()),
            Err(e) => {
                let e = tvault_aws::error_text(&e);
                tracing::error!(day = %day, error = %e, "sealing failed");
                Err(e.into())
            }
        }
    }

    /// An EventBridge event invoked without a queue: a failure is the
    /// invocation's error, so Lambda's async retries and the rule's DLQ apply.
    async fn direct(&self, id: &str, body: &str, budget: Budget) -> Result<Value, Error> {
        let record = Record {
            message_id: id.to_string(),
            body: body.to_string(),
            receive_count: 1,
            sent_at_ms: None,
        };
        let handled = self.run(&record, budget).await;
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
                let handled = self.run(&record(&m), budget).await;
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

    /// One record, cut off at the invocation's record deadline so the
    /// function always answers before its own timeout.
    async fn run(&self, record: &Record, budget: Budget) -> Handled {
        self.router
            .process(record, budget.deadline, Some(budget.records_until))
            .await
    }

    /// Start hiding a failed record for `delay` (not-ready or throttled, so
    /// it comes back later instead of burning its receives), or releasing it
    /// at once (zero: invalid input, to reach the DLQ in seconds).
    fn change_visibility(&self, changes: &mut JoinSet<()>, m: &SqsMessage, delay: Duration) {
        let (Some(arn), Some(receipt)) = (&m.event_source_arn, &m.receipt_handle) else {
            return;
        };
        let Some(url) = queue_url(arn, self.sqs_endpoint.as_deref()) else {
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

/// An SQS message as the router's [`Record`]; a receive count or sent time
/// that is not a number reads as a first receive with no age.
fn record(m: &SqsMessage) -> Record {
    Record {
        message_id: m.message_id.clone().unwrap_or_default(),
        body: m.body.clone().unwrap_or_default(),
        receive_count: m
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|c| c.parse().ok())
            .unwrap_or(1),
        sent_at_ms: m
            .attributes
            .get("SentTimestamp")
            .and_then(|s| s.parse().ok()),
    }
}

/// `arn:aws:sqs:REGION:ACCOUNT:NAME` to the queue URL, at `endpoint` when
/// SQS is elsewhere (`AWS_ENDPOINT_URL_SQS` / `AWS_ENDPOINT_URL`: emulators),
/// as the SDK does.
fn queue_url(arn: &str, endpoint: Option<&str>) -> Option<String> {
    let parts: Vec<&str> = arn.split(':').collect();
    let [_, _, "sqs", region, account, name] = parts.as_slice() else {
        return None;
    };
    let endpoint = endpoint.map_or_else(
        || format!("https://sqs.{region}.amazonaws.com"),
        str::to_string,
    );
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

    /// An app over a memory vault, with `source` as its Genesys, and a
    /// registry of its own (a test that reads it makes it the recorder of its
    /// thread: the global one would mix the counts of tests run in parallel).
    fn app(source: Option<Arc<dyn ConversationSource>>) -> (App, Arc<ObjectVault>) {
        let vault = tvault_vault::open("memory://").unwrap();
        let archiver = Archiver::new(vault.clone(), source, Arc::new(SystemClock));
        let router = Router::from_parts(archiver, vault.clone());
        let config = SdkConfig::builder().build();
        let settings = Settings::from_vars([
            (
                "AWS_LAMBDA_FUNCTION_NAME".to_string(),
                "tvault-unit".to_string(),
            ),
            ("TVAULT_RECORD_CONCURRENCY".to_string(), "4".to_string()),
        ]);
        let registry = Arc::new(Registry::new());
        (
            App::new(router, &config, &settings, registry, "INFO"),
            vault,
        )
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

    /// An SQS event as Lambda's event source mapping delivers it (the shape of
    /// AWS's SQS event example, the fields of aws_lambda_events' `SqsMessage`):
    /// a transcript-carrying event, a Genesys `user.end` (the fixture in
    /// fixtures/genesys/), and a body that is not JSON. It names no
    /// eventSourceARN, so the poison's visibility change (which needs SQS) is
    /// not attempted.
    const MIXED_BATCH: &str = include_str!("../fixtures/sqs_event__mixed.json");

    #[tokio::test]
    async fn a_fixture_batch_fails_only_its_poison_and_its_metrics_line_counts_each_record() {
        let (app, vault) = app(None);
        // A current-thread runtime: the records' tasks run on this thread,
        // where this recorder is the default.
        let registry = app.registry.clone();
        let _recorder = metrics::set_default_local_recorder(&*registry);
        tvault_router::telemetry::announce();
        let before = now_ms();
        let (response, line) = app.answer(invocation(MIXED_BATCH)).await;
        assert_eq!(failures(&response.unwrap()), ["m-poison"]);
        let stored = vault.list("conversations/fixture-8d3f4c1e/").await.unwrap();
        assert!(
            stored.iter().any(|l| l.path.contains("/manifest.")),
            "{stored:?}"
        );

        let line: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(line["FunctionName"], "tvault-unit");
        assert_eq!(line["level"], "INFO");
        for (metric, count) in [
            ("Archived", 1),
            ("Skipped", 1),
            ("Failed", 1),
            ("AlreadyInVault", 0),
            ("NotReady", 0),
            ("AzureRetries", 0),
        ] {
            assert_eq!(line[metric], count, "{metric}: {line}");
        }
        // The oldest record's age, from its SentTimestamp (1789896700000).
        let age = line["OldestEventAge"].as_u64().unwrap();
        assert!(age >= before - 1_789_896_700_000, "{age}");

        // The next line counts only the next invocation.
        let (_, line) = app.answer(invocation(&sqs_event(&[]))).await;
        let line: Value = serde_json::from_str(&line).unwrap();
        assert_eq!((&line["Archived"], &line["Failed"]), (&0.into(), &0.into()));
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

    /// What the template's `LedgerSealSchedule` invokes the function with:
    /// its `Input`, with `<aws.scheduler.scheduled-time>` replaced as
    /// EventBridge Scheduler does ("Adding context attributes in EventBridge
    /// Scheduler", AWS docs; the time's form is theirs, `2022-03-22T18:59:43Z`).
    const SCHEDULED_SEAL: &str = include_str!("../fixtures/scheduler_seal.json");

    #[tokio::test]
    async fn a_scheduled_seal_seals_the_day_before_its_time_and_touches_no_queue() {
        let (app, vault) = app(None);
        let batch = sqs_event(&[("m-1", &transcript_event("sealed-8d3f4c1e"))]);
        let response = app.handle(invocation(&batch)).await.unwrap();
        assert!(failures(&response).is_empty(), "{response}");

        let answer = app.handle(invocation(SCHEDULED_SEAL)).await.unwrap();
        assert_eq!(answer["day"], "2026-09-20", "{answer}");
        assert_eq!(answer["written"]["path"], "ledger/2026/09/20.json");
        assert_eq!(answer["written"]["entries"], 1);
        let stored = vault.get("ledger/2026/09/20.json").await.unwrap();
        assert_eq!(
            answer["witness"],
            format!("2026-09-20 {}", tvault_core::hash::sha256_hex(&stored))
        );
        assert!(
            String::from_utf8_lossy(&stored).contains("\"conversationId\":\"sealed-8d3f4c1e\"")
        );
        assert!(
            app.queues.lock().unwrap().is_empty(),
            "a seal makes no queue client"
        );
        // Again: nothing new, the same witness.
        let again = app.handle(invocation(SCHEDULED_SEAL)).await.unwrap();
        assert_eq!(
            (&again["witness"], &again["written"]),
            (&answer["witness"], &Value::Null)
        );

        // A seal request it cannot understand is the invocation's error.
        let err = app
            .handle(invocation(r#"{"tvault": "seal", "day": "20 Sept"}"#))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("not a date"), "{err}");
    }

    #[test]
    fn queue_urls_come_from_arns() {
        let arn = "arn:aws:sqs:eu-west-1:123456789012:vault-q";
        assert_eq!(
            queue_url(arn, None).as_deref(),
            Some("https://sqs.eu-west-1.amazonaws.com/123456789012/vault-q")
        );
        assert_eq!(
            queue_url(arn, Some("http://127.0.0.1:4566/")).as_deref(),
            Some("http://127.0.0.1:4566/123456789012/vault-q")
        );
        assert_eq!(queue_url("arn:aws:s3:::bucket", None), None);
    }
}
