//! Secrets never reach logs, errors or `Debug` output: every line logged at
//! TRACE (ours, object_store's, reqwest's through the `log` bridge) is
//! captured while credentials are used, including failing requests, and
//! searched for the secrets.
//!
//! Its own test binary, because it installs the process-wide subscriber.

// Helpers here are not `#[test]` fns, so clippy.toml's test allowance misses them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use tvault_core::ports::{Deadline, Expect, Vault};
use tvault_vault::ObjectVault;
use tvault_vault::azure::{AzureConfig, RetryPolicy};

// The helpers of the `it` binary, shared by path.
#[path = "it/util.rs"]
mod util;

/// A (valid base64) account key that is not Azurite's: every request is refused.
const WRONG_KEY: &str = "V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3JvbmdLZXk=";
/// The signature of a made-up SAS token.
const SAS_SIG: &str = "c2VjcmV0c2lnbmF0dXJlZm9ydGVzdHM";

static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

#[derive(Clone)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture() -> Arc<Mutex<Vec<u8>>> {
    LOG.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let w = Capture(buf.clone());
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || w.clone())
            .init();
        buf
    })
    .clone()
}

fn quick() -> RetryPolicy {
    RetryPolicy {
        max_retries: 2,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        connect_timeout: Duration::from_millis(500),
        ..RetryPolicy::default()
    }
}

/// Use `vault` every way there is; every call is expected to fail. Returns the errors as text.
async fn exercise(vault: &ObjectVault) -> String {
    let mut seen = format!("{vault:?}\n");
    let r = vault
        .put_new(
            "c/a.json",
            Bytes::from_static(b"{}"),
            "application/json",
            Deadline::NONE,
        )
        .await;
    seen.push_str(&format!(
        "{r:?} {}\n",
        r.as_ref().err().map(|e| e.to_string()).unwrap_or_default()
    ));
    assert!(r.is_err(), "the credential must be refused");
    let body = futures::stream::iter(vec![Ok(Bytes::from(vec![7u8; 200_000]))]).boxed();
    let r = vault
        .put_new_stream(
            "c/b.bin",
            body,
            "application/octet-stream",
            &Expect::default(),
            Deadline::NONE,
        )
        .await;
    seen.push_str(&format!("{r:?}\n"));
    seen.push_str(&format!("{:?}\n", vault.exists("c/a.json").await));
    seen.push_str(&format!("{:?}\n", vault.get("c/a.json").await.err()));
    seen.push_str(&format!("{:?}\n", vault.list("c/").await));
    seen
}

fn assert_absent(haystack: &str, secrets: &[&str], what: &str) {
    for s in secrets {
        if let Some(i) = haystack.find(s) {
            // Show where, with the (test) secret itself masked.
            let context = haystack[i.saturating_sub(300)..i].to_string();
            panic!("{what} contains a secret ({}...) after: {context}", &s[..6]);
        }
    }
}

#[tokio::test]
async fn credentials_never_reach_logs_errors_or_debug_output() {
    let log = capture();
    // The key as configured, and as object_store holds it (decoded bytes, which its Debug lists).
    let key_forms = [
        WRONG_KEY,
        WRONG_KEY.trim_end_matches('='),
        "WrongKeyWrongKey",
        "87, 114, 111, 110, 103, 75",
    ];
    let mut seen = String::new();

    // 1. A refused account key, from a connection string (Azurite answers 403).
    if let Some(endpoint) = util::azurite_endpoint() {
        let container = util::unique_container("secrets");
        // The container exists, so refusals are about the credential.
        util::vault_at(&endpoint, &container, None, RetryPolicy::default()).await;
        let cs = format!(
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={WRONG_KEY};BlobEndpoint={endpoint};"
        );
        let cfg = AzureConfig::new(format!("{endpoint}/{container}"))
            .with_connection_string(cs.clone())
            .with_retry(quick());
        seen.push_str(&format!("{cfg:?}\n"));
        let vault = tvault_vault::location::open_azure_settings(cfg.build().unwrap()).unwrap();
        seen.push_str(&exercise(&vault).await);
        assert!(seen.contains("did not accept the credential"), "{seen}");
        // Every operation, the streamed write's first HEAD too: no XML body.
        assert!(!seen.contains("<?xml"), "{seen}");

        // 2. A made-up SAS token (its signature is refused).
        let sas =
            format!("sv=2023-11-03&ss=b&srt=sco&sp=rwlc&se=2099-01-01T00:00:00Z&sig={SAS_SIG}");
        let cfg = AzureConfig::new(format!("{endpoint}/{container}"))
            .with_var("AZURE_STORAGE_SAS_TOKEN", sas.as_str())
            .with_var("AZURE_STORAGE_ACCOUNT_NAME", "devstoreaccount1")
            .with_retry(quick());
        seen.push_str(&format!("{cfg:?}\n"));
        let vault = tvault_vault::location::open_azure_settings(cfg.build().unwrap()).unwrap();
        seen.push_str(&exercise(&vault).await);
    }

    // 3. Nobody listening: connection errors, retried and logged.
    let cfg = AzureConfig::new("http://127.0.0.1:9/devstoreaccount1/closed")
        .with_connection_string(format!(
            "AccountName=devstoreaccount1;AccountKey={WRONG_KEY};BlobEndpoint=http://127.0.0.1:9/devstoreaccount1"
        ))
        .with_retry(quick());
    let vault = tvault_vault::location::open_azure_settings(cfg.build().unwrap()).unwrap();
    seen.push_str(&exercise(&vault).await);

    let logged = String::from_utf8_lossy(&log.lock().unwrap()).to_string();
    // The capture works (not a vacuous pass): the retry layer's lines are there.
    assert!(
        logged.contains("transport error; retrying"),
        "nothing captured:\n{logged}"
    );
    assert_absent(&logged, &key_forms, "the log");
    assert_absent(&logged, &[SAS_SIG], "the log");
    assert_absent(&seen, &key_forms, "an error or Debug output");
    assert_absent(&seen, &[SAS_SIG], "an error or Debug output");
}
