//! The Lambda run of `scripts/bench-peak --lambda K` (issue 16): K Lambda
//! execution environments, each the real release `bootstrap` behind its own
//! Runtime API emulator, fed from the moto queue as an SQS event source
//! mapping with `ScalingConfig.MaximumConcurrency` K feeds them: batches of
//! up to 10 (`tvault_testkit::pipeline::sqs_event`), the records the answer
//! does not list in `batchItemFailures` deleted (`settle_batch`), nothing
//! deleted when the invocation fails or the environment dies. Every
//! `--kill-every` seconds one environment's `bootstrap` is killed with
//! SIGKILL (mid-batch or not) and a fresh one started, as the workers' run
//! kills a worker. Until SIGTERM.
//!
//! ```text
//! bench_peak_lambda --environments K --bootstrap PATH --queue URL --out DIR \
//!     [--visibility 30] [--timeout 25] [--kill-every 30] [--memory 512]
//! ```
//! with the function's environment (`TVAULT_VAULT`, the Azure connection
//! string, `GENESYSCLOUD_*`, the AWS endpoint) set: each `bootstrap`
//! inherits it. Writes `DIR/lambda.jsonl` (one line per invocation: its
//! duration, records, failures, outcome; one per cold start: its init
//! time), `DIR/rusage-K.txt` (GNU time: CPU seconds and peak RSS of each
//! `bootstrap` process, killed ones included) and `DIR/kills.txt`.

// A benchmark binary, like a `main`: a panic is its error report.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod bench_peak_args;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bench_peak_args::{arg, now_ms};
use serde_json::json;
use tokio::sync::Notify;
use tvault_testkit::lambda::{Answer, RuntimeApi};
use tvault_testkit::pipeline::{self, Queues};

struct Settings {
    bootstrap: PathBuf,
    out: PathBuf,
    visibility: i32,
    timeout: Duration,
    memory: u32,
}

/// One line into `lambda.jsonl`.
fn record(out: &Mutex<std::fs::File>, line: serde_json::Value) {
    let mut f = out.lock().unwrap();
    writeln!(f, "{line}").ok();
    f.flush().ok();
}

/// A running environment: GNU time around `bootstrap`, and its emulator.
struct Environment {
    rt: RuntimeApi,
    timer: tokio::process::Child,
    started: Instant,
}

async fn start(k: usize, s: &Settings) -> Environment {
    let rt = RuntimeApi::start().await.expect("Runtime API emulator");
    let timer = tokio::process::Command::new("/usr/bin/time")
        .arg("-a")
        .arg("-o")
        .arg(s.out.join(format!("rusage-{k}.txt")))
        .args(["-f", "%e %U %S %M"])
        .arg(&s.bootstrap)
        .env("AWS_LAMBDA_RUNTIME_API", rt.host_port())
        .env("AWS_LAMBDA_FUNCTION_NAME", "tvault-router")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", s.memory.to_string())
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .stdout(
            std::fs::File::options()
                .create(true)
                .append(true)
                .open(s.out.join(format!("lambda-{k}.log")))
                .expect("log"),
        )
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("bootstrap under /usr/bin/time");
    Environment {
        rt,
        timer,
        started: Instant::now(),
    }
}

/// SIGKILL the `bootstrap` under GNU time (time itself then records it).
async fn kill(env: &mut Environment) {
    if let Some(pid) = env.timer.id() {
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        for child in children.split_whitespace() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", child])
                .status();
        }
    }
    let _ = env.timer.wait().await;
}

