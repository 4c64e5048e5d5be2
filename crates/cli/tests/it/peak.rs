//! Issue 16's peak day in miniature, on every run of `scripts/test`: 2,000
//! conversations (web messaging, SMS/WhatsApp, legacy chat; some with
//! attachments; an `acw` after half of the `customer.end`s, so duplicates
//! arrive; 0.5% poison) drained from one moto queue by both consumers at once
//! — two `tvault worker` processes and two Lambda environments running the
//! real `bootstrap` under the Runtime API emulator, fed as an SQS event source
//! mapping feeds them — while one worker is killed with SIGKILL and
//! restarted. It asserts what must hold on the worst day, never speed: every
//! conversation archived exactly once, every attachment byte-identical, every
//! event kept byte for byte, the dead-letter queue holding exactly the
//! poison, `tvault verify` clean.
//!
//! It succeeds the two 1,000-event drains (`worker::the_worker_drains_a_
//! thousand_mixed_events` and the Lambda's `bootstrap_drains_a_thousand_
//! mixed_events_through_the_queue`): twice the conversations, both consumers
//! racing on one queue, a kill, and stronger checks. What those drains also
//! covered lives on elsewhere: the Azure vault under load in the vault crate's
//! `azure_faults::two_thousand_transcripts_under_throttling_lose_and_duplicate_nothing`
//! and this module's `worker::a_worker_killed_mid_batch_loses_and_duplicates_nothing`
//! (Azurite); the settings secret in the Lambda's rotation test. The vault here
//! is a local folder: Azurite scans an account's every blob per lookup
//! (docs/azure.md), so 12,000 blobs in one account would make this a
//! benchmark of Azurite.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tvault_core::manifest::{Manifest, Role};
use tvault_core::ports::Vault;
use tvault_testkit::genesys::{CLIENT_ID, CLIENT_SECRET, FakeGenesys, Route};
use tvault_testkit::lambda::RuntimeApi;
use tvault_testkit::peak::{self, Spec};
use tvault_testkit::pipeline::{self, Queues};

use crate::util;

const CONVERSATIONS: usize = 2000;

fn worker(
    vault: &std::path::Path,
    fake: &FakeGenesys,
    q: &Queues,
    endpoint: &str,
) -> tokio::process::Child {
    let mut cmd = util::command(
        vault,
        &[
            "worker",
            "--queue-url",
            q.source.url(),
            "--visibility",
            "5",
            "--concurrency",
            "8",
        ],
    );
    util::with_genesys(&mut cmd, &fake.base_url());
    cmd.envs(pipeline::aws_env(endpoint))
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped());
    tokio::process::Command::from(cmd)
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// One Lambda execution environment: the real `bootstrap` behind its own
/// Runtime API emulator, and the lines it wrote to stdout.
struct Environment {
    rt: Arc<RuntimeApi>,
    started: Instant,
    child: tokio::process::Child,
    stdout: tokio::task::JoinHandle<Vec<String>>,
}

/// The `bootstrap` the workspace build made beside `tvault`. `scripts/test`
/// builds the whole workspace first; run `cargo build -p tvault-lambda`
/// before running this test alone.
fn bootstrap() -> std::path::PathBuf {
    let path = std::path::Path::new(env!("CARGO_BIN_EXE_tvault")).with_file_name("bootstrap");
    assert!(
        path.exists(),
        "{} is not built: cargo build -p tvault-lambda",
        path.display()
    );
    path
}

async fn environment(vault: &std::path::Path, fake: &FakeGenesys, endpoint: &str) -> Environment {
    let rt = Arc::new(RuntimeApi::start().await.unwrap());
    let mut cmd = tokio::process::Command::new(bootstrap());
    cmd.env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", rt.host_port())
        .env("AWS_LAMBDA_FUNCTION_NAME", "tvault-router")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("TVAULT_VAULT", vault)
        .env("GENESYSCLOUD_OAUTHCLIENT_ID", CLIENT_ID)
        .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", CLIENT_SECRET)
        .env("GENESYSCLOUD_REGION", fake.base_url())
        .env("RUST_LOG", "warn")
        .envs(pipeline::aws_env(endpoint))
        .stdout(Stdio::piped())
        .kill_on_drop(true);
    let started = Instant::now();
    let mut child = cmd.spawn().unwrap();
    let out = child.stdout.take().unwrap();
    let stdout = tokio::spawn(async move {
        let mut lines = BufReader::new(out).lines();
        let mut all = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            all.push(line);
        }
        all
    });
    Environment {
        rt,
        started,
        child,
        stdout,
    }
}

