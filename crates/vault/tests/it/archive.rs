//! The archive path end to end into real vault backends (memory and local
//! disk): idempotence, generations, missing attachments, integrity conflicts,
//! and the order of writes.
//!
//! `TableSource` below is a port implementation with fixed answers, used to
//! exercise the core's attachment logic without the network; the Genesys
//! client itself is tested against an HTTP fake in its own crate.

// Tests may unwrap: a panic is a failed test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Duration, TimeZone, Utc};
use futures::StreamExt;
use futures::stream::BoxStream;
use tvault_core::archive::{NO_CREDENTIALS, Outcome};
use tvault_core::hash::sha256_hex;
use tvault_core::manifest::{Manifest, Role, generation};
use tvault_core::ports::*;
use tvault_core::transcript::AttachmentRef;
use tvault_core::{ArchiveError, Archiver, AttachmentId, ConversationId, ErrorClass, read};

const D: Deadline = Deadline::NONE;
const CONV: &str = "8d3f4c1e-5b2a-4e7f-9c61-0a2b3c4d5e6f";
const ATT1: &str = "f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b";
const ATT2: &str = "a0b1c2d3-e4f5-4a6b-9c8d-7e6f5a4b3c2d";

fn fixture(name: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/genesys")
        .join(name);
    std::fs::read_to_string(p).unwrap()
}

fn guide_event() -> String {
    fixture("SEED_ASSUMED__eventbridge_transcripts__NOT_A_REAL_TOPIC.json")
}

/// A clock that moves one second each time it is read.
struct StepClock(Mutex<DateTime<Utc>>);
impl Clock for StepClock {
    fn now(&self) -> DateTime<Utc> {
        let mut t = self.0.lock().unwrap();
        *t += Duration::seconds(1);
        *t
    }
}
fn clock() -> Arc<dyn Clock> {
    Arc::new(StepClock(Mutex::new(
        Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(),
    )))
}

fn conv() -> ConversationId {
    ConversationId::new(CONV).unwrap()
}

async fn paths(v: &dyn Vault) -> Vec<String> {
    v.list("")
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.path)
        .collect()
}

/// Attachment answers by id: bytes, or a reason it is gone.
#[derive(Default)]
struct TableSource {
    bytes: HashMap<String, Result<Vec<u8>, String>>,
}

#[async_trait]
impl ConversationSource for TableSource {
    async fn fetch_transcript(
        &self,
        _: &ConversationId,
        _: Deadline,
    ) -> Result<Fetched, SourceError> {
        Err(SourceError::NotReady {
            reason: "not in this table".into(),
            retry_after: None,
        })
    }
    async fn resolve_attachments(
        &self,
        _: &ConversationId,
        wanted: &[(Option<String>, AttachmentId)],
        _: Deadline,
    ) -> Result<Resolved, SourceError> {
        let found = wanted
            .iter()
            .map(|(m, id)| {
                let r = AttachmentRef {
                    message_id: m.clone(),
                    name: Some(format!("{id}.png")),
                    content_type: Some("image/png".into()),
                    url: Some(format!("https://files.example/{id}?sig=secret")),
                    ..Default::default()
                };
                (id.clone(), r)
            })
            .collect();
        Ok(Resolved {
            found,
            missing: vec![],
            sources: vec![],
        })
    }
    async fn open_attachment(
        &self,
        a: &AttachmentRef,
        _: Deadline,
    ) -> Result<ByteStream, SourceError> {
        let url = a.url.as_deref().unwrap();
        let id = url
            .trim_start_matches("https://files.example/")
            .split('?')
            .next()
            .unwrap();
        match self.bytes.get(id) {
            Some(Ok(b)) => Ok(futures::stream::iter(vec![Ok(Bytes::from(b.clone()))]).boxed()),
            Some(Err(reason)) => Err(SourceError::Gone {
                reason: reason.clone(),
            }),
            None => Err(SourceError::Transient {
                reason: "no answer".into(),
                retry_after: None,
            }),
        }
    }
}

