//! One conformance suite for the vault port, run against every backend.
//!
//! Each backend gets the same checks through [`suite`]: create-only writes,
//! idempotent re-puts, conflicting re-puts, streamed writes with and without
//! expectations, list and get.

// Helpers here are not `#[test]` fns, so clippy.toml's test allowance misses them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use crate::util;

use bytes::Bytes;
use futures::StreamExt;
use tvault_core::hash::sha256_hex;
use tvault_core::ports::{ByteStream, Deadline, Expect, PutOutcome, Vault, VaultError};

const D: Deadline = Deadline::NONE;

fn stream_of(chunks: Vec<Vec<u8>>) -> ByteStream {
    futures::stream::iter(chunks.into_iter().map(|c| Ok(Bytes::from(c)))).boxed()
}

async fn read_all(v: &dyn Vault, path: &str) -> Vec<u8> {
    let mut s = v.get_stream(path).await.unwrap();
    let mut out = Vec::new();
    while let Some(c) = s.next().await {
        out.extend_from_slice(&c.unwrap());
    }
    out
}

/// The whole suite; `prefix` keeps runs apart when a backend is shared.
pub async fn suite(v: Arc<dyn Vault>, prefix: &str) {
    create_only_put_creates_then_reports_already_present(v.as_ref(), prefix).await;
    conflicting_put_is_an_integrity_error_and_keeps_the_original(v.as_ref(), prefix).await;
    streamed_put_hashes_and_is_create_only(v.as_ref(), prefix).await;
    streamed_put_that_fails_its_expectation_stores_nothing(v.as_ref(), prefix).await;
    broken_stream_stores_nothing(v.as_ref(), prefix).await;
    list_and_get_see_exactly_what_was_written(v.as_ref(), prefix).await;
    missing_objects_are_reported_as_not_found(v.as_ref(), prefix).await;
}

async fn create_only_put_creates_then_reports_already_present(v: &dyn Vault, prefix: &str) {
    let path = format!("{prefix}conversations/c1/transcript.aa.json");
    let first = v
        .put_new(
            &path,
            Bytes::from_static(b"{\"a\":1}"),
            "application/json",
            D,
        )
        .await
        .unwrap();
    assert_eq!(first.outcome, PutOutcome::Created);
    assert_eq!(first.sha256, sha256_hex(b"{\"a\":1}"));
    assert_eq!(first.size, 7);
    let again = v
        .put_new(
            &path,
            Bytes::from_static(b"{\"a\":1}"),
            "application/json",
            D,
        )
        .await
        .unwrap();
    assert_eq!(again.outcome, PutOutcome::AlreadyPresent);
    assert_eq!(again.sha256, first.sha256);
    assert!(v.exists(&path).await.unwrap());
}

async fn conflicting_put_is_an_integrity_error_and_keeps_the_original(v: &dyn Vault, prefix: &str) {
    let path = format!("{prefix}conversations/c1/manifest.bb.json");
    v.put_new(
        &path,
        Bytes::from_static(b"original"),
        "application/json",
        D,
    )
    .await
    .unwrap();
    let err = v
        .put_new(
            &path,
            Bytes::from_static(b"tampered"),
            "application/json",
            D,
        )
        .await
        .unwrap_err();
    match err {
        VaultError::Integrity {
            path: p,
            stored,
            new,
        } => {
            assert_eq!(p, path);
            assert_eq!(stored, sha256_hex(b"original"));
            assert_eq!(new, sha256_hex(b"tampered"));
        }
        other => panic!("expected an integrity error, got {other:?}"),
    }
    assert_eq!(v.get(&path).await.unwrap(), Bytes::from_static(b"original"));
}

async fn streamed_put_hashes_and_is_create_only(v: &dyn Vault, prefix: &str) {
    let path = format!("{prefix}conversations/c1/attachments/a1/big.bin");
    // Larger than one part, so the multipart path is exercised.
    let chunk: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
    let chunks = vec![chunk.clone(); 6];
    let whole: Vec<u8> = chunks.concat();
    let expect = Expect {
        size: Some(whole.len() as u64),
        sha256: Some(sha256_hex(&whole)),
    };
    let s = v
        .put_new_stream(&path, stream_of(chunks.clone()), "image/png", &expect, D)
        .await
        .unwrap();
    assert_eq!(s.outcome, PutOutcome::Created);
    assert_eq!(s.sha256, sha256_hex(&whole));
    assert_eq!(read_all(v, &path).await, whole);

    let again = v
        .put_new_stream(&path, stream_of(chunks), "image/png", &Expect::default(), D)
        .await
        .unwrap();
    assert_eq!(again.outcome, PutOutcome::AlreadyPresent);

    let err = v
        .put_new_stream(
            &path,
            stream_of(vec![b"other".to_vec()]),
            "image/png",
            &Expect::default(),
            D,
        )
        .await;
    assert!(matches!(err, Err(VaultError::Integrity { .. })), "{err:?}");
    assert_eq!(read_all(v, &path).await, whole);
}

