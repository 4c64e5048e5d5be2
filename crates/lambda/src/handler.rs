//! The handler: an SQS batch in, a partial batch response out; or one
//! EventBridge event invoked directly.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures::StreamExt;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;
use tvault_aws::{Queue, SdkConfig};
use tvault_core::ports::Deadline;
use tvault_router::{Handled, Router};

/// Time kept back from the invocation's deadline to change visibilities and
/// answer: a fixed part plus a twentieth of what is left.
const RESERVE_FIXED: Duration = Duration::from_secs(2);

pub struct App {
    router: Router,
    config: SdkConfig,
    concurrency: usize,
    function_name: String,
    queues: Mutex<HashMap<String, Queue>>,
}

impl App {
    pub fn new(router: Router, config: &SdkConfig, concurrency: usize) -> Self {
        Self {
            router,
            config: config.clone(),
            concurrency: concurrency.max(1),
            function_name: std::env::var("AWS_LAMBDA_FUNCTION_NAME")
                .unwrap_or_else(|_| "tvault".into()),
            queues: Mutex::new(HashMap::new()),
        }
    }

    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, Error> {
        let deadline = record_deadline(event.context.deadline);
        let result = if event.payload.get("Records").is_some() {
            let batch: SqsEvent = serde_json::from_value(event.payload)?;
            let response = self.batch(batch, deadline).await;
            Ok(serde_json::to_value(response)?)
        } else {
            self.direct(event.payload, deadline).await
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
    async fn direct(&self, payload: Value, deadline: (Instant, Deadline)) -> Result<Value, Error> {
        let body = payload.to_string();
        let id = payload
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("direct")
            .to_string();
        let handled = self.run_one(&id, &body, 1, deadline).await;
        match handled.result {
            Ok(_) => Ok(Value::Null),
            Err(e) => Err(e.to_string().into()),
        }
    }

    async fn batch(&self, batch: SqsEvent, deadline: (Instant, Deadline)) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
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
                    .run_one(&id, m.body.as_deref().unwrap_or(""), count, deadline)
                    .await;
                (m, handled)
            })
            .buffer_unordered(self.concurrency);
        while let Some((m, handled)) = results.next().await {
            if handled.is_done() {
                continue;
            }
            if let Some(delay) = handled.requeue_after {
                self.delay(&m, delay).await;
            }
            response.add_failure(m.message_id.unwrap_or_default());
        }
        response
    }

    /// Archive one record, cut off at the record deadline so the function
    /// always answers before its own timeout.
    async fn run_one(
        &self,
        id: &str,
        body: &str,
        count: u32,
        (until, deadline): (Instant, Deadline),
    ) -> Handled {
        let left = until.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, self.router.handle(id, body, count, deadline)).await {
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

    /// Hide a failed record for `delay` (not-ready or throttled), so it comes
    /// back later instead of burning its receives.
    async fn delay(&self, m: &SqsMessage, delay: Duration) {
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
        if let Err(e) = queue.change_visibility(receipt, delay).await {
            tracing::warn!(error = %e, "could not delay the record; it returns after the default visibility");
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The instant by which records must be done, from the invocation's deadline
/// (milliseconds since the epoch).
fn record_deadline(deadline_ms: u64) -> (Instant, Deadline) {
    let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms()));
    let keep = RESERVE_FIXED + left / 20;
    let until = Instant::now() + left.saturating_sub(keep);
    (until, Deadline::at(until))
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
    fn the_record_deadline_keeps_time_in_reserve() {
        let (until, _) = record_deadline(now_ms() + 60_000);
        let left = until.saturating_duration_since(Instant::now());
        assert!(
            left <= Duration::from_secs(55) && left >= Duration::from_secs(54),
            "{left:?}"
        );
        let (until, _) = record_deadline(now_ms().saturating_sub(5));
        assert!(until <= Instant::now());
    }
}
