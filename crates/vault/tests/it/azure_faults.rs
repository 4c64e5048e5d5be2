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

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use futures::StreamExt;
use md5::{Digest, Md5};
use tvault_core::hash::sha256_hex;
use tvault_core::manifest::Manifest;
use tvault_core::ports::{Clock, Deadline, Expect, Vault, VaultError};
use tvault_core::{Archiver, Outcome};
use tvault_testkit::proxy::{FaultPlan, Proxy};
use tvault_vault::ObjectVault;
use tvault_vault::azure::RetryPolicy;
use tvault_vault::azure::limiter::ConcurrencyLimits;

use crate::util;

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

/// One moment for every manifest, so a reference archive makes the same bytes.
struct FixedClock;

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 9, 20, 10, 0, 0).unwrap()
    }
}

struct Setup {
    proxy: Proxy,
    /// Through the proxy.
    faulty: Arc<ObjectVault>,
    /// Straight to Azurite, for checking.
    direct: Arc<ObjectVault>,
}

/// One proxy in front of Azurite, and a (faulty, direct) vault pair on a new
/// container in each of `accounts`.
async fn setup_accounts(
    tag: &str,
    plan: FaultPlan,
    policy: RetryPolicy,
    block_size: Option<usize>,
    accounts: &[String],
) -> Option<(Proxy, Vec<(Arc<ObjectVault>, Arc<ObjectVault>)>)> {
    let endpoint = util::azurite_endpoint()?;
    let (origin, _) = endpoint.rsplit_once('/').unwrap();
    let proxy = Proxy::start(origin, plan).await.unwrap();
    let mut pairs = Vec::new();
    for account in accounts {
        let container = util::unique_container(tag);
        let direct = util::vault_at(
            &format!("{origin}/{account}"),
            &container,
            None,
            RetryPolicy::default(),
        )
        .await;
        let settings = util::config_for(&format!("{}/{account}", proxy.url()), &container)
            .with_retry(policy.clone())
            .build()
            .unwrap();
        let faulty = Arc::new(match block_size {
            Some(b) => tvault_vault::location::open_azure_with_blocks(settings, b, 2).unwrap(),
            None => tvault_vault::location::open_azure_settings(settings).unwrap(),
        });
        pairs.push((faulty, direct));
    }
    Some((proxy, pairs))
}

