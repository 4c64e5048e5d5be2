//! SQS operations the router and `tvault dlq` need.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};

/// An SQS failure, with the SDK's whole error chain.
#[derive(Debug, thiserror::Error)]
#[error("SQS {op} on {queue}: {message}")]
pub struct QueueError {
    pub op: &'static str,
    pub queue: String,
    pub message: String,
}

/// The region an SQS queue URL names: `https://sqs.REGION.amazonaws.com/...`
/// (also `.amazonaws.com.cn`), or the legacy `https://REGION.queue.amazonaws.com/...`.
/// (AWS docs, "Amazon SQS queue and message identifiers": the queue URL.)
pub fn region_of(url: &str) -> Option<&str> {
    let host = url.split_once("://")?.1.split(['/', ':']).next()?;
    let region = match host.strip_prefix("sqs.") {
        Some(rest) => rest.split_once(".amazonaws.com")?.0,
        None => host.strip_suffix(".queue.amazonaws.com")?,
    };
    let ok = !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    ok.then_some(region)
}

/// One received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    /// `ApproximateReceiveCount`: 1 on the first receive.
    pub receive_count: u32,
    /// `SentTimestamp`, milliseconds since the epoch. SQS keeps a message's
    /// first enqueue time when its redrive policy moves it to a DLQ.
    pub sent_at_ms: Option<i64>,
    /// The message attributes with a string value, such as the `ERROR_CODE`,
    /// `ERROR_MESSAGE`, `RULE_ARN` and `TARGET_ARN` EventBridge puts on an
    /// event it could not deliver (its target's dead-letter queue).
    pub attributes: BTreeMap<String, String>,
}

/// One SQS queue.
#[derive(Debug, Clone)]
pub struct Queue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl Queue {
    /// The queue at `url`. Without a configured region (no `AWS_REGION`,
    /// no profile), the region the URL names is used: the queue URL is all
    /// an operator should have to give.
    pub fn new(config: &aws_config::SdkConfig, url: impl Into<String>) -> Self {
        let url = url.into();
        let client = match (config.region(), region_of(&url)) {
            (None, Some(region)) => aws_sdk_sqs::Client::from_conf(
                aws_sdk_sqs::config::Builder::from(config)
                    .region(aws_sdk_sqs::config::Region::new(region.to_string()))
                    .build(),
            ),
            _ => aws_sdk_sqs::Client::new(config),
        };
        Self { client, url }
    }

