//! SQS operations the router and `tvault dlq` need.

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
    /// `SentTimestamp`, milliseconds since the epoch.
    pub sent_at_ms: Option<i64>,
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
                Some(Received {
                    message_id: m.message_id?,
                    receipt_handle: m.receipt_handle?,
                    body: m.body.unwrap_or_default(),
                    receive_count: attr(MessageSystemAttributeName::ApproximateReceiveCount)
                        .unwrap_or(1) as u32,
                    sent_at_ms: attr(MessageSystemAttributeName::SentTimestamp),
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

    /// Move every message of this queue (a DLQ) to `to`: receive, send to
    /// `to`, and only then delete here, so that a failure at any step leaves
    /// the message in one queue or both, never in none. Returns how many moved.
    ///
    /// `StartMessageMoveTask` would do this server-side, but it needs the
    /// queues' ARNs and permissions the router's role does not have, and
    /// moto does not implement it; this loop works everywhere.
    pub async fn redrive_to(&self, to: &Queue) -> Result<usize, QueueError> {
        let mut moved = 0;
        loop {
            let batch = self.receive(10, 1, 60).await?;
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
