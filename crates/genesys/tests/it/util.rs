//! Helpers shared by the tests: the fake, a source pointed at it, a vault on
//! disk, and readers for what was committed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tvault_core::Archiver;
use tvault_core::manifest::Manifest;
use tvault_core::ports::{Clock, ConversationSource, Vault};
use tvault_core::secret::Secret;
use tvault_genesys::{Config, GenesysSource, Tuning};
use tvault_testkit::genesys::{CLIENT_ID, CLIENT_SECRET, FakeConversation, FakeGenesys};

/// The conversation of the fixtures.
pub const CONV: &str = "8d3f4c1e-5b2a-4e7f-9c61-0a2b3c4d5e6f";
pub const PHOTO_ID: &str = "f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b";
pub const INVOICE_ID: &str = "a0b1c2d3-e4f5-4a6b-9c8d-7e6f5a4b3c2d";

pub fn fixture(name: &str) -> String {
    let p = format!(
        "{}/../../fixtures/genesys/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(p).unwrap()
}

/// The customer.end fixture, for conversation `conv`.
pub fn customer_end(conv: &str) -> String {
    fixture("eventbridge_customer_end__webmessaging.json").replace(CONV, conv)
}

/// Deterministic bytes of a given length (so two attachments differ).
pub fn bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| {
            (i as u32)
                .wrapping_mul(2_654_435_761)
                .rotate_left(seed as u32) as u8
                ^ seed
        })
        .collect()
}

pub fn photo() -> Vec<u8> {
    bytes(284_311, 7)
}

pub fn invoice() -> Vec<u8> {
    bytes(91_522, 13)
}

pub fn sample(conv: &str) -> FakeConversation {
    FakeConversation::sample(conv, photo(), invoice())
}

/// Tuning for tests: no pacing unless a test wants it.
pub fn fast() -> Tuning {
    Tuning {
        requests_per_minute: 600_000,
        burst: 10_000,
        ..Tuning::default()
    }
}

pub fn source_with(fake: &FakeGenesys, tuning: Tuning, secret: &str) -> Arc<GenesysSource> {
    let config = Config::builder()
        .client_id(CLIENT_ID)
        .client_secret(Secret::new(secret))
        .region(fake.base_url())
        .tuning(tuning)
        .build()
        .unwrap();
    Arc::new(GenesysSource::new(config).unwrap())
}

pub fn source(fake: &FakeGenesys) -> Arc<GenesysSource> {
    source_with(fake, fast(), CLIENT_SECRET)
}

pub struct FixedClock;

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        tvault_core::transcript::parse_time("2026-09-20T10:00:00Z").unwrap()
    }
}

/// A local vault in a temp dir, and the archiver over it.
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub vault: Arc<dyn Vault>,
    pub archiver: Archiver,
}

pub fn setup(source: Arc<GenesysSource>) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let vault: Arc<dyn Vault> = tvault_vault::open(dir.path().to_str().unwrap()).unwrap();
    let archiver = Archiver::new(
        vault.clone(),
        Some(source as Arc<dyn ConversationSource>),
        Arc::new(FixedClock),
    );
    Setup {
        dir,
        vault,
        archiver,
    }
}

impl Setup {
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn file(&self, object: &str) -> PathBuf {
        self.root().join(object)
    }

    /// The manifests committed for `conv`.
    pub async fn manifests(&self, conv: &str) -> Vec<Manifest> {
        let mut out = Vec::new();
        for o in self
            .vault
            .list(&format!("conversations/{conv}/"))
            .await
            .unwrap()
        {
            if o.path.contains("/manifest.") {
                out.push(Manifest::from_slice(&self.vault.get(&o.path).await.unwrap()).unwrap());
            }
        }
        out
    }

    /// Object names under `conversations/{conv}/`.
    pub async fn objects(&self, conv: &str) -> Vec<String> {
        self.vault
            .list(&format!("conversations/{conv}/"))
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.path)
            .collect()
    }
}

pub fn sha256_hex(b: &[u8]) -> String {
    tvault_core::hash::sha256_hex(b)
}

/// The customer.end fixture as a legacy chat's (`mediaType` CHAT) for `conv`.
pub fn chat_end(conv: &str) -> String {
    customer_end(conv)
        .replace("\"mediaType\": \"MESSAGE\"", "\"mediaType\": \"CHAT\"")
        .replace("\"messageType\": \"WEBMESSAGING\",", "")
}

/// The transcript of the latest (only) generation of `conv`.
pub async fn transcript_of(s: &Setup, conv: &str) -> tvault_core::transcript::Transcript {
    let manifests = s.manifests(conv).await;
    assert_eq!(manifests.len(), 1, "{manifests:?}");
    let path = &manifests[0].transcript().unwrap().path;
    serde_json::from_slice(&std::fs::read(s.file(path)).unwrap()).unwrap()
}