    /// The queue's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn err(&self, op: &'static str, e: &(dyn std::error::Error + 'static)) -> QueueError {
        let text = crate::error_text(e);
        let message = if self.client.config().region().is_none()
            && text.to_ascii_lowercase().contains("region")
        {
            // The SDK says only "Missing Region" (and, further down, "failed
            // to construct request"): say what to set.
            "no AWS region: set AWS_REGION, or give the queue URL as AWS shows it (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)".to_string()
        } else {
            text
        };
        QueueError {
            op,
            queue: self.url.clone(),
            message,
        }
    }

    /// `ReceiveMessage`: up to `max` (1–10) messages, long-polling `wait_secs`
    /// (0–20), hidden for `visibility_secs` once received.
    pub async fn receive(
        &self,
        max: i32,
        wait_secs: i32,
        visibility_secs: i32,
    ) -> Result<Vec<Received>, QueueError> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max.clamp(1, 10))
            .wait_time_seconds(wait_secs.clamp(0, 20))
            .visibility_timeout(visibility_secs)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| self.err("ReceiveMessage", &e))?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| {
                let attrs = m.attributes.unwrap_or_default();
                let attr = |n: MessageSystemAttributeName| {
                    attrs.get(&n).and_then(|v| v.parse::<i64>().ok())
                };
                let attributes = m
                    .message_attributes
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|(k, v)| Some((k, v.string_value?)))
                    .collect();
                Some(Received {
                    message_id: m.message_id?,
                    receipt_handle: m.receipt_handle?,
                    body: m.body.unwrap_or_default(),
                    receive_count: attr(MessageSystemAttributeName::ApproximateReceiveCount)
                        .unwrap_or(1) as u32,
                    sent_at_ms: attr(MessageSystemAttributeName::SentTimestamp),
                    attributes,
                })
            })
            .collect())
    }

    /// `DeleteMessage`: only after the record's archive is durable.
    pub async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .send()
            .await
            .map_err(|e| self.err("DeleteMessage", &e))?;
        Ok(())
    }

    /// `ChangeMessageVisibility`: hide a received message for `after` from now
    /// (zero makes it visible again at once).
    pub async fn change_visibility(
        &self,
        receipt_handle: &str,
        after: Duration,
    ) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(after.as_secs().min(43_200) as i32)
            .send()
            .await
            .map_err(|e| self.err("ChangeMessageVisibility", &e))?;
        Ok(())
    }

    /// `SendMessage`; returns the new message id.
    pub async fn send(&self, body: &str) -> Result<String, QueueError> {
        let out = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| self.err("SendMessage", &e))?;
        Ok(out.message_id.unwrap_or_default())
    }

    /// `GetQueueAttributes`: (visible, in flight) message counts.
    pub async fn depth(&self) -> Result<(u64, u64), QueueError> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(|e| self.err("GetQueueAttributes", &e))?;
        let attrs = out.attributes.unwrap_or_default();
        let n = |a: QueueAttributeName| attrs.get(&a).and_then(|v| v.parse().ok()).unwrap_or(0);
        Ok((
            n(QueueAttributeName::ApproximateNumberOfMessages),
            n(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        ))
    }

    /// `GetQueueAttributes` `QueueArn`.
    pub async fn arn(&self) -> Result<String, QueueError> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| self.err("GetQueueAttributes", &e))?;
        out.attributes
            .unwrap_or_default()
            .remove(&QueueAttributeName::QueueArn)
            .ok_or_else(|| QueueError {
                op: "GetQueueAttributes",
                queue: self.url.clone(),
                message: "the answer has no QueueArn".into(),
            })
    }

    /// `GetQueueAttributes` `RedrivePolicy`: the JSON as SQS keeps it, or
    /// `None` when the queue has none.
    pub async fn redrive_policy(&self) -> Result<Option<String>, QueueError> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::RedrivePolicy)
            .send()
            .await
            .map_err(|e| self.err("GetQueueAttributes", &e))?;
        Ok(out
            .attributes
            .unwrap_or_default()
            .remove(&QueueAttributeName::RedrivePolicy)
            .filter(|p| !p.is_empty()))
    }

    /// `GetQueueUrl` for the queue `arn` names (`arn:PARTITION:sqs:REGION:ACCOUNT:NAME`),
    /// as a [`Queue`] with this one's client.
    pub async fn by_arn(&self, arn: &str) -> Result<Queue, QueueError> {
        let bad = || QueueError {
            op: "GetQueueUrl",
            queue: arn.to_string(),
            message: "not an SQS queue ARN (arn:aws:sqs:REGION:ACCOUNT:NAME)".into(),
        };
        let parts: Vec<&str> = arn.split(':').collect();
        let [_, _, "sqs", _, account, name] = parts.as_slice() else {
            return Err(bad());
        };
        let out = self
            .client
            .get_queue_url()
            .queue_name(*name)
            .queue_owner_aws_account_id(*account)
            .send()
            .await
            .map_err(|e| QueueError {
                op: "GetQueueUrl",
                queue: arn.to_string(),
                message: crate::error_text(&e),
            })?;
        let url = out.queue_url.ok_or_else(bad)?;
        Ok(Queue {
            client: self.client.clone(),
            url,
        })
    }

    /// `ListDeadLetterSourceQueues`: the URLs of the queues whose redrive
    /// policy names this queue as their DLQ (empty for EventBridge's
    /// delivery DLQ, which no queue feeds).
    pub async fn dead_letter_sources(&self) -> Result<Vec<String>, QueueError> {
        let mut urls = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let out = self
                .client
                .list_dead_letter_source_queues()
                .queue_url(&self.url)
                .max_results(1000)
                .set_next_token(next)
                .send()
                .await
                .map_err(|e| self.err("ListDeadLetterSourceQueues", &e))?;
            urls.extend(out.queue_urls);
            next = out.next_token.filter(|t| !t.is_empty());
            if next.is_none() {
                return Ok(urls);
            }
        }
    }

    /// `StartMessageMoveTask` from this queue (which must be the DLQ of some
    /// queue) to the queue `destination_arn`: SQS moves every message
    /// server-side, keeping its attributes. Returns the task handle.
    pub async fn start_message_move_task(
        &self,
        destination_arn: &str,
    ) -> Result<String, QueueError> {
        let source_arn = self.arn().await?;
        let out = self
            .client
            .start_message_move_task()
            .source_arn(source_arn)
            .destination_arn(destination_arn)
            .send()
            .await
            .map_err(|e| self.err("StartMessageMoveTask", &e))?;
        Ok(out.task_handle.unwrap_or_default())
    }

    /// Move every message of this queue (a DLQ) to `to`: see [`Self::redrive_at_most`].
    pub async fn redrive_to(&self, to: &Queue) -> Result<usize, QueueError> {
        self.redrive_at_most(to, None).await
    }

    /// Move up to `max` messages (all with `None`) of this queue to `to`:
    /// receive, send to `to`, and only then delete here, so that a failure at
    /// any step leaves the message in one queue or both, never in none.
    /// Returns how many moved. `to` must not be this queue, or this never
    /// ends (each message sent comes back to be moved again): the caller
    /// checks.
    pub async fn redrive_at_most(
        &self,
        to: &Queue,
        max: Option<usize>,
    ) -> Result<usize, QueueError> {
        let mut moved = 0usize;
        loop {
            let want = max.map_or(10, |m| m.saturating_sub(moved).min(10));
            if want == 0 {
                return Ok(moved);
            }
            // `want` is 1..=10 here, so the cast cannot truncate.
            let batch = self.receive(want as i32, 1, 60).await?;
            if batch.is_empty() {
                return Ok(moved);
            }
            for m in batch {
                to.send(&m.body).await?;
                self.delete(&m.receipt_handle).await?;
                moved += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queue_url_names_its_region() {
        assert_eq!(
            region_of("https://sqs.eu-west-1.amazonaws.com/123456789012/q"),
            Some("eu-west-1")
        );
        assert_eq!(
            region_of("https://sqs.cn-north-1.amazonaws.com.cn/1/q"),
            Some("cn-north-1")
        );
        assert_eq!(
            region_of("https://us-east-2.queue.amazonaws.com/1/q"),
            Some("us-east-2")
        );
        for none in [
            "http://127.0.0.1:4566/000000000000/q",
            "https://sqs..amazonaws.com/1/q",
            "https://sqs.EU.amazonaws.com/1/q",
            "not a url",
            "",
        ] {
            assert_eq!(region_of(none), None, "{none}");
        }
    }
}
