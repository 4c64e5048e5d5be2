//! The Azure backend under injected faults: Azurite behind the fault proxy
//! of `tvault-testkit`, throttling (503 ServerBusy, 429 with Retry-After) and
//! dropping connections before or after forwarding.
//!
//! Results are always checked directly against Azurite, not through the proxy.

// Helpers here are not `#[test]` fns, so clippy.toml's test allowance misses them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use tvault_core::hash::sha256_hex;
use tvault_core::manifest::Manifest;
use tvault_core::ports::{Deadline, Expect, SystemClock, Vault, VaultError};
use tvault_core::{Archiver, Outcome};
use tvault_testkit::proxy::{FaultPlan, Proxy};
use tvault_vault::ObjectVault;
use tvault_vault::azure::RetryPolicy;
use tvault_vault::azure::limiter::ConcurrencyLimits;

mod util;

/// Retry settings for tests: Retry-After capped at 100 ms and short backoffs,
/// so thousands of throttled requests fit in seconds. The logic is the same.
fn quick_policy() -> RetryPolicy {
    RetryPolicy {
        max_retries: 25,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(200),
        retry_after_cap: Duration::from_millis(100),
        concurrency: ConcurrencyLimits {
            initial: 32,
            min: 4,
            max: 64,
        },
        ..RetryPolicy::default()
    }
}

struct Setup {
    proxy: Proxy,
    /// Through the proxy.
    faulty: Arc<ObjectVault>,
    /// Straight to Azurite, for checking.
    direct: Arc<ObjectVault>,
}

