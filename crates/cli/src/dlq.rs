//! `tvault dlq inspect | redrive`.

use std::collections::BTreeMap;

use anyhow::Result;
use tvault_aws::{Queue, Received};
use tvault_core::event::{Classified, classify};
use tvault_core::transcript::fmt_time;

use crate::cli::{DlqCommand, EXIT_OK, EXIT_USAGE};
use crate::term;

/// Receives in a row that bring no new message before inspect stops.
const QUIET_ROUNDS: usize = 3;

/// The message attributes EventBridge puts on an event it could not deliver
/// to its target, in the order printed (AWS EventBridge User Guide, "Using
/// dead-letter queues to process undelivered events").
const DELIVERY_ATTRIBUTES: [&str; 4] = ["ERROR_CODE", "ERROR_MESSAGE", "RULE_ARN", "TARGET_ARN"];

pub async fn run(cmd: DlqCommand) -> Result<u8> {
    let config = tvault_aws::sdk_config().await;
    match cmd {
        DlqCommand::Inspect { queue_url } => {
            let dlq = Queue::new(&config, &queue_url);
            let seen = peek_all(&dlq).await?;
            for m in seen.values() {
                // Bodies and attributes come from whoever could send: escaped.
                println!("{}", term::line(&describe(m)));
            }
            println!("{} message(s) in {}", seen.len(), term::line(&queue_url));
            Ok(EXIT_OK)
        }
        DlqCommand::Redrive {
            queue_url,
            to,
            dry_run,
            max,
        } => {
            let dlq = Queue::new(&config, &queue_url);
            let target = Queue::new(&config, &to);
            redrive(&dlq, &target, dry_run, max).await
        }
    }
}

async fn redrive(dlq: &Queue, to: &Queue, dry_run: bool, max: Option<u64>) -> Result<u8> {
    // Moving a queue into itself never ends: each message sent comes back to
    // be moved again. Two URLs can name one queue, so compare ARNs too.
    if same_url(dlq.url(), to.url()) || dlq.arn().await? == to.arn().await? {
        eprintln!(
            "tvault dlq redrive: --to {} is the dead-letter queue itself; give the source queue it came from",
            term::line(to.url())
        );
        return Ok(EXIT_USAGE);
    }
    let max = max.map(|m| usize::try_from(m).unwrap_or(usize::MAX));
    // Server-side only where SQS allows it: `to`'s redrive policy names this
    // DLQ (the archive DLQ), and no count limit (a move task cannot stop at N).
    let server_side = max.is_none()
        && dlq
            .dead_letter_sources()
            .await?
            .iter()
            .any(|u| same_url(u, to.url()));
    if dry_run {
        let n = peek_all(dlq).await?.len();
        let n = max.map_or(n, |m| n.min(m));
        println!(
            "dry run: would move {n} message(s) from {} to {} ({}); nothing moved",
            term::line(dlq.url()),
            term::line(to.url()),
            if server_side {
                "server-side, StartMessageMoveTask"
            } else {
                "send, then delete"
            }
        );
        return Ok(EXIT_OK);
    }
    if server_side {
        match dlq.start_message_move_task(&to.arn().await?).await {
            Ok(handle) => {
                println!(
                    "started a server-side move from {} to {} (StartMessageMoveTask, task handle {}); \
                     follow it with `aws sqs list-message-move-tasks --source-arn {}`",
                    term::line(dlq.url()),
                    term::line(to.url()),
                    term::line(&handle),
                    term::line(&dlq.arn().await?)
                );
                return Ok(EXIT_OK);
            }
            // A role without sqs:StartMessageMoveTask, a task already
            // running, or an emulator without it (moto 5.2 answers 500):
            // the loop below still moves every message safely.
            Err(e) => eprintln!(
                "tvault dlq redrive: the server-side move was refused ({}); moving by send, then delete",
                term::line(&e.to_string())
            ),
        }
    }
    let moved = dlq.redrive_at_most(to, max).await?;
    println!(
        "moved {moved} message(s) from {} to {} (send, then delete)",
        term::line(dlq.url()),
        term::line(to.url())
    );
    Ok(EXIT_OK)
}

/// Queue URLs name one queue when they differ only by a trailing slash or
/// the case of the scheme and host.
fn same_url(a: &str, b: &str) -> bool {
    fn norm(u: &str) -> String {
        let u = u.trim().trim_end_matches('/');
        match u.split_once("://") {
            Some((scheme, rest)) => {
                let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
                format!(
                    "{}://{}/{path}",
                    scheme.to_ascii_lowercase(),
                    host.to_ascii_lowercase()
                )
            }
            None => u.to_string(),
        }
    }
    norm(a) == norm(b)
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

/// One line per message: id, first enqueue time, receive count, topic,
/// conversation, EventBridge's delivery error if it put one, and why it failed.
fn describe(m: &Received) -> String {
    let classified = classify(&m.body);
    let (topic, conversation) = match &classified {
        Ok(Classified::Lifecycle(e)) => (e.info.topic.clone(), Some(e.conversation_id.as_str())),
        Ok(Classified::Transcript(e)) => {
            (e.info.topic.clone(), Some(e.draft.conversation_id.as_str()))
        }
        Ok(Classified::Skipped(s)) => (Some(s.topic.clone()), None),
        Err(_) => (None, None),
    };
    let enqueued = m
        .sent_at_ms
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(fmt_time)
        .unwrap_or_else(|| "?".into());
    let mut line = format!(
        "{}\tfirst enqueued {enqueued}\treceived {}x\ttopic {}\tconversation {}",
        m.message_id,
        m.receive_count,
        topic.as_deref().unwrap_or("?"),
        conversation.unwrap_or("?"),
    );
    for name in DELIVERY_ATTRIBUTES {
        if let Some(v) = m.attributes.get(name) {
            line.push_str(&format!("\t{name} {v}"));
        }
    }
    line.push('\t');
    line.push_str(&reason(&classified));
    line
}

/// Why a dead-letter message failed, as far as its body tells.
fn reason(classified: &Result<Classified, tvault_core::event::InvalidInput>) -> String {
    match classified {
        Err(e) => format!("invalid input: {e}"),
        Ok(Classified::Skipped(s)) => format!("would now be skipped ({}: {})", s.topic, s.reason),
        Ok(_) => "valid event: it failed for a passing or configuration reason; \
             search the router's logs for this message id, fix the cause, then redrive"
            .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_queue_named_two_ways_is_the_same_url() {
        assert!(same_url(
            "https://SQS.eu-west-1.amazonaws.com/1/q",
            "https://sqs.eu-west-1.amazonaws.com/1/q/"
        ));
        assert!(!same_url(
            "https://sqs.eu-west-1.amazonaws.com/1/q",
            "https://sqs.eu-west-1.amazonaws.com/1/q-dlq"
        ));
        // The path (the queue name) is case-sensitive in SQS.
        assert!(!same_url("http://h/1/Q", "http://h/1/q"));
    }
}
