//! Memory benchmark: one large attachment (1 GiB by default), generated on
//! the fly by the fake Genesys API, archived through `Archiver` into a local
//! vault. Prints throughput and the process's peak RSS (VmHWM), which covers
//! the fake server too: the claim is that nothing holds the attachment whole.
//!
//! ```text
//! cargo run --release -p tvault-genesys --example bench_attachment            # 1 GiB
//! cargo run --release -p tvault-genesys --example bench_attachment -- 268435456
//! ```

// A benchmark binary: a failure should stop it with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Instant;

use tvault_core::Archiver;
use tvault_core::ports::{ConversationSource, Deadline, SystemClock, Vault};
use tvault_core::secret::Secret;
use tvault_genesys::{Config, GenesysSource};
use tvault_testkit::genesys::{
    CLIENT_ID, CLIENT_SECRET, FakeAttachment, FakeConversation, FakeGenesys, generated_sha256,
};

const CONV: &str = "8d3f4c1e-5b2a-4e7f-9c61-0a2b3c4d5e6f";

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let size: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("size in bytes"))
        .unwrap_or(1 << 30);
    let fake = FakeGenesys::start().await.unwrap();
    let mut conv = FakeConversation::sample(CONV, vec![], vec![]);
    conv.messages.truncate(3);
    conv.messages[2].attachments = vec![FakeAttachment::generated("big-1", "big.bin", size)];
    fake.add(conv);

    let config = Config::builder()
        .client_id(CLIENT_ID)
        .client_secret(Secret::new(CLIENT_SECRET))
        .region(fake.base_url())
        .build()
        .unwrap();
    let source: Arc<dyn ConversationSource> = Arc::new(GenesysSource::new(config).unwrap());
    let dir =
        tempfile::tempdir_in(std::env::var("TVAULT_BENCH_DIR").unwrap_or_else(|_| ".".into()))
            .unwrap();
    let vault: Arc<dyn Vault> = tvault_vault::open(dir.path().to_str().unwrap()).unwrap();
    let archiver = Archiver::new(vault.clone(), Some(source), Arc::new(SystemClock));
    let event = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/genesys/eventbridge_customer_end__webmessaging.json"
    ))
    .unwrap();

    let rss_before = peak_rss_kib();
    let start = Instant::now();
    let out = archiver.archive_raw(&event, Deadline::NONE).await.unwrap();
    let secs = start.elapsed().as_secs_f64();
    let rss_peak = peak_rss_kib();

    let manifest = vault
        .list(&format!("conversations/{CONV}/"))
        .await
        .unwrap()
        .into_iter()
        .find(|o| o.path.contains("/manifest."))
        .expect("a manifest");
    let manifest =
        tvault_core::manifest::Manifest::from_slice(&vault.get(&manifest.path).await.unwrap())
            .unwrap();
    let entry = manifest
        .objects
        .iter()
        .find(|o| o.attachment_id.is_some())
        .unwrap();
    let on_disk = std::fs::metadata(dir.path().join(&entry.path))
        .unwrap()
        .len();
    let verified = entry.size == size && on_disk == size && entry.sha256 == generated_sha256(size);

    println!(
        "outcome: {}",
        if matches!(out, tvault_core::Outcome::Archived(_)) {
            "archived"
        } else {
            "other"
        }
    );
    println!("attachment_bytes: {size}");
    println!("seconds: {secs:.2}");
    println!(
        "throughput_mib_s: {:.1}",
        size as f64 / (1024.0 * 1024.0) / secs
    );
    println!("peak_rss_mib_before: {:.1}", rss_before as f64 / 1024.0);
    println!("peak_rss_mib: {:.1}", rss_peak as f64 / 1024.0);
    println!("size_and_sha256_verified: {verified}");
    assert!(
        verified,
        "stored attachment does not match what the fake served"
    );
}
