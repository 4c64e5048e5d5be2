//! The shipped `bootstrap` binary, run as Lambda runs it: against a Runtime
//! API emulator, fed SQS batches from moto the way an event source mapping
//! does (receive, invoke, delete what did not fail), with the settings secret
//! in moto's Secrets Manager and the fake Genesys API behind it.

// Tests may unwrap: a panic is a failed test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tvault_testkit::genesys::{
    CLIENT_ID, CLIENT_SECRET, FakeConversation, FakeGenesys, Fault, Route,
};
use tvault_testkit::lambda::{Answer, RuntimeApi};
use tvault_testkit::panic::transcript_event;
use tvault_testkit::pipeline::{self, Queues};
use tvault_testkit::proxy::{FaultPlan, Proxy};

struct Function {
    child: tokio::process::Child,
    /// Every line the function wrote to stdout (where Lambda reads logs).
    stdout_lines: tokio::task::JoinHandle<Vec<String>>,
    /// Log lines that carry a ledger witness (field `witness`), as they come.
    witness_lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Function {
    /// Stop the function; its stdout lines.
    async fn stop(mut self) -> Vec<String> {
        self.child.kill().await.unwrap();
        self.stdout_lines.await.unwrap()
    }
}

/// The Embedded Metric Format lines among `lines`.
fn emf(lines: &[String]) -> Vec<&String> {
    lines.iter().filter(|l| l.contains("\"_aws\"")).collect()
}

async fn secret(
    config: &tvault_aws::SdkConfig,
    genesys_base: &str,
    client_secret: &str,
    azure: Option<&str>,
) -> String {
    let id = format!(
        "tvault/e2e-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let mut value = json!({
        "GENESYSCLOUD_OAUTHCLIENT_ID": CLIENT_ID,
        "GENESYSCLOUD_OAUTHCLIENT_SECRET": client_secret,
        "GENESYSCLOUD_REGION": genesys_base,
    });
    if let Some(cs) = azure {
        value["AZURE_STORAGE_CONNECTION_STRING"] = json!(cs);
    }
    aws_sdk_secretsmanager::Client::new(config)
        .create_secret()
        .name(&id)
        .secret_string(value.to_string())
        .send()
        .await
        .unwrap();
    id
}

fn start(
    rt: &RuntimeApi,
    endpoint: &str,
    secret_id: &str,
    vault: impl AsRef<std::ffi::OsStr>,
    extra: &[(&str, &str)],
) -> Function {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_bootstrap"));
    cmd.env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", rt.host_port())
        .env("AWS_LAMBDA_FUNCTION_NAME", "tvault-router")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("TVAULT_SECRET_ID", secret_id)
        .env("TVAULT_VAULT", vault)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    for (k, v) in pipeline::aws_env(endpoint) {
        cmd.env(k, v);
    }
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let witness_lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let witnessed = witness_lines.clone();
    let stdout_lines = tokio::spawn(async move {
        let mut lines = BufReader::new(stdout).lines();
        let mut all = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("\"witness\"") {
                witnessed.lock().unwrap().push(line.clone());
            }
            all.push(line);
        }
        all
    });
    Function {
        child,
        stdout_lines,
        witness_lines,
    }
}

/// What an SQS event source mapping does: receive a batch, invoke, delete
/// the records the response does not list as failed. Returns the failures.
async fn poll_once(rt: &RuntimeApi, q: &Queues, visibility: i32) -> Option<Vec<String>> {
    poll_batch(rt, q, visibility, Duration::from_secs(60))
        .await
        .map(|(_, failed)| failed)
}

