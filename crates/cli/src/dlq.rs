//! `tvault dlq inspect | redrive`.

use std::collections::BTreeMap;

use anyhow::Result;
use tvault_aws::{Queue, Received};
use tvault_core::event::{Classified, classify};

use crate::cli::{DlqCommand, EXIT_OK};

/// Receives in a row that bring no new message before inspect stops.
const QUIET_ROUNDS: usize = 3;

pub async fn run(cmd: DlqCommand) -> Result<u8> {
    let config = tvault_aws::sdk_config().await;
    match cmd {
        DlqCommand::Inspect { queue_url } => {
            let dlq = Queue::new(&config, &queue_url);
            let seen = peek_all(&dlq).await?;
            for m in seen.values() {
                println!(
                    "{}\treceived {}x\t{}",
                    m.message_id,
                    m.receive_count,
                    reason(&m.body)
                );
            }
            println!("{} message(s) in {queue_url}", seen.len());
            Ok(EXIT_OK)
        }
        DlqCommand::Redrive { queue_url, to } => {
            let moved = Queue::new(&config, &queue_url)
                .redrive_to(&Queue::new(&config, &to))
                .await?;
            println!("moved {moved} message(s) from {queue_url} to {to}");
            Ok(EXIT_OK)
        }
    }
}

/// Receive with a visibility timeout of zero, so nothing is consumed or
/// hidden, until a few receives in a row bring nothing new.
async fn peek_all(dlq: &Queue) -> Result<BTreeMap<String, Received>> {
    let mut seen = BTreeMap::new();
    let mut quiet = 0;
    while quiet < QUIET_ROUNDS {
        let batch = dlq.receive(10, 1, 0).await?;
        let before = seen.len();
        for m in batch {
            seen.entry(m.message_id.clone()).or_insert(m);
        }
        quiet = if seen.len() == before { quiet + 1 } else { 0 };
    }
    Ok(seen)
}

/// Why a dead-letter message failed, as far as its body tells.
fn reason(body: &str) -> String {
    match classify(body) {
        Err(e) => format!("invalid input: {e}"),
        Ok(Classified::Skipped(s)) => format!("would now be skipped ({}: {})", s.topic, s.reason),
        Ok(c) => format!(
            "valid event for conversation {}: it failed for a passing or configuration reason; \
             search the router's logs for this message id, fix the cause, then redrive",
            c.conversation_id().map(|c| c.as_str()).unwrap_or("?")
        ),
    }
}
