//! The Azure backend against Azurite, beyond the conformance suite: archives
//! read back by an independent reader (Microsoft's Python SDK), second
//! archives that change nothing, and conflicts that are refused.

// Helpers here are not `#[test]` fns, so clippy.toml's test allowance misses them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use tvault_core::ports::{Deadline, Expect, Listed, SystemClock, Vault, VaultError};
use tvault_core::{Archiver, Outcome};

use crate::util;

async fn archive_all(vault: Arc<dyn Vault>, events: &[String]) -> Vec<Outcome> {
    let archiver = Archiver::new(vault, None, Arc::new(SystemClock));
    let mut out = Vec::new();
    for e in events {
        out.push(archiver.archive_raw(e, Deadline::NONE).await.unwrap());
    }
    out
}

#[tokio::test]
async fn archived_transcripts_are_read_back_by_the_python_sdk() {
    let Some(endpoint) = util::azurite_endpoint() else {
        return;
    };
    let Some(python) = util::venv_python() else {
        return;
    };
    let container = util::unique_container("pyreader");
    let vault = util::vault_at(&endpoint, &container, None, Default::default()).await;
    let events = util::transcript_events("py", 5);
    for o in archive_all(vault.clone(), &events).await {
        let Outcome::Archived(a) = o else {
            panic!("expected a new generation, got {o:?}")
        };
        assert_eq!(
            a.missing.len(),
            2,
            "attachments without a Genesys client are missing"
        );
    }
    // A streamed object larger than one block, committed by Put Block List,
    // must carry metadata sha256 and Content-MD5 the reader can check too.
    let big: Vec<u8> = (0..(9 * 1024 * 1024)).map(|i| (i % 253) as u8).collect();
    let chunks: Vec<Result<Bytes, std::io::Error>> = big
        .chunks(300_000)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    vault
        .put_new_stream(
            "conversations/conv-py-00000/attachments/big/blob.bin",
            futures::stream::iter(chunks).boxed(),
            "application/octet-stream",
            &Expect::default(),
            Deadline::NONE,
        )
        .await
        .unwrap();

    let check = || {
        std::process::Command::new(&python)
            .arg(util::workspace_root().join("scripts/check_vault_azure.py"))
            .args([
                "--container",
                &container,
                "--expect-manifests",
                "5",
                "--require-md5",
            ])
            .env(
                "AZURE_STORAGE_CONNECTION_STRING",
                util::dev_connection_string(&endpoint),
            )
            .output()
            .unwrap()
    };
    let out = check();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "reader found problems:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("21 blobs (21 with Content-MD5), 5 manifests, 0 problems"),
        "{stdout}"
    );

    // The reader is not a rubber stamp: an object written behind the vault's
    // back (object_store's plain put: no sha256 metadata, no manifest) fails it.
    use object_store::ObjectStoreExt;
    // Azurite closes a connection idle for 5 s, and the reader above can take
    // longer; the bare store has no retries of its own (the vault's sit above
    // it), so a put on that stale pooled connection is tried once more.
    let planted = object_store::path::Path::from(
        "conversations/conv-py-00001/transcript.0000000000000000.json",
    );
    for attempt in 1.. {
        match util::raw_store(&endpoint, &container)
            .put(&planted, Bytes::from_static(b"{}").into())
            .await
        {
            Ok(_) => break,
            Err(e) if attempt < 3 => println!("planting again after: {e}"),
            Err(e) => panic!("{e}"),
        }
    }
    let out = check();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("metadata sha256 None"), "{stderr}");
    assert!(stderr.contains("not listed by any manifest"), "{stderr}");

    // Nor does it take a manifest for one because its schema tag is right: a
    // copy of a good manifest without `archivedAt`, written the vault's way
    // (hashes in metadata, Content-MD5), is named with the missing field.
    let listed = vault.list("conversations/conv-py-00002/").await.unwrap();
    let good = listed
        .iter()
        .find(|o| o.path.contains("/manifest."))
        .unwrap();
    let mut doc: serde_json::Value =
        serde_json::from_slice(&vault.get(&good.path).await.unwrap()).unwrap();
    doc["conversationId"] = "conv-py-forged".into();
    doc.as_object_mut().unwrap().remove("archivedAt").unwrap();
    let forged = format!(
        "conversations/conv-py-forged/manifest.{}.json",
        doc["generation"].as_str().unwrap()
    );
    vault
        .put_new(
            &forged,
            Bytes::from(serde_json::to_vec(&doc).unwrap()),
            "application/json",
            Deadline::NONE,
        )
        .await
        .unwrap();
    let out = check();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!("{forged}: missing required field archivedAt")),
        "{stderr}"
    );
}

