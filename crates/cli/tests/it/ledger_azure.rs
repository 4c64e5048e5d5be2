//! The ledger's life against Azurite with the credentials of the deployment:
//! the writer SAS has read, create and list (`rcl`, the template's
//! `tvault-writer` policy: no write, so no overwrite, and no delete); the
//! auditor's SAS has read and list. Both made by the official Azure SDK for
//! Python. The writer archives (twice: the second delivery settles by hash)
//! and seals; the auditor audits; an overwrite and a delete with the writer
//! SAS are refused; what the account key removes (as no one could under
//! WORM) is named by `tvault audit` and by the Python check script run on a
//! copy downloaded by the SDK.

use std::collections::BTreeSet;
use std::process::Command;

use tvault_testkit::pipeline;

use crate::ledger::{CONVS, DAYS, Ledgered, agree, three_sealed_days};
use crate::util::*;

const ACCOUNT: &str = "devstoreaccount1";

/// What the tests ask of Azure through the official Python SDK.
const SDK: &str = r#"
import os, sys
from datetime import datetime, timedelta, timezone
from azure.core.exceptions import HttpResponseError
from azure.storage.blob import ContainerClient, ContainerSasPermissions, generate_container_sas
endpoint, container, key, what = sys.argv[1:5]
if what in ("rcl", "rl"):
    perm = ContainerSasPermissions(read=True, create="c" in what, list=True)
    print(generate_container_sas(endpoint.rsplit("/", 1)[1], container, account_key=key, permission=perm,
                                 expiry=datetime.now(timezone.utc) + timedelta(hours=2)))
    sys.exit(0)
credential = sys.argv[5] if len(sys.argv) > 5 and sys.argv[5] != "-" else {"account_name": endpoint.rsplit("/", 1)[1], "account_key": key}
c = ContainerClient(endpoint, container, credential=credential, api_version="2025-01-05")
if what == "download":
    for b in c.list_blobs():
        p = os.path.join(sys.argv[6], *b.name.split("/"))
        os.makedirs(os.path.dirname(p), exist_ok=True)
        open(p, "wb").write(c.download_blob(b.name).readall())
    sys.exit(0)
try:
    if what.startswith("overwrite:"):
        c.upload_blob(what[10:], b"forged", overwrite=True)
    elif what.startswith("delete:"):
        c.delete_blob(what[7:])
    print("done")
except HttpResponseError as e:
    print(f"refused {e.status_code} {e.error_code}")
"#;

fn sdk(endpoint: &str, container: &str, args: &[&str]) -> String {
    let py = tvault_testkit::services::venv_python().unwrap();
    let out = Command::new(py)
        .args([
            "-c",
            SDK,
            endpoint,
            container,
            tvault_vault::azure::config::DEV_ACCOUNT_KEY,
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out).trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_only_writer_archives_and_seals_and_a_read_only_auditor_audits() {
    let Some((vault_url, _cs)) = pipeline::azurite_container(ACCOUNT).await else {
        return;
    };
    let (endpoint, container) = vault_url.rsplit_once('/').unwrap();
    let writer = sdk(endpoint, container, &["rcl"]);
    let reader = sdk(endpoint, container, &["rl"]);
    assert!(
        writer.contains("sp=rcl") && reader.contains("sp=rl"),
        "{writer} {reader}"
    );
    let mut l = Ledgered::local().await;
    l.vault = vault_url.clone();
    l.writer = vec![("AZURE_STORAGE_SAS_TOKEN".into(), writer.clone())];
    l.reader = vec![("AZURE_STORAGE_SAS_TOKEN".into(), reader.clone())];

    let witness = three_sealed_days(&l).await;
    // The same events again: every name exists, and the create-only writer
    // is refused them (403); each settles by hash as "already in vault".
    let events = tempfile::tempdir().unwrap();
    for (conv, _) in CONVS {
        std::fs::write(
            events.path().join(format!("{conv}.json")),
            pipeline::customer_end(conv),
        )
        .unwrap();
    }
    let out = l
        .run(true, &["archive", events.path().to_str().unwrap()])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).lines().next().unwrap(),
        "archived 0, already in vault 6, skipped 0, failed 0"
    );

    // A late arrival, sealed into a supplement by the same writer.
    l.archive(&[("led-a3", "2026-09-20")]).await;
    assert_eq!(l.seal(DAYS[0]).await, witness[0]);
    let w = l.witness_file(&witness);
    let out = l
        .audit(DAYS[0], DAYS[2], &["--witness", w.to_str().unwrap()])
        .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("3 sealed, 4 ledger object(s), 7 generation(s) listed"),
        "{}",
        stdout(&out)
    );

    // The writer cannot overwrite a ledger object or a manifest, nor delete one.
    let manifest = {
        let copy = tempfile::tempdir().unwrap();
        sdk(
            endpoint,
            container,
            &["download", "-", copy.path().to_str().unwrap()],
        );
        let dir = copy.path().join("conversations/led-b1");
        format!(
            "conversations/led-b1/{}",
            files_under(&dir)
                .into_iter()
                .find(|f| f.starts_with("manifest."))
                .unwrap()
        )
    };
    for target in ["ledger/2026/09/21.json", manifest.as_str()] {
        let said = sdk(
            endpoint,
            container,
            &[&format!("overwrite:{target}"), &writer],
        );
        assert_eq!(
            said, "refused 403 AuthorizationPermissionMismatch",
            "{target}"
        );
        let said = sdk(endpoint, container, &[&format!("delete:{target}"), &writer]);
        assert!(said.starts_with("refused 403"), "{target}: {said}");
    }
    let out = l.audit(DAYS[0], DAYS[2], &[]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "nothing changed: {}",
        stdout(&out)
    );

    // What only the account key can do (WORM would forbid even that): a
    // manifest and its marker removed. The auditor names it; the script,
    // on a copy the SDK downloads, agrees.
    let marker = format!(
        "index/2026/09/21/led-b1.{}",
        manifest.rsplit('.').nth(1).unwrap()
    );
    for target in [manifest.as_str(), marker.as_str()] {
        assert_eq!(
            sdk(endpoint, container, &[&format!("delete:{target}")]),
            "done"
        );
    }
    let out = l.audit(DAYS[0], DAYS[2], &[]).await;
    assert_eq!(out.status.code(), Some(1));
    let copy = tempfile::tempdir().unwrap();
    sdk(
        endpoint,
        container,
        &["download", "-", copy.path().to_str().unwrap()],
    );
    let found = agree(&out, copy.path(), DAYS[0], DAYS[2], None);
    assert_eq!(
        found,
        BTreeSet::from(["2026-09-21 led-b1: removed after sealing".to_string()])
    );
    // And the read-only SAS was enough for all of it: it cannot seal.
    let out = l.run(false, &["seal", "--day", "2026-09-23"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!stderr(&out).contains("sig="), "{}", stderr(&out));
}