async fn setup(
    tag: &str,
    plan: FaultPlan,
    policy: RetryPolicy,
    block_size: Option<usize>,
) -> Option<Setup> {
    let endpoint = util::azurite_endpoint()?;
    let container = util::unique_container(tag);
    let direct = util::vault_at(&endpoint, &container, None, RetryPolicy::default()).await;
    let (origin, account) = endpoint.rsplit_once('/').unwrap();
    let proxy = Proxy::start(origin, plan).await.unwrap();
    let settings = util::config_for(&format!("{}/{account}", proxy.url()), &container)
        .with_retry(policy)
        .build()
        .unwrap();
    let faulty = Arc::new(match block_size {
        Some(b) => tvault_vault::azure::open_with_blocks(settings, b, 2).unwrap(),
        None => tvault_vault::azure::open(settings).unwrap(),
    });
    Some(Setup {
        proxy,
        faulty,
        direct,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_transcripts_under_throttling_lose_and_duplicate_nothing() {
    const N: usize = 2000;
    let plan = FaultPlan {
        throttle_503: 0.10,
        throttle_429: 0.10,
        retry_after: Some(Duration::from_secs(1)),
        drop_after: 0.02,
        ..FaultPlan::default()
    };
    let Some(s) = setup("throttle2000", plan, quick_policy(), None).await else {
        return;
    };
    let events = util::transcript_events("t", N);
    let archiver = Archiver::new(s.faulty.clone(), None, Arc::new(SystemClock));
    let started = Instant::now();
    let outcomes: Vec<_> = futures::stream::iter(events.iter())
        .map(|e| {
            let archiver = archiver.clone();
            async move {
                let deadline = Deadline::at(Instant::now() + Duration::from_secs(60));
                archiver.archive_raw(e, deadline).await
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let failures: Vec<String> = outcomes
        .iter()
        .filter_map(|o| match o {
            Ok(Outcome::Archived(_)) => None,
            other => Some(format!("{other:?}")),
        })
        .collect();
    let stats = s.faulty.azure_stats().unwrap();
    let proxy = s.proxy.counts();
    println!("archived {N} conversations in {elapsed:?}");
    println!("vault: {stats}");
    println!("proxy: {proxy:?}");
    assert!(
        failures.is_empty(),
        "{} failures, first: {:?}",
        failures.len(),
        failures.first()
    );

    // Straight from Azurite: one manifest per conversation, four objects each, right bytes.
    let listed = s.direct.list("").await.unwrap();
    assert_eq!(listed.len(), N * 4, "every object exactly once");
    let mut manifests: BTreeMap<String, String> = BTreeMap::new();
    for l in &listed {
        if let Some((conv, _)) = tvault_core::keys::parse_manifest(&l.path) {
            let before = manifests.insert(conv.to_string(), l.path.clone());
            assert!(before.is_none(), "two manifests for {conv}");
        }
    }
    assert_eq!(manifests.len(), N);
    let direct = s.direct.clone();
    let checked: Vec<usize> = futures::stream::iter(manifests.into_values())
        .map(|path| {
            let v = direct.clone();
            async move {
                let m = Manifest::from_slice(&v.get(&path).await.unwrap()).unwrap();
                for o in &m.objects {
                    let bytes = v.get(&o.path).await.unwrap();
                    assert_eq!(sha256_hex(&bytes), o.sha256, "{}", o.path);
                    assert_eq!(bytes.len() as u64, o.size, "{}", o.path);
                }
                m.objects.len()
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert_eq!(
        checked.iter().sum::<usize>(),
        N * 2,
        "transcript + source event each"
    );

    assert!(proxy.throttled_503 > 0 && proxy.throttled_429 > 0 && proxy.dropped_after > 0);
    assert!(stats.retries >= proxy.throttled_503 + proxy.throttled_429);
    assert!(stats.retry_after_honoured >= proxy.throttled_429);
    assert_eq!(stats.deadline_give_ups, 0);
}

#[tokio::test]
async fn retry_after_is_waited_out_before_the_retry() {
    let plan = FaultPlan {
        throttle_first: 1,
        retry_after: Some(Duration::from_secs(1)),
        ..FaultPlan::default()
    };
    let Some(s) = setup("retryafter", plan, RetryPolicy::default(), None).await else {
        return;
    };
    let started = Instant::now();
    s.faulty
        .put_new(
            "a/b.json",
            Bytes::from_static(b"{}"),
            "application/json",
            Deadline::NONE,
        )
        .await
        .unwrap();
    let stats = s.faulty.azure_stats().unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "retried before Retry-After"
    );
    assert_eq!(stats.retry_after_honoured, 1);
    assert_eq!(stats.throttled_429, 1);
    assert_eq!(
        s.direct.get("a/b.json").await.unwrap(),
        Bytes::from_static(b"{}")
    );
}

#[tokio::test]
async fn retry_after_past_the_deadline_fails_fast_as_transient() {
    let plan = FaultPlan {
        throttle_first: u64::MAX,
        retry_after: Some(Duration::from_secs(20)),
        ..FaultPlan::default()
    };
    let Some(s) = setup("pastdeadline", plan, RetryPolicy::default(), None).await else {
        return;
    };
    let started = Instant::now();
    let deadline = Deadline::at(started + Duration::from_secs(10));
    let err = s
        .faulty
        .put_new(
            "a/b.json",
            Bytes::from_static(b"{}"),
            "application/json",
            deadline,
        )
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "slept instead of failing fast"
    );
    match err {
        VaultError::Backend {
            transient, message, ..
        } => {
            assert!(transient);
            assert!(message.contains("past this record's deadline"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.faulty.azure_stats().unwrap().deadline_give_ups, 1);
    assert!(!s.direct.exists("a/b.json").await.unwrap());
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_ends_as_success() {
    let plan = FaultPlan {
        drop_after_first: 1,
        ..FaultPlan::default()
    };
    let Some(s) = setup("lostanswer", plan, quick_policy(), None).await else {
        return;
    };
    let stored = s
        .faulty
        .put_new(
            "a/b.json",
            Bytes::from_static(b"{\"x\":1}"),
            "application/json",
            Deadline::NONE,
        )
        .await
        .unwrap();
    // The first attempt landed; its repeat met 409 and the hashes matched.
    assert_eq!(
        stored.outcome,
        tvault_core::ports::PutOutcome::AlreadyPresent
    );
    assert_eq!(s.proxy.counts().dropped_after, 1);
    assert!(s.faulty.azure_stats().unwrap().transport_errors >= 1);
    assert_eq!(
        s.direct.get("a/b.json").await.unwrap(),
        Bytes::from_static(b"{\"x\":1}")
    );
}

#[tokio::test]
async fn a_streamed_upload_survives_throttling_and_dropped_connections() {
    let plan = FaultPlan {
        throttle_503: 0.15,
        throttle_429: 0.1,
        drop_before: 0.05,
        drop_after: 0.05,
        seed: 42,
        ..FaultPlan::default()
    };
    let Some(s) = setup("streamfaults", plan, quick_policy(), Some(64 * 1024)).await else {
        return;
    };
    let data: Vec<u8> = (0..(3 * 1024 * 1024 + 123))
        .map(|i| (i % 241) as u8)
        .collect();
    let chunks: Vec<Result<Bytes, std::io::Error>> = data
        .chunks(100_000)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let expect = Expect {
        size: Some(data.len() as u64),
        sha256: Some(sha256_hex(&data)),
    };
    let path = "conversations/c/attachments/a/video.mp4";
    s.faulty
        .put_new_stream(
            path,
            futures::stream::iter(chunks).boxed(),
            "video/mp4",
            &expect,
            Deadline::NONE,
        )
        .await
        .unwrap();
    println!("proxy: {:?}", s.proxy.counts());
    assert_eq!(s.direct.get(path).await.unwrap(), Bytes::from(data));
}