async fn setup(
    tag: &str,
    plan: FaultPlan,
    policy: RetryPolicy,
    block_size: Option<usize>,
) -> Option<Setup> {
    let account = util::azurite_endpoint()?.rsplit('/').next()?.to_string();
    let (proxy, mut pairs) = setup_accounts(tag, plan, policy, block_size, &[account]).await?;
    let (faulty, direct) = pairs.pop()?;
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
    // Azurite finds a blob by scanning every blob of its account, so 8,000
    // objects in one account make each request ~7x slower than 2,000 would.
    // The conversations are spread over the accounts scripts/start-azurite
    // creates (one vault each, as a sharded deployment would); with only the
    // development account the test is the same, just slower.
    let accounts = util::azurite_accounts();
    let Some((proxy, shards)) =
        setup_accounts("throttle2000", plan, quick_policy(), None, &accounts).await
    else {
        return;
    };
    let events = util::transcript_events("t", N);
    let archivers: Vec<Archiver> = shards
        .iter()
        .map(|(faulty, _)| Archiver::new(faulty.clone(), None, Arc::new(FixedClock)))
        .collect();
    let started = Instant::now();
    let outcomes: Vec<_> = futures::stream::iter(events.iter().enumerate())
        .map(|(i, e)| {
            let archiver = archivers[i % archivers.len()].clone();
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
    let proxy_counts = proxy.counts();
    println!(
        "archived {N} conversations over {} account(s) in {elapsed:?}",
        shards.len()
    );
    let mut stats = Vec::new();
    for (faulty, _) in &shards {
        let s = faulty.azure_stats().unwrap();
        println!("vault: {s}");
        stats.push(s);
    }
    println!("proxy: {proxy_counts:?}");
    assert!(
        failures.is_empty(),
        "{} failures, first: {:?}",
        failures.len(),
        failures.first()
    );

    // Straight from Azurite, one listing per account: exactly the objects an
    // archive into memory makes from the same events at the same (fixed)
    // time, each with the Content-MD5 Azure verified when it was written.
    let mut total = 0;
    for (k, (_, direct)) in shards.iter().enumerate() {
        let reference = tvault_vault::open("memory://").unwrap();
        let archiver = Archiver::new(reference.clone(), None, Arc::new(FixedClock));
        for e in events.iter().skip(k).step_by(shards.len()) {
            archiver.archive_raw(e, Deadline::NONE).await.unwrap();
        }
        let mut expected: BTreeMap<String, (u64, Option<String>)> = BTreeMap::new();
        for l in reference.list("").await.unwrap() {
            let bytes = reference.get(&l.path).await.unwrap();
            let md5 = B64.encode(Md5::digest(&bytes));
            expected.insert(l.path, (bytes.len() as u64, Some(md5)));
        }
        let actual: BTreeMap<String, (u64, Option<String>)> = direct
            .azure()
            .unwrap()
            .list_with_md5("")
            .await
            .unwrap()
            .into_iter()
            .map(|b| (b.name, (b.size, b.content_md5)))
            .collect();
        let missing: Vec<_> = expected
            .keys()
            .filter(|k| !actual.contains_key(*k))
            .collect();
        let extra: Vec<_> = actual
            .keys()
            .filter(|k| !expected.contains_key(*k))
            .collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "missing {missing:?}, extra {extra:?}"
        );
        assert!(actual == expected, "sizes or MD5s differ");
        total += actual.len();
        // And read a sample back in full, checked against the manifest's hashes.
        for l in direct.list("").await.unwrap().iter().step_by(97) {
            if tvault_core::keys::parse_manifest(&l.path).is_some() {
                let m = Manifest::from_slice(&direct.get(&l.path).await.unwrap()).unwrap();
                for o in &m.objects {
                    assert_eq!(sha256_hex(&direct.get(&o.path).await.unwrap()), o.sha256);
                }
            }
        }
    }
    assert_eq!(total, N * 4, "every object exactly once");

    let sum = |f: fn(&tvault_vault::azure::StatsSnapshot) -> u64| stats.iter().map(f).sum::<u64>();
    assert!(proxy_counts.throttled_503 > 0 && proxy_counts.throttled_429 > 0);
    assert!(proxy_counts.dropped_after > 0);
    assert!(sum(|s| s.retries) >= proxy_counts.throttled_503 + proxy_counts.throttled_429);
    assert!(sum(|s| s.retry_after_honoured) >= proxy_counts.throttled_429);
    assert_eq!(sum(|s| s.deadline_give_ups), 0);
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
async fn a_retry_after_of_1e30_ends_the_retries_at_once_and_a_later_try_succeeds() {
    // Retry-After is upstream input; 1e30 seconds used to panic in
    // Duration::from_secs_f64. Longer than the record has left, so the
    // record is handed back at once, though we would sleep only the 30 s cap.
    let plan = FaultPlan {
        throttle_first: 1,
        retry_after_raw: Some("1e30".into()),
        ..FaultPlan::default()
    };
    let Some(s) = setup("retryafter1e30", plan, RetryPolicy::default(), None).await else {
        return;
    };
    let put = |deadline| {
        s.faulty.put_new(
            "a/b.json",
            Bytes::from_static(b"{}"),
            "application/json",
            deadline,
        )
    };
    let started = Instant::now();
    let err = put(Deadline::at(started + Duration::from_secs(60)))
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "slept instead of handing the record back"
    );
    match err {
        VaultError::Backend {
            transient, message, ..
        } => {
            assert!(transient);
            assert!(message.contains("more than a day"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.faulty.azure_stats().unwrap().deadline_give_ups, 1);
    assert!(!s.direct.exists("a/b.json").await.unwrap());
    // The queue's later try finds Azure willing.
    put(Deadline::at(Instant::now() + Duration::from_secs(60)))
        .await
        .unwrap();
    assert_eq!(
        s.direct.get("a/b.json").await.unwrap(),
        Bytes::from_static(b"{}")
    );
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

#[tokio::test]
async fn bytes_damaged_in_transit_are_refused_by_the_service() {
    let plan = FaultPlan {
        corrupt_first: 1,
        ..FaultPlan::default()
    };
    let Some(s) = setup("damaged", plan, quick_policy(), None).await else {
        return;
    };
    let body = Bytes::from_static(b"{\"text\":\"the original\"}");
    let err = s
        .faulty
        .put_new("a/t.json", body.clone(), "application/json", Deadline::NONE)
        .await
        .unwrap_err();
    // Content-MD5 let Azure see the damage: nothing stored, and worth a retry.
    match err {
        VaultError::Backend {
            transient, message, ..
        } => {
            assert!(transient, "{message}");
            assert!(message.contains("Content-MD5 mismatch"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.proxy.counts().corrupted, 1);
    assert!(!s.direct.exists("a/t.json").await.unwrap());
    // The next delivery goes through undamaged.
    s.faulty
        .put_new("a/t.json", body.clone(), "application/json", Deadline::NONE)
        .await
        .unwrap();
    assert_eq!(s.direct.get("a/t.json").await.unwrap(), body);
}
