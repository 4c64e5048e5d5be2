//! What one conversation costs in Azure requests (issue 16, "Make it fast"):
//! counted by the fault proxy in front of Azurite with no faults planned, so
//! every request the vault makes is one request Azurite answers. The
//! justification of each request is in docs/performance.md.

// Helpers here are not `#[test]` fns, so clippy.toml's test allowance misses them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use tvault_core::ports::{Deadline, SystemClock, Vault};
use tvault_core::{Archiver, Outcome};
use tvault_testkit::proxy::{FaultPlan, Proxy};
use tvault_vault::azure::RetryPolicy;

use crate::util;

/// A new transcript-only conversation is four create-only puts (transcript,
/// event under source/, index marker, manifest) and nothing else: the
/// transcript's put answers "already in vault?", so no HEAD precedes it.
/// A redelivery of the same event writes nothing new and still ends
/// "already in vault".
#[tokio::test]
async fn a_new_transcript_only_conversation_costs_four_requests() {
    let Some(endpoint) = util::azurite_endpoint() else {
        return;
    };
    let (origin, account) = endpoint.rsplit_once('/').unwrap();
    let proxy = Proxy::start(origin, FaultPlan::default()).await.unwrap();
    let container = util::unique_container("requests");
    // The container is created straight at Azurite, so the proxy counts only the archive.
    util::vault_at(&endpoint, &container, None, RetryPolicy::default()).await;
    let through = format!("{}/{account}", proxy.url());
    let settings = util::config_for(&through, &container).build().unwrap();
    let vault: Arc<dyn Vault> =
        Arc::new(tvault_vault::location::open_azure_settings(settings).unwrap());
    let archiver = Archiver::new(vault.clone(), None, Arc::new(SystemClock));
    let events = util::transcript_events("req", 3);

    for e in &events {
        let out = archiver.archive_raw(e, Deadline::NONE).await.unwrap();
        assert!(matches!(out, Outcome::Archived(_)), "{out:?}");
    }
    let first = proxy.counts().requests;
    assert_eq!(first, 4 * 3, "requests for 3 new conversations");

    let out = archiver
        .archive_raw(&events[0], Deadline::NONE)
        .await
        .unwrap();
    assert!(matches!(out, Outcome::AlreadyInVault { .. }), "{out:?}");
    let redelivery = proxy.counts().requests - first;
    // The transcript's put (409) and the read-back that proves the same
    // bytes, the manifest's HEAD, then the event's put (409) and read-back.
    assert_eq!(redelivery, 5, "requests for one redelivery");
    let listed = vault.list("").await.unwrap();
    assert_eq!(listed.len(), 4 * 3, "{listed:#?}");
}