fn fingerprint(listed: &[Listed]) -> Vec<(String, u64, Option<String>, String)> {
    listed
        .iter()
        .map(|l| {
            (
                l.path.clone(),
                l.size,
                l.e_tag.clone(),
                l.last_modified.to_rfc3339(),
            )
        })
        .collect()
}

#[tokio::test]
async fn second_archive_of_the_same_events_makes_and_replaces_nothing() {
    let Some(vault) = util::azurite_vault("again").await else {
        return;
    };
    let events = util::transcript_events("again", 3);
    archive_all(vault.clone(), &events).await;
    let before = fingerprint(&vault.list("").await.unwrap());
    assert_eq!(before.len(), 12);
    for o in archive_all(vault.clone(), &events).await {
        assert!(matches!(o, Outcome::AlreadyInVault { .. }), "{o:?}");
    }
    // Also write every object again directly: each is already present, none replaced.
    for (path, ..) in &before {
        let bytes = vault.get(path).await.unwrap();
        let s = vault
            .put_new(path, bytes, "application/json", Deadline::NONE)
            .await
            .unwrap();
        assert_eq!(s.outcome, tvault_core::ports::PutOutcome::AlreadyPresent);
    }
    let after = fingerprint(&vault.list("").await.unwrap());
    assert_eq!(
        before, after,
        "ETags and last-modified times must not change"
    );
}

#[tokio::test]
async fn conflicting_bytes_under_a_taken_name_are_refused_and_left_untouched() {
    let Some(endpoint) = util::azurite_endpoint() else {
        return;
    };
    // Small blocks, so the streamed conflict goes through staging and a refused commit.
    let container = util::unique_container("conflict");
    let vault = util::vault_at(&endpoint, &container, Some(64 * 1024), Default::default()).await;
    let path = "conversations/c/attachments/a/photo.jpg";
    let original: Vec<u8> = (0..300_000u32).map(|i| (i % 7) as u8).collect();
    vault
        .put_new(
            path,
            Bytes::from(original.clone()),
            "image/jpeg",
            Deadline::NONE,
        )
        .await
        .unwrap();
    let before = fingerprint(&vault.list("").await.unwrap());

    let err = vault
        .put_new(
            path,
            Bytes::from_static(b"tampered"),
            "image/jpeg",
            Deadline::NONE,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, VaultError::Integrity { .. }), "{err:?}");
    let other: Vec<u8> = (0..300_000u32).map(|i| (i % 11) as u8).collect();
    let chunks: Vec<Result<Bytes, std::io::Error>> = other
        .chunks(50_000)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let err = vault
        .put_new_stream(
            path,
            futures::stream::iter(chunks).boxed(),
            "image/jpeg",
            &Expect::default(),
            Deadline::NONE,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, VaultError::Integrity { .. }), "{err:?}");

    assert_eq!(vault.get(path).await.unwrap(), Bytes::from(original));
    assert_eq!(before, fingerprint(&vault.list("").await.unwrap()));
}

#[tokio::test]
async fn a_missing_container_is_a_permanent_error_naming_it() {
    let Some(endpoint) = util::azurite_endpoint() else {
        return;
    };
    let settings = util::config_for(&endpoint, "no-such-container")
        .build()
        .unwrap();
    let vault = tvault_vault::location::open_azure_settings(settings).unwrap();
    let err = vault
        .put_new("x", Bytes::from_static(b"x"), "text/plain", Deadline::NONE)
        .await
        .unwrap_err();
    match err {
        VaultError::Backend {
            transient, message, ..
        } => {
            assert!(!transient);
            assert!(
                message.contains("no-such-container does not exist"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
}
