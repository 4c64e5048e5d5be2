//! Reading the vault during an AWS outage: `list`, `show`, `export` and
//! `verify` against Azurite with a read-only SAS (read and list, no write, no
//! delete), made by the official Azure Python SDK. The same SAS is shown to be
//! refused for writing, so these commands really need no more than read access.

use std::path::{Path, PathBuf};
use std::process::Command;

use tvault_testkit::genesys::{CLIENT_ID, CLIENT_SECRET, FakeConversation, FakeGenesys};
use tvault_testkit::pipeline;

use crate::util::*;

pub(crate) const ACCOUNT: &str = "devstoreaccount1";

/// A container SAS with read and list rights only, from the official SDK.
pub(crate) fn read_only_sas(container: &str) -> Option<String> {
    let py = tvault_testkit::services::venv_python()?;
    let script = r#"
import sys
from datetime import datetime, timedelta, timezone
from azure.storage.blob import ContainerSasPermissions, generate_container_sas
print(generate_container_sas(sys.argv[1], sys.argv[2], account_key=sys.argv[3],
      permission=ContainerSasPermissions(read=True, list=True),
      expiry=datetime.now(timezone.utc) + timedelta(hours=2)))
"#;
    let out = Command::new(py)
        .args(["-c", script, ACCOUNT, container])
        .arg(tvault_vault::azure::config::DEV_ACCOUNT_KEY)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let sas = text(&out.stdout).trim().to_string();
    assert!(sas.contains("sp=rl"), "{sas}");
    Some(sas)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_sas_is_enough_to_list_show_export_and_verify() {
    let Some((vault_url, cs)) = pipeline::azurite_container(ACCOUNT).await else {
        return;
    };
    let container = vault_url.rsplit('/').next().unwrap().to_string();
    let Some(sas) = read_only_sas(&container) else {
        return;
    };

    // The writer archives one conversation with two attachments.
    let fake = FakeGenesys::start().await.unwrap();
    let photo: Vec<u8> = (0..284_311u32).map(|i| (i % 253) as u8).collect();
    let invoice: Vec<u8> = (0..91_522u32).map(|i| (i % 241) as u8).collect();
    fake.add(FakeConversation::sample(
        CONV,
        photo.clone(),
        invoice.clone(),
    ));
    let event = repo().join("fixtures/genesys/eventbridge_customer_end__webmessaging.json");
    let base = fake.base_url();
    let (url, c, e) = (vault_url.clone(), cs.clone(), event.clone());
    let out = tokio::task::spawn_blocking(move || {
        tvault_env(
            &url,
            &[
                ("AZURE_STORAGE_CONNECTION_STRING", c.as_str()),
                ("GENESYSCLOUD_OAUTHCLIENT_ID", CLIENT_ID),
                ("GENESYSCLOUD_OAUTHCLIENT_SECRET", CLIENT_SECRET),
                ("GENESYSCLOUD_REGION", base.as_str()),
            ],
            &["archive", e.to_str().unwrap()],
        )
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    drop(fake); // From here on: no Genesys, no AWS, and only the read-only SAS.

    let ro = [("AZURE_STORAGE_SAS_TOKEN", sas.as_str())];
    let run = |args: &[&str]| tvault_env(&vault_url, &ro, args);

    // list
    let out = run(&[
        "list",
        "--from",
        "2026-01-01",
        "--to",
        "2026-12-31",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["conversationId"], CONV);
    assert_eq!(lines[0]["status"], "archived");
    assert_eq!(lines[0]["attachments"], 2);
    assert_eq!(lines[0]["missingAttachments"], 0);

    // show
    let out = run(&["show", CONV]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(shown.contains(&format!("Conversation {CONV}")), "{shown}");
    assert!(!shown.contains("NOT IN VAULT"), "{shown}");

    // verify, whole vault and by day range
    let out = run(&["verify"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(text(&out.stdout).contains(": 0 problem(s)"));
    // The evidence report names the vault by its URL, and never the SAS.
    let report_dir = tempfile::tempdir().unwrap();
    let report = report_dir.path().join("verify.json");
    let out = run(&["verify", "--json-report", report.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let written = std::fs::read_to_string(&report).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&written).unwrap();
    assert_eq!(doc["vault"], vault_url.as_str());
    // The report counts what the text line counts.
    let line = text(&out.stdout);
    let objects = doc["totals"]["objects"].as_u64().unwrap();
    assert!(objects >= 3, "{doc:#}");
    assert!(
        line.contains(&format!(
            "conversation(s), {objects} object(s): 0 problem(s)"
        )),
        "{line}"
    );
    assert!(!written.contains("sig="), "{written}");
    let out = run(&["verify", "--from", "2026-01-01", "--to", "2026-12-31"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("verified 1 manifest(s) of 1 conversation(s)"),
        "{}",
        text(&out.stdout)
    );

    // export
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["export", CONV, "--out", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let exported = dir.path().join(CONV);
    assert!(exported.join("index.html").is_file());
    assert!(exported.join("manifest.json").is_file());
    let mut sizes: Vec<u64> = files_under(&exported.join("attachments"))
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .collect();
    sizes.sort();
    assert_eq!(sizes, [invoice.len() as u64, photo.len() as u64]);

    // The RA-GRS secondary (docs/operations.md, Azure outage), read with
    // the primary account's reader SAS and reader connection string: Azurite
    // serves ACCOUNT-secondary as the read-only secondary of ACCOUNT.
    let (account_url, container) = vault_url.rsplit_once('/').unwrap();
    let secondary = format!("{account_url}-secondary/{container}");
    let reader_cs = format!("BlobEndpoint={account_url};SharedAccessSignature={sas}");
    for env in [
        ("AZURE_STORAGE_SAS_TOKEN", sas.as_str()),
        ("AZURE_STORAGE_CONNECTION_STRING", reader_cs.as_str()),
    ] {
        let out = tvault_env(&secondary, &[env], &["show", CONV]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            env.0,
            text(&out.stderr)
        );
        assert!(text(&out.stdout).contains(&format!("Conversation {CONV}")));
        let out = tvault_env(&secondary, &[env], &["verify"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            env.0,
            text(&out.stdout)
        );
        assert!(text(&out.stdout).contains("verified 1 manifest(s)"));
    }

    // The same SAS cannot write: archiving with it is refused by Azure.
    let events = repo().join("examples/events");
    let out = run(&["archive", events.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("403")
            || stderr.to_lowercase().contains("refused")
            || stderr.contains("AuthorizationPermissionMismatch"),
        "{stderr}"
    );
    // And nothing shows the SAS signature.
    let sig = sas
        .split('&')
        .find_map(|kv| kv.strip_prefix("sig="))
        .unwrap();
    assert!(!stderr.contains(sig), "the SAS signature reached stderr");
}

/// Configuration mistakes an operator can make with a real SAS in hand: each
/// is refused as a configuration error (exit 2) by a read command, and
/// neither the message nor anything else printed shows the signature or a
/// password. The same SAS, given properly, works against Azurite.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_errors_never_echo_a_sas_or_a_password() {
    let Some((vault_url, cs)) = pipeline::azurite_container(ACCOUNT).await else {
        return;
    };
    let (account_url, container) = vault_url.rsplit_once('/').unwrap();
    let Some(sas) = read_only_sas(container) else {
        return;
    };
    let sig = sas
        .split('&')
        .find_map(|kv| kv.strip_prefix("sig="))
        .unwrap()
        .to_string();
    let password = "pa55-Word-never-shown";
    let list = ["list", "--from", "2026-01-01", "--to", "2026-01-02"];
    let port_host = account_url.trim_start_matches("http://");

    let ok = tvault_env(&vault_url, &[("AZURE_STORAGE_SAS_TOKEN", &sas)], &list);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));

    /// What is wrong, the vault URL, and the environment.
    type Case<'a> = (&'a str, String, Vec<(&'a str, String)>);
    let cases: Vec<Case> = vec![
        (
            "the SAS in the vault URL",
            format!("{vault_url}?{sas}"),
            vec![],
        ),
        (
            "the SAS after az://",
            format!("az://{container}?{sas}"),
            vec![("AZURE_STORAGE_CONNECTION_STRING", cs.clone())],
        ),
        (
            "a password in a vault URL with a folder",
            format!("http://reader:{password}@{port_host}/{container}/folder"),
            vec![("AZURE_STORAGE_SAS_TOKEN", sas.clone())],
        ),
        (
            "a password in a usable vault URL",
            format!("http://reader:{password}@{port_host}/{container}"),
            vec![("AZURE_STORAGE_SAS_TOKEN", sas.clone())],
        ),
        (
            "a Blob SAS URL pasted as BlobEndpoint",
            format!("az://{container}"),
            vec![(
                "AZURE_STORAGE_CONNECTION_STRING",
                format!("BlobEndpoint={account_url}?{sas};SharedAccessSignature={sas}"),
            )],
        ),
        (
            "a SAS-carrying BlobEndpoint that disagrees with the vault URL",
            vault_url.clone(),
            vec![(
                "AZURE_STORAGE_CONNECTION_STRING",
                format!(
                    "BlobEndpoint=http://localhost:1/{ACCOUNT}?{sas};SharedAccessSignature={sas}"
                ),
            )],
        ),
        (
            "a SAS in AZURE_STORAGE_ENDPOINT",
            format!("az://{container}"),
            vec![
                ("AZURE_STORAGE_ACCOUNT_NAME", ACCOUNT.to_string()),
                ("AZURE_STORAGE_ENDPOINT", format!("{account_url}?{sas}")),
                ("AZURE_STORAGE_SAS_TOKEN", sas.clone()),
            ],
        ),
        (
            "credentials in a vault URL of another scheme",
            format!("s3://reader:{password}@bucket/vault?{sas}"),
            vec![],
        ),
    ];
    for (what, vault, env) in cases {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let out = tvault_env(&vault, &env, &list);
        let printed = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(2), "{what}: {printed}");
        assert!(
            !printed.contains(&sig),
            "{what}: the signature was printed: {printed}"
        );
        assert!(
            !printed.contains(password),
            "{what}: the password was printed: {printed}"
        );
        assert!(!printed.contains("sig="), "{what}: {printed}");
        assert!(printed.starts_with("tvault: "), "{what}: {printed}");
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// `index`, `find` and `serve` against Azurite with the read-only SAS: the
/// search index is built, searched and re-checked, and the reading room
/// shows the conversation and serves its attachment, all without a write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_find_and_serve_need_only_a_read_only_sas() {
    let Some((vault_url, cs)) = pipeline::azurite_container(ACCOUNT).await else {
        return;
    };
    let container = vault_url.rsplit('/').next().unwrap().to_string();
    let Some(sas) = read_only_sas(&container) else {
        return;
    };
    let fake = FakeGenesys::start().await.unwrap();
    let photo: Vec<u8> = (0..50_000u32).map(|i| (i % 253) as u8).collect();
    fake.add(FakeConversation::sample(
        CONV,
        photo.clone(),
        b"%PDF-1.4".to_vec(),
    ));
    let event = repo().join("fixtures/genesys/eventbridge_customer_end__webmessaging.json");
    let (url, c, base) = (vault_url.clone(), cs.clone(), fake.base_url());
    let out = tokio::task::spawn_blocking(move || {
        tvault_env(
            &url,
            &[
                ("AZURE_STORAGE_CONNECTION_STRING", c.as_str()),
                ("GENESYSCLOUD_OAUTHCLIENT_ID", CLIENT_ID),
                ("GENESYSCLOUD_OAUTHCLIENT_SECRET", CLIENT_SECRET),
                ("GENESYSCLOUD_REGION", base.as_str()),
            ],
            &["archive", event.to_str().unwrap()],
        )
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    drop(fake);

    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("index");
    let index = index.to_str().unwrap();
    let ro = [("AZURE_STORAGE_SAS_TOKEN", sas.as_str())];
    let out = tvault_env(
        &vault_url,
        &ro,
        &[
            "index",
            "--from",
            "2026-09-01",
            "--to",
            "2026-09-30",
            "--index",
            index,
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("indexed 1 new generation(s)"));
    let out = tvault_env(
        &vault_url,
        &ro,
        &[
            "find",
            "--text",
            "\"arrived damaged\"",
            "--participant",
            "Jordan Keane",
            "--index",
            index,
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(CONV), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("[arrived damaged]"));

    let room = crate::serve::serve(&vault_url, &ro, &["--index", index]);
    let page = crate::serve::get(&room.url("/", "text=damaged")).await;
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.text().await.unwrap().contains("<mark>damaged</mark>"));
    let page = crate::serve::get(&room.url(&format!("/c/{CONV}"), "")).await;
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Hi, my order arrived damaged."), "{html}");
    assert!(html.contains("checked: matches"));
    let att = crate::serve::get(&room.url(
        &format!(
            "/c/{CONV}/attachments/f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b/IMG_20260920_091640.jpg"
        ),
        "",
    ))
    .await;
    assert_eq!(att.status().as_u16(), 200);
    assert_eq!(att.bytes().await.unwrap().as_ref(), photo.as_slice());
    let sig = sas
        .split('&')
        .find_map(|kv| kv.strip_prefix("sig="))
        .unwrap();
    assert!(!html.contains(sig), "the SAS signature reached a page");
}