async fn only_manifest(v: &dyn Vault) -> Manifest {
    let ms = read::manifests(v, &conv()).await.unwrap();
    assert_eq!(ms.len(), 1, "{ms:?}");
    ms.into_iter().next().unwrap()
}

#[tokio::test]
async fn second_delivery_of_same_event_writes_nothing_new() {
    let dir = tempfile::tempdir().unwrap();
    let vault: Arc<dyn Vault> = tvault_vault::open(dir.path().to_str().unwrap()).unwrap();
    let a = Archiver::new(vault.clone(), None, clock());
    let raw = guide_event();
    let first = a.archive_raw(&raw, D).await.unwrap();
    assert!(matches!(first, Outcome::Archived(_)), "{first:?}");
    let before = vault.list("").await.unwrap();
    let second = a.archive_raw(&raw, D).await.unwrap();
    assert!(
        matches!(second, Outcome::AlreadyInVault { .. }),
        "{second:?}"
    );
    let after = vault.list("").await.unwrap();
    assert_eq!(
        before, after,
        "the listing (names, sizes, times) must not change"
    );
}

#[tokio::test]
async fn attachments_without_credentials_are_listed_missing_with_the_reason() {
    let vault: Arc<dyn Vault> = tvault_vault::open("memory://").unwrap();
    let a = Archiver::new(vault.clone(), None, clock());
    let Outcome::Archived(done) = a.archive_raw(&guide_event(), D).await.unwrap() else {
        panic!()
    };
    let mut ids: Vec<_> = done
        .missing
        .iter()
        .map(|m| m.attachment_id.to_string())
        .collect();
    ids.sort();
    assert_eq!(ids, [ATT2, ATT1]);
    assert!(done.missing.iter().all(|m| m.reason == NO_CREDENTIALS));

    let m = only_manifest(vault.as_ref()).await;
    assert_eq!(m.conversation.message_count, 5);
    assert_eq!(m.conversation.attachment_count, 2);
    let t = m.transcript().unwrap();
    assert_eq!(m.generation, generation(&t.sha256, &[ATT1, ATT2]));
    // The manifest lists exactly what is stored under the conversation, plus itself.
    let mut listed: Vec<String> = m.objects.iter().map(|o| o.path.clone()).collect();
    listed.push(format!(
        "conversations/{CONV}/manifest.{}.json",
        m.generation
    ));
    listed.sort();
    assert_eq!(
        listed,
        vault
            .list(&format!("conversations/{CONV}/"))
            .await
            .unwrap()
            .into_iter()
            .map(|l| l.path)
            .collect::<Vec<_>>()
    );
    // The raw event is kept byte for byte.
    let src = m.objects.iter().find(|o| o.role == Role::Source).unwrap();
    assert_eq!(
        vault.get(&src.path).await.unwrap(),
        Bytes::from(guide_event())
    );
    // Indexed under the last message's day (the event has no end time).
    assert!(
        paths(vault.as_ref())
            .await
            .contains(&format!("index/2026/09/20/{CONV}.{}", m.generation))
    );
}