/// The event source mapping's poller for environment `k`, until `stop`.
async fn poll(
    k: usize,
    s: Arc<Settings>,
    q: Arc<Queues>,
    log: Arc<Mutex<std::fs::File>>,
    killer: Arc<Notify>,
    stop: Arc<AtomicBool>,
) {
    let mut env = start(k, &s).await;
    let mut cold = true;
    while !stop.load(Ordering::SeqCst) {
        let batch = tokio::select! {
            b = q.source.receive(10, 1, s.visibility) => match b {
                Ok(b) => b,
                Err(e) => {
                    // What a mapping does when SQS answers badly: try again soon.
                    eprintln!("environment {k}: receive failed: {e}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
            _ = killer.notified() => {
                kill(&mut env).await;
                env = start(k, &s).await;
                cold = true;
                continue;
            }
        };
        if batch.is_empty() {
            continue;
        }
        let t = Instant::now();
        let answer = tokio::select! {
            a = tokio::time::timeout(s.timeout, env.rt.invoke(pipeline::sqs_event(&q, &batch), s.timeout)) => a.ok(),
            _ = killer.notified() => None,
        };
        let duration_ms = t.elapsed().as_secs_f64() * 1000.0;
        if cold {
            // Init: exec to the first `/next`, billed as Lambda bills INIT.
            let init_ms = env
                .rt
                .first_poll()
                .map(|p| p.duration_since(env.started).as_secs_f64() * 1000.0);
            record(&log, json!({"env": k, "ms": now_ms(), "init_ms": init_ms}));
            cold = false;
        }
        let (outcome, failed) = match &answer {
            Some(Answer::Response(resp)) => (
                "response",
                pipeline::settle_batch(&q, &batch, resp).await.len(),
            ),
            Some(Answer::Error(_)) => ("error", batch.len()),
            // Killed or timed out: Lambda starts a fresh environment; the
            // batch returns to the queue after its visibility timeout.
            None => ("killed", batch.len()),
        };
        record(
            &log,
            json!({"env": k, "ms": now_ms(), "duration_ms": duration_ms,
                   "records": batch.len(), "failed": failed, "outcome": outcome}),
        );
        if answer.is_none() {
            kill(&mut env).await;
            env = start(k, &s).await;
            cold = true;
        }
    }
    kill(&mut env).await;
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let num = |name: &str, default: u64| -> u64 {
        arg(&args, name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let k = num("--environments", 2) as usize;
    let kill_every = num("--kill-every", 30);
    let out = PathBuf::from(arg(&args, "--out").expect("--out DIR"));
    let settings = Arc::new(Settings {
        bootstrap: PathBuf::from(arg(&args, "--bootstrap").expect("--bootstrap PATH")),
        out: out.clone(),
        visibility: num("--visibility", 30) as i32,
        timeout: Duration::from_secs(num("--timeout", 25)),
        memory: num("--memory", 512) as u32,
    });
    assert!(
        Path::new(&settings.bootstrap).exists(),
        "no bootstrap at --bootstrap"
    );
    let config = tvault_aws::sdk_config().await;
    let url = arg(&args, "--queue").expect("--queue URL");
    let q = Arc::new(Queues {
        source: tvault_aws::Queue::new(&config, url.clone()),
        // The mapping never reads the DLQ (SQS moves messages there itself);
        // `Queues` wants one, so it names the source again.
        dlq: tvault_aws::Queue::new(&config, url),
        source_arn: format!("arn:aws:sqs:{}:123456789012:bench-peak", pipeline::REGION),
    });
    let log = Arc::new(Mutex::new(
        std::fs::File::create(out.join("lambda.jsonl")).expect("lambda.jsonl"),
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let killers: Vec<Arc<Notify>> = (0..k).map(|_| Arc::new(Notify::new())).collect();
    let mut pollers = Vec::new();
    for (i, killer) in killers.iter().enumerate() {
        pollers.push(tokio::spawn(poll(
            i,
            settings.clone(),
            q.clone(),
            log.clone(),
            killer.clone(),
            stop.clone(),
        )));
    }
    let mut kills = std::fs::File::create(out.join("kills.txt")).expect("kills.txt");
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    let mut victim = 0;
    loop {
        let tick = tokio::time::sleep(Duration::from_secs(kill_every.max(1)));
        tokio::select! {
            _ = term.recv() => break,
            _ = tick => {
                if kill_every > 0 {
                    killers[victim].notify_one();
                    writeln!(kills, "{} {victim}", now_ms()).ok();
                    victim = (victim + 1) % k;
                }
            }
        }
    }
    stop.store(true, Ordering::SeqCst);
    for p in pollers {
        let _ = p.await;
    }
}