async fn streamed_put_that_fails_its_expectation_stores_nothing(v: &dyn Vault, prefix: &str) {
    let path = format!("{prefix}conversations/c1/attachments/a2/x.jpg");
    let short = Expect {
        size: Some(10),
        sha256: None,
    };
    let err = v
        .put_new_stream(
            &path,
            stream_of(vec![b"12345".to_vec()]),
            "image/jpeg",
            &short,
            D,
        )
        .await;
    assert!(
        matches!(err, Err(VaultError::ContentMismatch { .. })),
        "{err:?}"
    );
    let wrong = Expect {
        size: None,
        sha256: Some(sha256_hex(b"something else")),
    };
    let err = v
        .put_new_stream(
            &path,
            stream_of(vec![b"12345".to_vec()]),
            "image/jpeg",
            &wrong,
            D,
        )
        .await;
    assert!(
        matches!(err, Err(VaultError::ContentMismatch { .. })),
        "{err:?}"
    );
    assert!(!v.exists(&path).await.unwrap());
}

async fn broken_stream_stores_nothing(v: &dyn Vault, prefix: &str) {
    let path = format!("{prefix}conversations/c1/attachments/a3/y.jpg");
    let body = futures::stream::iter(vec![
        Ok(Bytes::from_static(b"partial")),
        Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "connection closed",
        )),
    ])
    .boxed();
    let err = v
        .put_new_stream(&path, body, "image/jpeg", &Expect::default(), D)
        .await;
    assert!(matches!(err, Err(VaultError::Body { .. })), "{err:?}");
    assert!(!v.exists(&path).await.unwrap());
}

async fn list_and_get_see_exactly_what_was_written(v: &dyn Vault, prefix: &str) {
    let base = format!("{prefix}listing/");
    for name in ["b", "a", "sub/c"] {
        v.put_new(
            &format!("{base}{name}"),
            Bytes::from(name.to_string()),
            "text/plain",
            D,
        )
        .await
        .unwrap();
    }
    let listed: Vec<String> = v
        .list(&base)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.path)
        .collect();
    assert_eq!(
        listed,
        [
            format!("{base}a"),
            format!("{base}b"),
            format!("{base}sub/c")
        ]
    );
    let sizes: Vec<u64> = v
        .list(&base)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.size)
        .collect();
    assert_eq!(sizes, [1, 1, 5]);
    assert_eq!(
        v.get(&format!("{base}sub/c")).await.unwrap(),
        Bytes::from_static(b"sub/c")
    );
    assert!(
        v.list(&format!("{prefix}nothing-here/"))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn missing_objects_are_reported_as_not_found(v: &dyn Vault, prefix: &str) {
    let path = format!("{prefix}conversations/none/manifest.x.json");
    assert!(!v.exists(&path).await.unwrap());
    assert!(matches!(
        v.get(&path).await,
        Err(VaultError::NotFound { .. })
    ));
}

#[tokio::test]
async fn memory_backend_conforms() {
    suite(tvault_vault::open("memory://").unwrap(), "").await;
}

#[tokio::test]
async fn local_filesystem_backend_conforms() {
    let dir = tempfile::tempdir().unwrap();
    suite(
        tvault_vault::open(dir.path().to_str().unwrap()).unwrap(),
        "",
    )
    .await;
    // Nothing staged is left behind on disk.
    let staging = dir.path().join("_staging");
    let left = std::fs::read_dir(&staging).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "staging files left in {staging:?}");
}

#[tokio::test]
async fn azurite_backend_conforms() {
    let Some(vault) = util::azurite_vault("conformance").await else {
        return;
    };
    suite(vault, "").await;
}

#[tokio::test]
async fn azurite_backend_conforms_with_many_small_blocks() {
    // 64 KiB blocks: the 6 MiB streamed object becomes ~100 staged blocks,
    // several in flight at once, committed by one create-only Put Block List.
    let Some(endpoint) = util::azurite_endpoint() else {
        return;
    };
    let container = util::unique_container("smallblocks");
    let vault = util::vault_at(
        &endpoint,
        &container,
        Some(64 * 1024),
        tvault_vault::azure::RetryPolicy::default(),
    )
    .await;
    suite(vault, "").await;
}