#[tokio::test]
async fn recovering_a_missing_attachment_makes_a_new_complete_generation() {
    let vault: Arc<dyn Vault> = tvault_vault::open("memory://").unwrap();
    let clock = clock();
    let without = Archiver::new(vault.clone(), None, clock.clone());
    without.archive_raw(&guide_event(), D).await.unwrap();

    let mut table = TableSource::default();
    table.bytes.insert(ATT1.into(), Ok(b"jpeg bytes".to_vec()));
    table
        .bytes
        .insert(ATT2.into(), Err("HTTP 404 from the download URL".into()));
    let with = Archiver::new(vault.clone(), Some(Arc::new(table)), clock);
    let Outcome::Archived(done) = with.archive_raw(&guide_event(), D).await.unwrap() else {
        panic!()
    };
    assert_eq!(done.attachments, 1);
    assert_eq!(done.missing.len(), 1);
    assert_eq!(done.missing[0].attachment_id.as_str(), ATT2);

    let all = read::manifests(vault.as_ref(), &conv()).await.unwrap();
    assert_eq!(all.len(), 2, "both generations stay");
    let latest = read::manifest(vault.as_ref(), &conv(), None).await.unwrap();
    assert_eq!(latest.generation, done.generation);
    let att = latest
        .objects
        .iter()
        .find(|o| o.role == Role::Attachment)
        .unwrap();
    assert_eq!(att.sha256, sha256_hex(b"jpeg bytes"));
    assert_eq!(
        att.source_url.as_deref(),
        Some(format!("https://files.example/{ATT1}").as_str()),
        "no query string"
    );
    assert_eq!(
        vault.get(&att.path).await.unwrap(),
        Bytes::from_static(b"jpeg bytes")
    );
    assert_eq!(latest.missing[0].reason, "HTTP 404 from the download URL");

    // Same again: nothing new, even though one attachment is still gone.
    let before = paths(vault.as_ref()).await;
    let again = with.archive_raw(&guide_event(), D).await.unwrap();
    assert!(matches!(again, Outcome::AlreadyInVault { .. }), "{again:?}");
    assert_eq!(before, paths(vault.as_ref()).await);
}

#[tokio::test]
async fn a_transient_attachment_failure_fails_the_record_and_commits_nothing() {
    let vault: Arc<dyn Vault> = tvault_vault::open("memory://").unwrap();
    let a = Archiver::new(
        vault.clone(),
        Some(Arc::new(TableSource::default())),
        clock(),
    );
    let err = a.archive_raw(&guide_event(), D).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Transient, "{err}");
    assert!(
        read::manifests(vault.as_ref(), &conv())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn different_content_for_one_conversation_keeps_both_generations() {
    let vault: Arc<dyn Vault> = tvault_vault::open("memory://").unwrap();
    let a = Archiver::new(vault.clone(), None, clock());
    let first = r#"{"detail":{"conversationId":"c-7","messages":[{"messageId":"m1","timestamp":"2026-09-20T09:00:00Z","text":"hi"}]}}"#;
    let second = r#"{"detail":{"conversationId":"c-7","messages":[{"messageId":"m1","timestamp":"2026-09-20T09:00:00Z","text":"hi"},{"messageId":"m2","timestamp":"2026-09-20T09:01:00Z","text":"bye"}]}}"#;
    let Outcome::Archived(g1) = a.archive_raw(first, D).await.unwrap() else {
        panic!()
    };
    let Outcome::Archived(g2) = a.archive_raw(second, D).await.unwrap() else {
        panic!()
    };
    assert_ne!(g1.generation, g2.generation);
    let c7 = ConversationId::new("c-7").unwrap();
    assert_eq!(read::manifests(vault.as_ref(), &c7).await.unwrap().len(), 2);
    assert_eq!(
        read::manifest(vault.as_ref(), &c7, None)
            .await
            .unwrap()
            .generation,
        g2.generation
    );
}

#[tokio::test]
async fn a_lifecycle_event_without_credentials_names_the_settings_to_provide() {
    let vault: Arc<dyn Vault> = tvault_vault::open("memory://").unwrap();
    let a = Archiver::new(vault.clone(), None, clock());
    let err = a
        .archive_raw(&fixture("eventbridge_customer_end__webmessaging.json"), D)
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Permanent);
    let msg = err.to_string();
    for setting in [
        "GENESYSCLOUD_OAUTHCLIENT_ID",
        "GENESYSCLOUD_OAUTHCLIENT_SECRET",
        "GENESYSCLOUD_REGION",
        CONV,
    ] {
        assert!(msg.contains(setting), "{msg}");
    }
    assert!(paths(vault.as_ref()).await.is_empty());
}