/// [`poll_once`] for a function whose timeout is `timeout`; also returns how
/// many records the batch held.
async fn poll_batch(
    rt: &RuntimeApi,
    q: &Queues,
    visibility: i32,
    timeout: Duration,
) -> Option<(usize, Vec<String>)> {
    pipeline::deliver_batch(rt, q, visibility, timeout).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_credential_rereads_the_rotated_secret_and_work_continues() {
    let Some((endpoint, config)) = pipeline::moto().await else {
        return;
    };
    let fake = FakeGenesys::start().await.unwrap();
    let conv = "rotation-8d3f4c1e";
    fake.add(FakeConversation::sample(conv, b"p".to_vec(), b"i".to_vec()));
    let q = pipeline::queues(&config, 5, 1).await;
    let body = pipeline::customer_end(conv);
    q.source.send(&body).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let rt = RuntimeApi::start().await.unwrap();
    // The secret holds an old client secret: Genesys refuses it.
    let secret_id = secret(&config, &fake.base_url(), "old-rotated-away", None).await;
    let mut f = start(
        &rt,
        &endpoint,
        &secret_id,
        dir.path().join("v"),
        &[("TVAULT_SECRET_MIN_REREAD_SECONDS", "0")],
    );

    let failed = poll_once(&rt, &q, 1).await.unwrap();
    assert_eq!(
        failed.len(),
        1,
        "refused credential: the record fails and stays queued"
    );

    // Rotation lands in Secrets Manager; the next refusal re-reads it.
    let value = json!({"GENESYSCLOUD_OAUTHCLIENT_ID": CLIENT_ID, "GENESYSCLOUD_OAUTHCLIENT_SECRET": CLIENT_SECRET, "GENESYSCLOUD_REGION": fake.base_url()});
    aws_sdk_secretsmanager::Client::new(&config)
        .put_secret_value()
        .secret_id(&secret_id)
        .secret_string(value.to_string())
        .send()
        .await
        .unwrap();
    // The failed record is visible again once its 1 s visibility lapses.
    let end = Instant::now() + Duration::from_secs(30);
    let failed = loop {
        if let Some(failed) = poll_once(&rt, &q, 1).await {
            break failed;
        }
        assert!(Instant::now() < end, "the failed record never came back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        failed.is_empty(),
        "archived with the rotated secret: {failed:?}"
    );
    let vault = tvault_vault::open(dir.path().join("v").to_str().unwrap()).unwrap();
    assert_eq!(
        pipeline::generations(vault.as_ref()).await.get(conv),
        Some(&1)
    );
    f.child.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_not_ready_record_is_hidden_longer_than_the_queue_default() {
    let Some((endpoint, config)) = pipeline::moto().await else {
        return;
    };
    let fake = FakeGenesys::start().await.unwrap();
    let conv = "notready-8d3f4c1e";
    fake.add(FakeConversation::sample(conv, b"p".to_vec(), b"i".to_vec()));
    fake.script(Route::Recordings, [Fault::Status(202), Fault::Status(202)]);
    let q = pipeline::queues(&config, 5, 1).await;
    let body = pipeline::customer_end(conv);
    q.source.send(&body).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let rt = RuntimeApi::start().await.unwrap();
    let secret_id = secret(&config, &fake.base_url(), CLIENT_SECRET, None).await;
    let mut f = start(&rt, &endpoint, &secret_id, dir.path().join("v"), &[]);

    let failed = poll_once(&rt, &q, 1).await.unwrap();
    assert_eq!(failed.len(), 1, "202: not ready");
    // The queue's own visibility is 1 s; the function hid the record for the
    // not-ready delay (60 s on the first receive, doubling after; see
    // tvault_core::retry), so two seconds later it is still in flight. The
    // wait is the behaviour under test: "still hidden after the queue's own
    // visibility has lapsed", which only time can show.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        q.source.depth().await.unwrap(),
        (0, 1),
        "hidden, not visible, not lost"
    );
    assert!(q.source.receive(10, 1, 1).await.unwrap().is_empty());
    f.child.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_is_released_at_once_and_reaches_the_dlq_in_seconds() {
    let Some((endpoint, config)) = pipeline::moto().await else {
        return;
    };
    let fake = FakeGenesys::start().await.unwrap();
    // The queue hides a received record for 5 minutes (the template's is half
    // an hour); poison must not wait that out once per receive.
    let q = pipeline::queues(&config, 2, 300).await;
    let mut poison = vec![
        "this is not JSON".to_string(),
        r#"{"detail":{"conversationId":"../../etc/passwd","messages":[]}}"#.to_string(),
    ];
    pipeline::send_all(&q.source, &poison).await;
    let dir = tempfile::tempdir().unwrap();
    let rt = RuntimeApi::start().await.unwrap();
    let secret_id = secret(&config, &fake.base_url(), CLIENT_SECRET, None).await;
    let mut f = start(&rt, &endpoint, &secret_id, dir.path().join("v"), &[]);

    let end = Instant::now() + Duration::from_secs(30);
    while q.dlq.depth().await.unwrap().0 < 2 && Instant::now() < end {
        if poll_once(&rt, &q, 300).await.is_none() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    assert_eq!(
        q.dlq.depth().await.unwrap().0,
        2,
        "both poison records in the DLQ"
    );
    assert_eq!(q.source.depth().await.unwrap(), (0, 0));
    poison.sort();
    assert_eq!(pipeline::take_all(&q.dlq).await, poison, "bodies unchanged");
    f.child.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visibility_changes_of_a_batch_run_concurrently_within_the_reserve() {
    let Some((endpoint, config)) = pipeline::moto().await else {
        return;
    };
    let fake = FakeGenesys::start().await.unwrap();
    let q = pipeline::queues(&config, 5, 300).await;
    let poison: Vec<String> = (0..10).map(|i| format!("not JSON #{i}")).collect();
    pipeline::send_all(&q.source, &poison).await;
    // Every SQS call of the function takes a second (a slow network, a
    // throttled endpoint): ten changes one after the other would take ten,
    // past the 6 s timeout and its reserve (2.3 s).
    let slow = Proxy::start(
        &endpoint,
        FaultPlan {
            delay: Duration::from_secs(1),
            ..FaultPlan::default()
        },
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let rt = RuntimeApi::start().await.unwrap();
    let secret_id = secret(&config, &fake.base_url(), CLIENT_SECRET, None).await;
    let mut f = start(&rt, &slow.url(), &secret_id, dir.path().join("v"), &[]);
    // The first invocation after the cold start (the secret is read through
    // the slow proxy too) is the one measured.
    while rt.first_poll().is_none() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let timeout = Duration::from_secs(6);
    let invoked = Instant::now();
    // moto returns every visible message up to the 10 asked for.
    let (records, failed) = poll_batch(&rt, &q, 300, timeout).await.unwrap();
    let took = invoked.elapsed();
    assert_eq!((records, failed.len()), (10, 10));
    assert!(
        took < timeout,
        "the function answered after its timeout: {took:?}"
    );
    // Every invalid record was released: all ten are visible again at once,
    // although the queue would have hidden them for 5 minutes.
    assert_eq!(q.source.depth().await.unwrap(), (10, 0));
    f.child.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_direct_invocation_archives_the_event_bytes_as_received() {
    let Some((endpoint, config)) = pipeline::moto().await else {
        return;
    };
    let fake = FakeGenesys::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let rt = RuntimeApi::start().await.unwrap();
    let secret_id = secret(&config, &fake.base_url(), CLIENT_SECRET, None).await;
    let mut f = start(&rt, &endpoint, &secret_id, dir.path().join("v"), &[]);
    // Spacing, key order and a number spelled 1.0e3: a re-serialised Value
    // would sort the keys, drop the spaces and write 1000.0.
    let event = r#"{ "id" : "evt-direct-1", "version":"0", "source":"tvault.tests", "detail-type":"transcript",
        "detail": {"messages": [{"text": "hi", "timestamp": "2026-09-20T09:14:03.512Z", "messageId": "m1"}],
                   "mediaType": "MESSAGE", "conversationId": "direct-8d3f4c1e", "size": 1.0e3}}"#;
    let answer = rt.invoke_raw(event, Duration::from_secs(60)).await;
    assert_eq!(answer, Answer::Response(Value::Null));
    let vault = tvault_vault::open(dir.path().join("v").to_str().unwrap()).unwrap();
    let mut stored = Vec::new();
    for l in
        tvault_core::ports::Vault::list(vault.as_ref(), "conversations/direct-8d3f4c1e/source/")
            .await
            .unwrap()
    {
        stored.push(
            tvault_core::ports::Vault::get(vault.as_ref(), &l.path)
                .await
                .unwrap(),
        );
    }
    assert!(
        stored.iter().any(|b| b.as_ref() == event.as_bytes()),
        "the event's bytes, as received, are under source/"
    );
    f.child.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_azure_retry_after_of_1e30_fails_its_record_as_transient_not_the_batch() {
    let Some((endpoint, config)) = pipeline::moto().await else {
        return;
    };
    let Some((vault_url, cs)) = pipeline::azurite_container("devstoreaccount1").await else {
        return;
    };
    // Azurite behind the fault proxy: its first answer is 429 with Retry-After 1e30.
    let azurite = std::env::var("TVAULT_TEST_AZURITE").unwrap();
    let (origin, _) = azurite.rsplit_once('/').unwrap();
    let proxy = Proxy::start(
        origin,
        FaultPlan {
            throttle_first: 1,
            retry_after_raw: Some("1e30".into()),
            ..FaultPlan::default()
        },
    )
    .await
    .unwrap();
    let (proxied_url, proxied_cs) = (
        vault_url.replacen(origin, &proxy.url(), 1),
        cs.replacen(origin, &proxy.url(), 1),
    );
    let fake = FakeGenesys::start().await.unwrap();
    let q = pipeline::queues(&config, 5, 2).await;
    let convs = ["ra1-8d3f4c1e", "ra2-8d3f4c1e", "ra3-8d3f4c1e"];
    for c in convs {
        q.source.send(&transcript_event(c)).await.unwrap();
    }
    let rt = RuntimeApi::start().await.unwrap();
    let secret_id = secret(&config, &fake.base_url(), CLIENT_SECRET, Some(&proxied_cs)).await;
    let mut f = start(&rt, &endpoint, &secret_id, &proxied_url, &[]);

    let started = Instant::now();
    // moto returns every visible message up to the 10 asked for: one batch.
    let (records, failed) = poll_batch(&rt, &q, 2, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(records, 3);
    assert_eq!(
        failed.len(),
        1,
        "only the throttled record fails: {failed:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "slept through the Retry-After's 30 s cap"
    );
    assert_eq!(proxy.counts().throttled_429, 1);
    // Transient: hidden for the router's transient delay (10 s), longer than
    // the queue's own 2 s; a crashed (panicked) record would be visible again.
    // The wait is the behaviour under test: still hidden once the queue's
    // 2 s have lapsed, which only time can show.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(q.source.depth().await.unwrap(), (0, 1));
    // The queue's next try archives it.
    let end = Instant::now() + Duration::from_secs(30);
    while q.source.depth().await.unwrap() != (0, 0) && Instant::now() < end {
        if poll_once(&rt, &q, 2).await.is_none() {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    let vault = pipeline::azurite_vault(&vault_url, &cs);
    let stored = pipeline::generations(vault.as_ref()).await;
    for c in convs {
        assert_eq!(stored.get(c), Some(&1), "{c}");
    }
    f.child.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_retries_are_reported_in_the_metrics_line_when_azure_throttles() {
    let Some((endpoint, config)) = pipeline::moto().await else {
        return;
    };
    let Some((vault_url, cs)) = pipeline::azurite_container("devstoreaccount1").await else {
        return;
    };
    // Azurite behind the fault proxy: its first three answers are 429 with
    // Retry-After 1 s, which the Azure retry layer waits out and retries
    // within the record's deadline, so every record still archives.
    let azurite = std::env::var("TVAULT_TEST_AZURITE").unwrap();
    let (origin, _) = azurite.rsplit_once('/').unwrap();
    let proxy = Proxy::start(
        origin,
        FaultPlan {
            throttle_first: 3,
            retry_after: Some(Duration::from_secs(1)),
            ..FaultPlan::default()
        },
    )
    .await
    .unwrap();
    let (proxied_url, proxied_cs) = (
        vault_url.replacen(origin, &proxy.url(), 1),
        cs.replacen(origin, &proxy.url(), 1),
    );
    let fake = FakeGenesys::start().await.unwrap();
    let q = pipeline::queues(&config, 5, 30).await;
    let convs = ["emf1-8d3f4c1e", "emf2-8d3f4c1e"];
    for c in convs {
        q.source.send(&transcript_event(c)).await.unwrap();
    }
    let rt = RuntimeApi::start().await.unwrap();
    let secret_id = secret(&config, &fake.base_url(), CLIENT_SECRET, Some(&proxied_cs)).await;
    let f = start(&rt, &endpoint, &secret_id, &proxied_url, &[]);

    let (records, failed) = poll_batch(&rt, &q, 30, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!((records, failed.len()), (2, 0), "{failed:?}");
    assert_eq!(proxy.counts().throttled_429, 3);
    let lines = f.stop().await;
    let emf = emf(&lines);
    assert_eq!(emf.len(), 1, "one metrics line for the one invocation");
    let line: Value = serde_json::from_str(emf[0]).unwrap();
    assert_eq!(line["Archived"], 2, "{line}");
    // RUST_LOG=warn: Lambda's filter, which reads the line's level, keeps it.
    assert_eq!(line["level"], "INFO", "{line}");
    assert!(
        line["request_id"].as_str().is_some_and(|id| !id.is_empty()),
        "{line}"
    );
    assert_eq!(
        line["AzureRetries"], 3,
        "each throttled request was retried once: {line}"
    );
}

/// The daily seal as the schedule sends it, to the real `bootstrap`: the
/// router archives with the writer's create-only SAS (`rcl`, the template's
/// `tvault-writer`), then seals the day before the scheduled time into
/// Azurite, logs the witness line and keeps it in SSM (moto), and leaves the
/// queue alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_seal_invocation_seals_witnesses_and_leaves_the_queue_alone() {
    let Some((endpoint, config)) = pipeline::moto().await else {
        return;
    };
    let Some((vault_url, cs)) = pipeline::azurite_container("tvaultshard2").await else {
        return;
    };
    let (account_url, container) = vault_url.rsplit_once('/').unwrap();
    let account = account_url.rsplit('/').next().unwrap();
    let sas = {
        let py = tvault_testkit::services::venv_python().unwrap();
        let script = "import sys\nfrom datetime import datetime, timedelta, timezone\nfrom azure.storage.blob import ContainerSasPermissions, generate_container_sas\nprint(generate_container_sas(sys.argv[1], sys.argv[2], account_key=sys.argv[3], permission=ContainerSasPermissions(read=True, create=True, list=True), expiry=datetime.now(timezone.utc) + timedelta(hours=2)))";
        let out = std::process::Command::new(py)
            .args([
                "-c",
                script,
                account,
                container,
                tvault_vault::azure::config::DEV_ACCOUNT_KEY,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    assert!(sas.contains("sp=rcl"), "{sas}");
    let writer = format!("BlobEndpoint={account_url};SharedAccessSignature={sas}");

    let fake = FakeGenesys::start().await.unwrap();
    fake.add(FakeConversation::sample(
        "sealed-8d3f4c1e",
        b"photo".to_vec(),
        b"invoice".to_vec(),
    ));
    let q = pipeline::queues(&config, 5, 30).await;
    q.source
        .send(&pipeline::customer_end("sealed-8d3f4c1e"))
        .await
        .unwrap();
    let rt = RuntimeApi::start().await.unwrap();
    let secret_id = secret(&config, &fake.base_url(), CLIENT_SECRET, Some(&writer)).await;
    let prefix = format!(
        "/tvault-e2e/{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let f = start(
        &rt,
        &endpoint,
        &secret_id,
        &vault_url,
        &[("TVAULT_WITNESS_SSM_PREFIX", &prefix), ("RUST_LOG", "info")],
    );
    assert_eq!(
        poll_once(&rt, &q, 30).await,
        Some(vec![]),
        "archived with the create-only writer"
    );

    // A message waiting in the queue: the seal must not receive or hide it.
    q.source
        .send(&pipeline::customer_end("waiting-8d3f4c1e"))
        .await
        .unwrap();
    let seal = json!({"tvault": "seal", "scheduledTime": "2026-09-21T02:00:00Z"});
    let Answer::Response(answer) = rt.invoke(seal.clone(), Duration::from_secs(60)).await else {
        panic!("the seal invocation failed")
    };
    assert_eq!(answer["day"], "2026-09-20", "{answer}");
    assert_eq!(answer["written"]["entries"], 1, "{answer}");
    assert_eq!(answer["ssm"], "written", "{answer}");
    assert_eq!(
        q.source.depth().await.unwrap(),
        (1, 0),
        "the queue was not touched"
    );

    let vault = pipeline::azurite_vault(&vault_url, &cs);
    let stored = tvault_core::ports::Vault::get(vault.as_ref(), "ledger/2026/09/20.json")
        .await
        .unwrap();
    let line = format!("2026-09-20 {}", tvault_core::hash::sha256_hex(&stored));
    assert_eq!(answer["witness"], line.as_str());
    let kept = tvault_aws::witness::SsmWitness::new(&config, &prefix)
        .unwrap()
        .lines()
        .await
        .unwrap();
    assert_eq!(kept, std::slice::from_ref(&line), "the witness in SSM");
    let logged = f.witness_lines.lock().unwrap().clone();
    assert!(
        logged.iter().any(|l| l.contains(&line)),
        "the witness in the function's log: {logged:?}"
    );

    // The schedule's retry (same scheduled time): nothing new, the same witness.
    let Answer::Response(again) = rt.invoke(seal, Duration::from_secs(60)).await else {
        panic!("the second seal invocation failed")
    };
    assert_eq!(
        (&again["witness"], &again["written"], &again["ssm"]),
        (&answer["witness"], &Value::Null, &json!("already there"))
    );
    f.stop().await;
}

/// The runbook's `filter conversation_id = "…"` in CloudWatch Logs Insights
/// reads top-level fields of JSON lines: every line about a record, failures
/// and a Genesys retry deep inside it included, is one flat JSON object with
/// the invocation's request id, the record's message id and (once the event
/// names one) its conversation id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_record_line_is_flat_json_with_its_request_message_and_conversation_ids() {
    let Some((endpoint, config)) = pipeline::moto().await else {
        return;
    };
    let fake = FakeGenesys::start().await.unwrap();
    let (good, gone) = ("logs-8d3f4c1e", "gone-logs-8d3f4c1e");
    fake.add(FakeConversation::sample(good, b"p".to_vec(), b"i".to_vec()));
    // `gone` is unknown to the fake: its recordings answer 404. The one
    // recordings call that meets the 503 is retried (a WARN line from inside
    // the Genesys client), whichever record makes it.
    fake.script(Route::Recordings, [Fault::Status(503)]);
    let q = pipeline::queues(&config, 5, 30).await;
    for body in [
        pipeline::customer_end(good),
        pipeline::customer_end(gone),
        "this is not JSON".to_string(),
    ] {
        q.source.send(&body).await.unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let rt = RuntimeApi::start().await.unwrap();
    let secret_id = secret(&config, &fake.base_url(), CLIENT_SECRET, None).await;
    let f = start(
        &rt,
        &endpoint,
        &secret_id,
        dir.path().join("v"),
        &[("RUST_LOG", "info"), ("AWS_LAMBDA_LOG_FORMAT", "JSON")],
    );
    let (records, failed) = poll_batch(&rt, &q, 30, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!((records, failed.len()), (3, 2), "{failed:?}");
    let lines = f.stop().await;

    let parsed: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let emf: Vec<&Value> = parsed.iter().filter(|v| v.get("_aws").is_some()).collect();
    assert_eq!(emf.len(), 1, "{lines:#?}");
    let request_id = emf[0]["request_id"].as_str().unwrap();
    assert!(!request_id.is_empty());
    assert_eq!(emf[0]["GenesysRetries"], 1, "{}", emf[0]);
    assert_eq!(emf[0]["Archived"], 1, "{}", emf[0]);

    let record_lines: Vec<&Value> = parsed
        .iter()
        .filter(|v| v.get("message_id").is_some())
        .collect();
    assert!(record_lines.len() >= 3, "{lines:#?}");
    for v in &record_lines {
        assert!(v.is_object(), "{v}");
        for field in ["timestamp", "level", "message"] {
            assert!(v[field].is_string(), "{field} missing: {v}");
        }
        assert_eq!(v["request_id"], request_id, "{v}");
        assert!(
            v.get("span").is_none() && v.get("spans").is_none(),
            "flat: {v}"
        );
    }
    let about = |conv: &str| -> Vec<&Value> {
        record_lines
            .iter()
            .copied()
            .filter(|v| v["conversation_id"] == conv)
            .collect()
    };
    let good_lines = about(good);
    assert!(
        good_lines.iter().any(|v| v["message"] == "archived"),
        "{good_lines:#?}"
    );
    let retried = record_lines
        .iter()
        .find(|v| v["message"] == "Genesys request failed; retrying")
        .unwrap_or_else(|| panic!("no retry line: {lines:#?}"));
    assert!(
        [good, gone].contains(&retried["conversation_id"].as_str().unwrap_or("")),
        "{retried}"
    );
    let gone_lines = about(gone);
    assert!(
        gone_lines
            .iter()
            .any(|v| v["level"] == "ERROR" || v["level"] == "WARN"),
        "the failure is logged with its conversation: {gone_lines:#?}"
    );
    let invalid = record_lines
        .iter()
        .find(|v| v["message"] == "invalid record")
        .unwrap_or_else(|| panic!("no line about the poison: {lines:#?}"));
    assert!(
        invalid.get("conversation_id").is_none(),
        "it names none: {invalid}"
    );
}
