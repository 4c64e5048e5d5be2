//! Throughput benchmark against Azurite: the archive path writing N small
//! transcripts, against a bare PUT loop writing the same objects through the
//! same HTTP stack at the same concurrency, with no hashing, no manifest, no
//! existence checks and no create-only conditions.
//!
//! ```text
//! TVAULT_TEST_AZURITE=http://127.0.0.1:10000/devstoreaccount1 \
//!   cargo run --release -p tvault-vault --example bench_archive -- [N] [CONCURRENCY]
//! ```
//! (`scripts/bench-azure` starts Azurite and runs it.)
//!
//! Azurite slows down as an account fills (it scans the account's blobs on
//! every lookup), so the two runs use two fresh accounts of the ones
//! scripts/start-azurite creates (`TVAULT_TEST_AZURITE_ACCOUNTS`), bare loop
//! first, and write the same number of objects: neither run pays for the
//! other's objects.

// A benchmark binary, like a `main`: a panic is its error report.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use object_store::azure::{MicrosoftAzure, MicrosoftAzureBuilder};
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};
use tvault_core::ports::{Deadline, SystemClock, Vault};
use tvault_core::{Archiver, Outcome};
use tvault_vault::ObjectVault;
use tvault_vault::azure::retry::{RetryingConnector, Shared};
use tvault_vault::azure::{AzureConfig, RetryPolicy, config::DEV_ACCOUNT_KEY};

fn events(tag: &str, n: usize) -> Vec<String> {
    let text = include_str!(
        "../../../fixtures/genesys/SEED_ASSUMED__eventbridge_transcripts__NOT_A_REAL_TOPIC.json"
    );
    let base: serde_json::Value = serde_json::from_str(text).expect("fixture parses");
    (0..n)
        .map(|i| {
            let mut e = base.clone();
            e["id"] = format!("evt-{tag}-{i}").into();
            e["detail"]["conversationId"] = format!("conv-{tag}-{i:06}").into();
            serde_json::to_string(&e).expect("serialises")
        })
        .collect()
}

async fn vault(endpoint: &str, container: &str) -> Arc<ObjectVault> {
    let account = endpoint.rsplit('/').next().expect("account in endpoint");
    let settings = AzureConfig::new(format!("{endpoint}/{container}"))
        .with_connection_string(format!(
            "AccountName={account};AccountKey={DEV_ACCOUNT_KEY};BlobEndpoint={endpoint}"
        ))
        .build()
        .expect("settings");
    let v = tvault_vault::location::open_azure_settings(settings).expect("vault");
    v.azure()
        .expect("azure")
        .create_container()
        .await
        .expect("container");
    Arc::new(v)
}

/// object_store's client on `container` through the vault's own HTTP stack
/// (the retrying, rate-adapting connector with its default policy), built
/// here because the vault hands out no store that could overwrite.
fn bare_store(endpoint: &str, container: &str) -> MicrosoftAzure {
    let account = endpoint.rsplit('/').next().expect("account in endpoint");
    let policy = RetryPolicy::default();
    let connector = RetryingConnector::new(Shared::new(policy.clone()));
    MicrosoftAzureBuilder::new()
        .with_client_options(policy.client_options(true))
        .with_account(account)
        .with_access_key(DEV_ACCOUNT_KEY)
        .with_container_name(container)
        .with_endpoint(endpoint.to_string())
        .with_allow_http(true)
        .with_retry(policy.object_store_retry())
        .with_http_connector(connector)
        .build()
        .expect("bare store")
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(2000);
    let conc: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(32);
    let endpoint = std::env::var("TVAULT_TEST_AZURITE")
        .expect("set TVAULT_TEST_AZURITE (scripts/bench-azure does)");
    let stamp = std::process::id();
    let accounts: Vec<String> = std::env::var("TVAULT_TEST_AZURITE_ACCOUNTS")
        .unwrap_or_default()
        .split(',')
        .filter(|a| !a.is_empty())
        .map(str::to_string)
        .collect();
    let origin = endpoint.rsplit_once('/').expect("endpoint/account").0;
    let (bare_ep, archive_ep) = match accounts.as_slice() {
        [.., a, b] => (format!("{origin}/{a}"), format!("{origin}/{b}")),
        _ => {
            eprintln!(
                "bench_archive: one account only: the second run pays for the first's objects"
            );
            (endpoint.clone(), endpoint.clone())
        }
    };

    // The objects the archive writes, made by archiving into memory first.
    let evs = events("b", n);
    let reference = tvault_vault::open("memory://").expect("memory");
    let archiver = Archiver::new(reference.clone(), None, Arc::new(SystemClock));
    for e in &evs {
        archiver
            .archive_raw(e, Deadline::NONE)
            .await
            .expect("reference archive");
    }
    let mut objects = Vec::new();
    for l in reference.list("").await.expect("list") {
        let bytes = reference.get(&l.path).await.expect("get");
        objects.push((l.path, bytes));
    }
    let count = objects.len();

    // 1. The floor: plain overwriting PUTs of those objects, same stack, same concurrency.
    let bare = format!("bench-bare-{stamp}");
    vault(&bare_ep, &bare).await;
    let store = Arc::new(bare_store(&bare_ep, &bare));
    let t = Instant::now();
    futures::stream::iter(objects.iter())
        .map(|(p, bytes)| {
            let store = store.clone();
            async move {
                store
                    .put(&Path::from(p.as_str()), PutPayload::from(bytes.clone()))
                    .await
                    .expect("bare put");
            }
        })
        .buffer_unordered(conc)
        .collect::<Vec<()>>()
        .await;
    let bare_secs = t.elapsed().as_secs_f64();

    // 2. The archive path: classify, hash, existence check, create-only puts, manifest.
    let a = vault(&archive_ep, &format!("bench-archive-{stamp}")).await;
    let archiver = Archiver::new(a.clone(), None, Arc::new(SystemClock));
    let t = Instant::now();
    let results: Vec<_> = futures::stream::iter(evs.iter())
        .map(|e| {
            let archiver = archiver.clone();
            async move { archiver.archive_raw(e, Deadline::NONE).await }
        })
        .buffer_unordered(conc)
        .collect()
        .await;
    let archive_secs = t.elapsed().as_secs_f64();
    let ok = results
        .iter()
        .filter(|r| matches!(r, Ok(Outcome::Archived(_))))
        .count();
    assert_eq!(ok, n, "every archive succeeds");
    assert_eq!(a.list("").await.expect("list").len(), count);
    let requests = a.azure_stats().expect("stats").requests;

    println!("bench_archive: {n} transcripts, {count} objects, concurrency {conc}");
    println!(
        "  bare PUT loop: {bare_secs:.2} s, {:.0} objects/s",
        count as f64 / bare_secs
    );
    println!(
        "  archive path: {archive_secs:.2} s, {:.0} objects/s, {:.0} transcripts/s ({requests} HTTP requests)",
        count as f64 / archive_secs,
        n as f64 / archive_secs
    );
    println!(
        "  ratio (archive objects/s / bare objects/s): {:.2} (goal >= 0.8)",
        bare_secs / archive_secs
    );
}