#[tokio::test]
async fn a_name_taken_by_other_bytes_is_an_integrity_error_and_nothing_is_committed() {
    let vault: Arc<dyn Vault> = tvault_vault::open("memory://").unwrap();
    let a = Archiver::new(vault.clone(), None, clock());
    // Archive once into a scratch vault to learn the transcript's name.
    let scratch: Arc<dyn Vault> = tvault_vault::open("memory://").unwrap();
    Archiver::new(scratch.clone(), None, clock())
        .archive_raw(&guide_event(), D)
        .await
        .unwrap();
    let t = only_manifest(scratch.as_ref())
        .await
        .transcript()
        .unwrap()
        .path
        .clone();
    vault
        .put_new(&t, Bytes::from_static(b"planted"), "application/json", D)
        .await
        .unwrap();

    let err = a.archive_raw(&guide_event(), D).await.unwrap_err();
    assert!(
        matches!(
            err,
            ArchiveError::Vault {
                source: VaultError::Integrity { .. },
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(err.class(), ErrorClass::Permanent);
    assert_eq!(vault.get(&t).await.unwrap(), Bytes::from_static(b"planted"));
    assert!(
        read::manifests(vault.as_ref(), &conv())
            .await
            .unwrap()
            .is_empty()
    );
}

/// Records the order of writes, passing everything through to a real vault.
#[derive(Debug)]
struct Recording {
    inner: Arc<dyn Vault>,
    puts: Mutex<Vec<String>>,
}

#[async_trait]
impl Vault for Recording {
    async fn put_new(
        &self,
        p: &str,
        b: Bytes,
        ct: &str,
        d: Deadline,
    ) -> Result<Stored, VaultError> {
        self.puts.lock().unwrap().push(p.to_string());
        self.inner.put_new(p, b, ct, d).await
    }
    async fn put_new_stream(
        &self,
        p: &str,
        b: ByteStream,
        ct: &str,
        e: &Expect,
        d: Deadline,
    ) -> Result<Stored, VaultError> {
        self.puts.lock().unwrap().push(p.to_string());
        self.inner.put_new_stream(p, b, ct, e, d).await
    }
    async fn exists(&self, p: &str) -> Result<bool, VaultError> {
        self.inner.exists(p).await
    }
    async fn get(&self, p: &str) -> Result<Bytes, VaultError> {
        self.inner.get(p).await
    }
    async fn get_stream(&self, p: &str) -> Result<ByteStream, VaultError> {
        self.inner.get_stream(p).await
    }
    fn list_stream<'a>(&'a self, p: &'a str) -> BoxStream<'a, Result<Listed, VaultError>> {
        self.inner.list_stream(p)
    }
}

#[tokio::test]
async fn the_manifest_is_written_last_after_attachments() {
    let rec = Arc::new(Recording {
        inner: tvault_vault::open("memory://").unwrap(),
        puts: Mutex::new(vec![]),
    });
    let mut table = TableSource::default();
    table.bytes.insert(ATT1.into(), Ok(b"one".to_vec()));
    table.bytes.insert(ATT2.into(), Ok(b"two".to_vec()));
    let a = Archiver::new(rec.clone(), Some(Arc::new(table)), clock());
    a.archive_raw(&guide_event(), D).await.unwrap();
    let puts = rec.puts.lock().unwrap().clone();
    assert_eq!(puts.len(), 6, "{puts:#?}");
    assert!(
        puts[0].contains("/attachments/") && puts[1].contains("/attachments/"),
        "{puts:#?}"
    );
    assert!(puts[4].starts_with("index/"), "{puts:#?}");
    assert!(puts[5].contains("/manifest."), "{puts:#?}");
}

/// A vault that makes deliveries race: every call yields to the scheduler
/// first (the memory vault never does, so without this each archive would
/// run to its end before the next began), and the first `racers` puts of each
/// date-index marker wait for one another. A delivery puts the marker only
/// after it has asked whether the generation is in the vault (the
/// transcript's put, and the manifest's HEAD when the transcript was there)
/// and found it not, and before it puts the manifest: so every delivery has
/// found none, and goes on to commit.
#[derive(Debug)]
struct Racing {
    inner: Arc<dyn Vault>,
    racers: usize,
    /// Per index marker name: puts so far, and the gate its first `racers` wait at.
    gates: Mutex<HashMap<String, (usize, Arc<tokio::sync::Barrier>)>>,
    manifest_puts: std::sync::atomic::AtomicUsize,
}

impl Racing {
    fn new(inner: Arc<dyn Vault>, racers: usize) -> Self {
        Self {
            inner,
            racers,
            gates: Mutex::default(),
            manifest_puts: Default::default(),
        }
    }

    /// The gate a put of `path` waits at, if it is one of the first `racers`.
    fn gate(&self, path: &str) -> Option<Arc<tokio::sync::Barrier>> {
        let mut gates = self.gates.lock().unwrap();
        let (n, gate) = gates
            .entry(path.to_string())
            .or_insert_with(|| (0, Arc::new(tokio::sync::Barrier::new(self.racers))));
        *n += 1;
        (*n <= self.racers).then(|| gate.clone())
    }
}

#[async_trait]
impl Vault for Racing {
    async fn put_new(
        &self,
        p: &str,
        b: Bytes,
        ct: &str,
        d: Deadline,
    ) -> Result<Stored, VaultError> {
        tokio::task::yield_now().await;
        if p.contains("/manifest.") {
            self.manifest_puts
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        let answer = self.inner.put_new(p, b, ct, d).await;
        if p.starts_with("index/")
            && let Some(gate) = self.gate(p)
        {
            // Deliveries that ran one after another would never all get here
            // at once: fail instead of waiting for ever.
            tokio::time::timeout(std::time::Duration::from_secs(20), gate.wait())
                .await
                .unwrap_or_else(|_| panic!("the deliveries did not all put {p} at the same time"));
        }
        answer
    }
    async fn put_new_stream(
        &self,
        p: &str,
        b: ByteStream,
        ct: &str,
        e: &Expect,
        d: Deadline,
    ) -> Result<Stored, VaultError> {
        tokio::task::yield_now().await;
        self.inner.put_new_stream(p, b, ct, e, d).await
    }
    async fn exists(&self, p: &str) -> Result<bool, VaultError> {
        tokio::task::yield_now().await;
        self.inner.exists(p).await
    }
    async fn get(&self, p: &str) -> Result<Bytes, VaultError> {
        tokio::task::yield_now().await;
        self.inner.get(p).await
    }
    async fn get_stream(&self, p: &str) -> Result<ByteStream, VaultError> {
        tokio::task::yield_now().await;
        self.inner.get_stream(p).await
    }
    fn list_stream<'a>(&'a self, p: &'a str) -> BoxStream<'a, Result<Listed, VaultError>> {
        self.inner.list_stream(p)
    }
    async fn list(&self, p: &str) -> Result<Vec<Listed>, VaultError> {
        tokio::task::yield_now().await;
        self.inner.list(p).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_deliveries_commit_one_generation_once() {
    const DELIVERIES: usize = 8;
    let memory: Arc<dyn Vault> = tvault_vault::open("memory://").unwrap();
    let racing = Arc::new(Racing::new(memory.clone(), DELIVERIES));
    let a = Archiver::new(racing.clone(), None, clock());
    let raw = Arc::new(guide_event());
    let tasks: Vec<_> = (0..DELIVERIES)
        .map(|_| {
            let (a, raw) = (a.clone(), raw.clone());
            tokio::spawn(async move { a.archive_raw(&raw, D).await })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    let archived = results
        .iter()
        .filter(|r| matches!(r, Ok(Outcome::Archived(_))))
        .count();
    let already = results
        .iter()
        .filter(|r| matches!(r, Ok(Outcome::AlreadyInVault { .. })))
        .count();
    assert_eq!((archived, already), (1, DELIVERIES - 1), "{results:?}");
    // They raced to the commit: every delivery tried to create the manifest,
    // and the losers were told it exists.
    assert_eq!(
        racing
            .manifest_puts
            .load(std::sync::atomic::Ordering::SeqCst),
        DELIVERIES
    );
    assert_eq!(
        read::manifests(memory.as_ref(), &conv())
            .await
            .unwrap()
            .len(),
        1
    );
}
