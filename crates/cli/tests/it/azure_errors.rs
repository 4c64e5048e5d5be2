//! What a person sees when Azure says no (issue 13, item 6): each refusal
//! in plain words with the Azure error code and request id, never the XML
//! body; an endpoint that does not answer is said so within seconds. The
//! refusals come from a small fake that answers as Azure does
//! (`tvault_testkit::azure_refusals`, which cites the shapes).

use std::time::{Duration, Instant};

use tvault_testkit::azure_refusals::{REQUEST_ID, Refusal, RefusingAzure};

use crate::util::*;

/// The read-only commands, each of which starts with a different request.
const COMMANDS: [&[&str]; 3] = [
    &["list", "--from", "2026-01-01", "--to", "2026-01-01"],
    &["verify"],
    &["show", CONV],
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_azure_refusal_reads_as_plain_words_with_its_code_and_request_id() {
    let cases = [
        (
            Refusal::Firewall,
            "the storage firewall refused this address (your public address is probably not on the storage account's allow-list",
        ),
        (
            Refusal::BadCredential,
            "Azure did not accept the credential: the account key or SAS is wrong, expired or revoked",
        ),
        (
            Refusal::MissingRight,
            "the credential is valid but lacks the right for this operation",
        ),
        (
            Refusal::ContainerNotFound,
            "does not exist in this storage account: check the container name",
        ),
    ];
    for (refusal, words) in cases {
        let azure = RefusingAzure::start(refusal).await.unwrap();
        let vault = format!("{}/vault", azure.endpoint());
        let code = refusal.answer().1;
        for args in COMMANDS {
            let v = vault.clone();
            let out = tokio::task::spawn_blocking(move || {
                tvault_env(
                    &v,
                    &[(
                        "AZURE_STORAGE_CONNECTION_STRING",
                        "UseDevelopmentStorage=true",
                    )],
                    args,
                )
            })
            .await
            .unwrap();
            let err = stderr(&out);
            let what = format!("{refusal:?} {args:?}: {err}");
            assert_eq!(out.status.code(), Some(2), "{what}");
            assert!(err.contains(words), "{what}");
            assert!(
                err.contains(&format!("(Azure error {code}, request id {REQUEST_ID})")),
                "{what}"
            );
            for xml in ["<", "RequestId:", "Time:", "<?xml"] {
                assert!(!err.contains(xml), "{xml:?} reached the user: {what}");
            }
            assert_eq!(err.lines().count(), 1, "{what}");
        }
        // A write meets the same refusal, per record (exit 1).
        let (v, events) = (vault.clone(), repo().join("examples/events"));
        let out = tokio::task::spawn_blocking(move || {
            tvault_env(
                &v,
                &[(
                    "AZURE_STORAGE_CONNECTION_STRING",
                    "UseDevelopmentStorage=true",
                )],
                &["archive", events.to_str().unwrap()],
            )
        })
        .await
        .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{refusal:?} archive: {err}");
        assert!(err.contains(words), "{refusal:?} archive: {err}");
        assert!(err.contains(REQUEST_ID), "{refusal:?} archive: {err}");
        assert!(!err.contains('<'), "{refusal:?} archive: {err}");
        assert!(azure.requests() >= 4);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_port_is_said_within_seconds_naming_the_cause() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let vault = format!("http://127.0.0.1:{port}/devstoreaccount1/vault");
    let started = Instant::now();
    let out = tokio::task::spawn_blocking(move || {
        tvault_env(
            &vault,
            &[(
                "AZURE_STORAGE_CONNECTION_STRING",
                "UseDevelopmentStorage=true",
            )],
            COMMANDS[0],
        )
    })
    .await
    .unwrap();
    let took = started.elapsed();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("could not connect to the storage endpoint (Connection refused"),
        "{err}"
    );
    assert!(!err.contains("http://"), "the URL is never quoted: {err}");
    // Retried for 10 s (a restart of the endpoint is survived), then said.
    assert!(took >= Duration::from_secs(9), "gave up after {took:?}");
    assert!(took < Duration::from_secs(14), "silent for {took:?}");
}

/// No key, no SAS, no connection string: object_store asks the managed
/// identity endpoint (here a closed local port, through the
/// `AZURE_MSI_ENDPOINT` setting object_store reads), and the person is told
/// which variables were looked for, not an IMDS error with its URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_credential_at_all_names_the_variables_looked_for() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let msi = format!("http://127.0.0.1:{port}/metadata/identity/oauth2/token");
    let out = tokio::task::spawn_blocking(move || {
        tvault_env(
            "https://tvaultnone.blob.core.windows.net/vault",
            &[("AZURE_MSI_ENDPOINT", msi.as_str())],
            COMMANDS[0],
        )
    })
    .await
    .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    for needle in [
        "no Azure credential: none of AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_ACCOUNT_KEY or AZURE_STORAGE_SAS_TOKEN is set",
        "(Connection refused",
        "AZURE_FEDERATED_TOKEN_FILE",
        "AZURE_USE_AZURE_CLI=true",
        "managed identity",
    ] {
        assert!(err.contains(needle), "{needle:?} missing: {err}");
    }
    assert!(!err.contains("http://"), "{err}");
    assert!(!err.contains("169.254.169.254"), "{err}");
}
