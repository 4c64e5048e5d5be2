//! `tvault dlq inspect` and `tvault dlq redrive` against moto's SQS.
//!
//! moto 5.2.5 implements `ListDeadLetterSourceQueues` but not
//! `StartMessageMoveTask` (it answers HTTP 500), so the server-side move is
//! exercised up to the request and its refusal, and the test proves the
//! send-then-delete fallback moves every message.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::MessageAttributeValue;
use tvault_testkit::pipeline::{self, Queues};

use crate::util::*;

/// `tvault ARGS` with moto's endpoint, killed after `limit` (a redrive that
/// never ends must fail the test, not hang it).
fn tvault_aws(endpoint: &str, args: &[&str], limit: Duration) -> Output {
    let mut cmd: Command = command("unused", args);
    for (k, v) in pipeline::aws_env(endpoint) {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "tvault {args:?} still running after {limit:?}: {}{}",
                stdout(&out),
                stderr(&out)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

async fn run(endpoint: &str, args: &[&str]) -> Output {
    let endpoint = endpoint.to_string();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        tvault_aws(&endpoint, &refs, Duration::from_secs(60))
    })
    .await
    .unwrap()
}

/// Three bodies moved into the archive DLQ by its source's redrive policy
/// (maxReceiveCount 1: the second receive moves each one).
async fn dead_letters(q: &Queues) -> Vec<String> {
    let bodies: Vec<String> = (0..3).map(|i| format!("not JSON {i}")).collect();
    pipeline::send_all(&q.source, &bodies).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while q.dlq.depth().await.unwrap().0 < 3 {
        assert!(
            Instant::now() < deadline,
            "the redrive policy moved nothing"
        );
        for m in q.source.receive(10, 0, 0).await.unwrap() {
            q.source
                .change_visibility(&m.receipt_handle, Duration::ZERO)
                .await
                .unwrap();
        }
    }
    bodies
}