/// An event source mapping's poller for one environment, until `stop` is set
/// and the queue has nothing visible. Returns (invocations, failures reported).
async fn poll(rt: Arc<RuntimeApi>, q: Arc<Queues>, stop: Arc<AtomicBool>) -> (usize, usize) {
    let (mut invocations, mut failures) = (0, 0);
    loop {
        match pipeline::deliver_batch(&rt, &q, 20, Duration::from_secs(60)).await {
            Some((_, failed)) => {
                invocations += 1;
                failures += failed.len();
            }
            None if stop.load(Ordering::SeqCst) => return (invocations, failures),
            None => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// `archived N` from a stopped worker's `worker stopped: ...` line.
fn archived_by(stdout: &str) -> u64 {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("worker stopped:"))
        .unwrap_or_else(|| panic!("no summary line: {stdout}"));
    line.split("archived ")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no archived count: {line}"))
}

async fn sigterm_and_wait(child: tokio::process::Child) -> String {
    let pid = child.id().unwrap().to_string();
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -TERM {pid}");
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "a worker stopped by SIGTERM exits 0"
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_thousand_conversations_through_workers_and_lambdas_with_a_kill_lose_and_duplicate_nothing()
 {
    let Some((endpoint, config)) = pipeline::moto().await else {
        return;
    };
    let fake = FakeGenesys::start().await.unwrap();
    // A large stated allowance: pacing at Genesys's real rate is the Genesys
    // client's own test (genesys concurrency tests); here it would only
    // stretch the run.
    fake.set_rate_limit_allowed(Some(1_000_000));
    let load = peak::generate(&fake, &Spec::small(CONVERSATIONS));
    let q = Arc::new(pipeline::queues(&config, 5, 5).await);
    pipeline::send_all(&q.source, &load.bodies).await;
    let dir = tempfile::tempdir().unwrap();
    let vault_dir = dir.path().join("vault");

    let t0 = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let mut environments = Vec::new();
    let mut pollers = Vec::new();
    for _ in 0..2 {
        let env = environment(&vault_dir, &fake, &endpoint).await;
        pollers.push(tokio::spawn(poll(env.rt.clone(), q.clone(), stop.clone())));
        environments.push(env);
    }
    let mut workers = vec![
        worker(&vault_dir, &fake, &q, &endpoint),
        worker(&vault_dir, &fake, &q, &endpoint),
    ];
    let mut processes = 4;

    // Chaos: once a fifth of the recordings have been asked for, kill one
    // worker with SIGKILL (no chance to release what it holds: those messages
    // come back after their visibility timeout) and start another.
    let end = Instant::now() + Duration::from_secs(480);
    while fake.count(Route::Recordings) < (CONVERSATIONS / 5) as u64 {
        assert!(
            Instant::now() < end,
            "no progress: {:?}",
            q.source.depth().await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, held) = q.source.depth().await.unwrap();
    workers[0].kill().await.unwrap();
    println!("killed a worker while {held} message(s) were in flight");
    workers[0] = worker(&vault_dir, &fake, &q, &endpoint);
    processes += 1;

    // A guard against a hang, not a speed limit (nextest stops a test at 600 s).
    while q.source.depth().await.unwrap() != (0, 0) {
        assert!(
            Instant::now() < end,
            "the queue did not drain: {:?}",
            q.source.depth().await.unwrap()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let drained = t0.elapsed();
    stop.store(true, Ordering::SeqCst);
    let mut lambda_failures = 0;
    let mut invocations = Vec::new();
    for p in pollers {
        let (n, failed) = p.await.unwrap();
        invocations.push(n);
        lambda_failures += failed;
    }
    let mut workers_archived = 0;
    for w in workers {
        workers_archived += archived_by(&sigterm_and_wait(w).await);
    }
    let cold_start = environments[0]
        .rt
        .first_poll()
        .unwrap()
        .duration_since(environments[0].started);
    let mut emf = Vec::new();
    for (env, n) in environments.into_iter().zip(&invocations) {
        let Environment {
            mut child, stdout, ..
        } = env;
        child.kill().await.unwrap();
        let lines: Vec<Value> = stdout
            .await
            .unwrap()
            .iter()
            .filter(|l| l.contains("\"_aws\""))
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), *n, "one metrics line per invocation");
        emf.extend(lines);
    }
    let total = |name: &str| emf.iter().map(|l| l[name].as_u64().unwrap()).sum::<u64>();
    println!(
        "drained {} messages in {:.1} s: Lambda invocations {invocations:?} archived {}, surviving workers archived {workers_archived}; bootstrap cold start (exec to first /next, debug build) {:.0} ms",
        load.bodies.len(),
        drained.as_secs_f64(),
        total("Archived"),
        cold_start.as_secs_f64() * 1000.0,
    );

    // Both consumers did real work, and no conversation was counted as
    // archived twice (a redelivery finds it in the vault: AlreadyInVault).
    assert!(total("Archived") > 0, "the Lambda environments archived");
    assert!(workers_archived > 0, "the workers archived");
    assert!(
        total("Archived") + workers_archived <= CONVERSATIONS as u64,
        "archived counted more than once"
    );
    assert_eq!(
        total("Failed"),
        lambda_failures as u64,
        "the Lambda's metrics count every record it reported failed"
    );
    assert!(
        fake.count(Route::Token) <= processes,
        "one token per process: {} tokens for {processes} processes",
        fake.count(Route::Token)
    );

    let dlq = pipeline::take_all(&q.dlq).await;
    assert_eq!(
        dlq.iter()
            .filter(|b| !load.poison.contains(b))
            .collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "nothing but poison in the DLQ"
    );
    assert_eq!(dlq, load.poison, "only the poison in the DLQ, unchanged");

    // The vault, read back.
    let vault = tvault_vault::open(vault_dir.to_str().unwrap()).unwrap();
    pipeline::assert_archived_once(vault.as_ref(), &load.conversations).await;
    let mut attachments = BTreeMap::new();
    let mut events = BTreeSet::new();
    for l in vault.list("conversations/").await.unwrap() {
        if l.path.contains("/source/event.") {
            let bytes = vault.get(&l.path).await.unwrap();
            events.insert(String::from_utf8(bytes.to_vec()).unwrap());
        } else if tvault_core::keys::parse_manifest(&l.path).is_some() {
            let m = Manifest::from_slice(&vault.get(&l.path).await.unwrap()).unwrap();
            assert!(m.missing.is_empty(), "{}: missing {:?}", l.path, m.missing);
            for o in m.objects.iter().filter(|o| o.role == Role::Attachment) {
                let id = o.attachment_id.as_ref().unwrap().to_string();
                attachments.insert(
                    (m.conversation_id.to_string(), id),
                    (o.sha256.clone(), o.size),
                );
            }
        }
    }
    assert_eq!(
        attachments, load.attachments,
        "every attachment, byte-identical (SHA-256 and size of the fake's bytes)"
    );
    // Named by difference: 3,000 bodies in a failure message help nobody.
    let lost: Vec<_> = load.events.difference(&events).take(3).collect();
    let foreign: Vec<_> = events.difference(&load.events).take(3).collect();
    assert!(
        lost.is_empty() && foreign.is_empty(),
        "every event kept byte for byte, nothing else: {} lost, e.g. {lost:#?}; {} not sent, e.g. {foreign:#?}",
        load.events.difference(&events).count(),
        events.difference(&load.events).count()
    );
    // Every object of every manifest re-hashed, every name accounted for.
    let out = util::tvault(&vault_dir, &["verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", util::stderr(&out));
}
