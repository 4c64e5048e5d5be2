//! Memory benchmark: stream a 1 GiB attachment into Azurite through
//! `put_new_stream` and print the process's peak resident memory (VmHWM from
//! /proc/self/status). Goal: ≤ 64 MiB. The bytes are generated on the fly,
//! so nothing but the vault's own buffers can hold them.
//!
//! ```text
//! TVAULT_TEST_AZURITE=http://127.0.0.1:10000/devstoreaccount1 \
//!   cargo run --release -p tvault-vault --example bench_stream -- [MiB]
//! ```

// A benchmark binary, like a `main`: a panic is its error report.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Instant;

use bytes::Bytes;
use futures::StreamExt;
use tvault_core::ports::{Deadline, Expect, PutOutcome, Vault};
use tvault_vault::azure::{AzureConfig, config::DEV_ACCOUNT_KEY};

const CHUNK: usize = 64 * 1024;

/// A field of /proc/self/status, in KiB.
fn status_kib(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let mib: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1024);
    let endpoint = std::env::var("TVAULT_TEST_AZURITE")
        .expect("set TVAULT_TEST_AZURITE (scripts/bench-azure does)");
    let container = format!("bench-stream-{}", std::process::id());
    let settings = AzureConfig::new(format!("{endpoint}/{container}"))
        .with_connection_string(format!(
            "AccountName=devstoreaccount1;AccountKey={DEV_ACCOUNT_KEY};BlobEndpoint={endpoint}"
        ))
        .build()
        .expect("settings");
    let vault = tvault_vault::location::open_azure_settings(settings).expect("vault");
    vault
        .azure()
        .unwrap()
        .create_container()
        .await
        .expect("container");

    let total = mib * 1024 * 1024;
    let chunks = total.div_ceil(CHUNK as u64);
    // xorshift bytes, made chunk by chunk as the upload asks for them.
    let body = futures::stream::iter(0..chunks)
        .map(move |i| {
            let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            let len = (total - i * CHUNK as u64).min(CHUNK as u64) as usize;
            let mut v = Vec::with_capacity(len);
            while v.len() < len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                v.extend_from_slice(&x.to_le_bytes()[..8.min(len - v.len())]);
            }
            Ok(Bytes::from(v))
        })
        .boxed();
    let before = status_kib("VmHWM:");
    let t = Instant::now();
    let stored = vault
        .put_new_stream(
            "conversations/bench/attachments/big/video.mp4",
            body,
            "video/mp4",
            &Expect {
                size: Some(total),
                sha256: None,
            },
            Deadline::NONE,
        )
        .await
        .expect("upload");
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(stored.outcome, PutOutcome::Created);
    assert_eq!(stored.size, total);
    let listed = vault.list("conversations/").await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].size, total);
    let peak = status_kib("VmHWM:");
    println!(
        "bench_stream: {mib} MiB streamed to Azurite in {secs:.1} s ({:.0} MiB/s)",
        mib as f64 / secs
    );
    println!("  sha256 {}", stored.sha256);
    println!(
        "  peak RSS (VmHWM) {:.1} MiB (before the upload {:.1} MiB); goal <= 64 MiB",
        peak as f64 / 1024.0,
        before as f64 / 1024.0
    );
    println!("  {}", vault.azure_stats().unwrap());
}