async fn depths(q: &Queues) -> (u64, u64) {
    (
        q.source.depth().await.unwrap().0,
        q.dlq.depth().await.unwrap().0,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_shows_enqueue_time_count_topic_conversation_and_eventbridge_error() {
    let Some((endpoint, config)) = pipeline::moto().await else {
        return;
    };
    // EventBridge's delivery DLQ: no queue feeds it, EventBridge sends the
    // undelivered event with RULE_ARN, TARGET_ARN, ERROR_CODE and
    // ERROR_MESSAGE attributes (AWS EventBridge User Guide, "Using
    // dead-letter queues to process undelivered events").
    let q = pipeline::queues(&config, 1, 30).await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let attr = |v: &str| {
        MessageAttributeValue::builder()
            .data_type("String")
            .string_value(v)
            .build()
            .unwrap()
    };
    let before = chrono::Utc::now() - chrono::Duration::seconds(2);
    sqs.send_message()
        .queue_url(q.dlq.url())
        .message_body(pipeline::customer_end(CONV))
        .message_attributes("ERROR_CODE", attr("SDK_CLIENT_ERROR"))
        .message_attributes("ERROR_MESSAGE", attr("Queue does not exist"))
        .message_attributes("RULE_ARN", attr("arn:aws:events:eu-west-1:1:rule/tvault"))
        .message_attributes("TARGET_ARN", attr("arn:aws:sqs:eu-west-1:1:gone"))
        .send()
        .await
        .unwrap();
    q.dlq.send("not JSON \u{1b}[2K at all").await.unwrap();

    let out = run(&endpoint, &["dlq", "inspect", "--queue-url", q.dlq.url()]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[2].starts_with("2 message(s) in "), "{text}");
    let event = lines.iter().find(|l| l.contains(CONV)).expect(&text);
    for part in [
        format!("conversation {CONV}"),
        format!("topic v2.detail.events.conversation.{CONV}.customer.end"),
        "received 1x".to_string(),
        "ERROR_CODE SDK_CLIENT_ERROR".to_string(),
        "ERROR_MESSAGE Queue does not exist".to_string(),
        "TARGET_ARN arn:aws:sqs:eu-west-1:1:gone".to_string(),
    ] {
        assert!(event.contains(&part), "{part:?} not in {event}");
    }
    let enqueued = event
        .split('\t')
        .find_map(|f| f.strip_prefix("first enqueued "))
        .expect(event);
    let enqueued = tvault_core::transcript::parse_time(enqueued).unwrap();
    assert!(
        enqueued >= before && enqueued <= chrono::Utc::now() + chrono::Duration::seconds(2),
        "{enqueued}"
    );
    let junk = lines
        .iter()
        .find(|l| l.contains("invalid input"))
        .expect(&text);
    assert!(junk.contains("topic ?\tconversation ?"), "{junk}");
    assert!(!junk.contains("ERROR_CODE"), "{junk}");
    // The body's escape sequence reaches the terminal escaped.
    assert!(!text.contains('\u{1b}'), "{text:?}");
    // Inspect consumed nothing (moto counts both as visible again).
    assert_eq!(q.dlq.depth().await.unwrap().0, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redrive_to_the_dlq_itself_is_refused_instead_of_looping() {
    let Some((endpoint, config)) = pipeline::moto().await else {
        return;
    };
    let q = pipeline::queues(&config, 1, 30).await;
    q.dlq.send("not JSON").await.unwrap();
    let same = format!("{}/", q.dlq.url());
    for to in [q.dlq.url(), same.as_str()] {
        let out = run(
            &endpoint,
            &["dlq", "redrive", "--queue-url", q.dlq.url(), "--to", to],
        )
        .await;
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("is the dead-letter queue itself"),
            "{}",
            stderr(&out)
        );
    }
    assert_eq!(q.dlq.depth().await.unwrap().0, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redrive_dry_run_moves_nothing_and_max_moves_at_most_n() {
    let Some((endpoint, config)) = pipeline::moto().await else {
        return;
    };
    let q = pipeline::queues(&config, 1, 30).await;
    dead_letters(&q).await;
    assert_eq!(depths(&q).await, (0, 3));
    let (dlq, src) = (q.dlq.url(), q.source.url());

    let out = run(
        &endpoint,
        &[
            "dlq",
            "redrive",
            "--queue-url",
            dlq,
            "--to",
            src,
            "--dry-run",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("would move 3 message(s)")
            && stdout(&out).contains("server-side, StartMessageMoveTask"),
        "{}",
        stdout(&out)
    );
    assert_eq!(depths(&q).await, (0, 3));

    let out = run(
        &endpoint,
        &[
            "dlq",
            "redrive",
            "--queue-url",
            dlq,
            "--to",
            src,
            "--max",
            "2",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("moved 2 message(s)"),
        "{}",
        stdout(&out)
    );
    // --max never asks for the server-side move, which cannot stop at N.
    assert!(
        !stderr(&out).contains("StartMessageMoveTask"),
        "{}",
        stderr(&out)
    );
    assert_eq!(depths(&q).await, (2, 1));

    let out = run(
        &endpoint,
        &[
            "dlq",
            "redrive",
            "--queue-url",
            dlq,
            "--to",
            src,
            "--max",
            "0",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redrive_of_the_archive_dlq_tries_the_server_side_move_then_falls_back() {
    let Some((endpoint, config)) = pipeline::moto().await else {
        return;
    };
    let q = pipeline::queues(&config, 1, 30).await;
    let bodies = dead_letters(&q).await;
    let out = run(
        &endpoint,
        &[
            "dlq",
            "redrive",
            "--queue-url",
            q.dlq.url(),
            "--to",
            q.source.url(),
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // moto refuses StartMessageMoveTask (HTTP 500): the request was made,
    // its refusal named, and every message still moved.
    assert!(
        stderr(&out).contains("StartMessageMoveTask") && stderr(&out).contains("send, then delete"),
        "{}",
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("moved 3 message(s)"),
        "{}",
        stdout(&out)
    );
    assert_eq!(depths(&q).await, (3, 0));
    let mut back: Vec<String> = q
        .source
        .receive(10, 1, 30)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.body)
        .collect();
    back.sort();
    assert_eq!(back, bodies);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redrive_of_a_delivery_dlq_sends_then_deletes_without_a_move_task() {
    let Some((endpoint, config)) = pipeline::moto().await else {
        return;
    };
    // Another queue pair's source stands for the archive queue; this DLQ
    // feeds from no queue, as EventBridge's delivery DLQ.
    let q = pipeline::queues(&config, 1, 30).await;
    let delivery = pipeline::queues(&config, 1, 30).await.dlq;
    delivery.send(&pipeline::customer_end(CONV)).await.unwrap();
    let out = run(
        &endpoint,
        &[
            "dlq",
            "redrive",
            "--queue-url",
            delivery.url(),
            "--to",
            q.source.url(),
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("moved 1 message(s)"),
        "{}",
        stdout(&out)
    );
    assert!(
        !stderr(&out).contains("StartMessageMoveTask"),
        "{}",
        stderr(&out)
    );
    assert_eq!(delivery.depth().await.unwrap().0, 0);
    assert_eq!(q.source.depth().await.unwrap().0, 1);
}
