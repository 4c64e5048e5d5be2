//! `tvault archive` with Genesys credentials, against the in-process fake
//! Genesys API: exported lifecycle events are archived from the command line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tvault_testkit::genesys::{CLIENT_SECRET, FakeConversation, FakeGenesys, Route};

use crate::util::*;

/// `tvault` with the fake Genesys API at `base_url`, logging at debug (the
/// tests read what the client did from it).
fn tvault_debug(vault: &Path, base_url: &str, args: &[&str]) -> Output {
    with_genesys(&mut command(vault, args), base_url)
        .env("RUST_LOG", "debug")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lifecycle_event_is_pulled_and_archived_from_the_command_line() {
    let fake = FakeGenesys::start().await.unwrap();
    let photo: Vec<u8> = (0..284_311u32).map(|i| (i % 253) as u8).collect();
    let invoice: Vec<u8> = (0..91_522u32).map(|i| (i % 241) as u8).collect();
    fake.add(FakeConversation::sample(
        CONV,
        photo.clone(),
        invoice.clone(),
    ));
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    let event = repo().join("fixtures/genesys/eventbridge_customer_end__webmessaging.json");
    let base = fake.base_url();

    let (v, e, b) = (vault.clone(), event.clone(), base.clone());
    let out = tokio::task::spawn_blocking(move || {
        tvault_debug(&v, &b, &["archive", e.to_str().unwrap()])
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().next().unwrap(),
        "archived 1, already in vault 0, skipped 0, failed 0"
    );
    assert!(
        !stderr.contains(CLIENT_SECRET),
        "the client secret reached the log"
    );

    let att = vault.join(format!("conversations/{CONV}/attachments"));
    let mut stored: Vec<Vec<u8>> = std::fs::read_dir(&att)
        .unwrap()
        .map(|d| {
            let dir = d.unwrap().path();
            let file = std::fs::read_dir(dir)
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
                .path();
            std::fs::read(file).unwrap()
        })
        .collect();
    stored.sort_by_key(|b| b.len());
    assert_eq!(
        stored,
        vec![invoice, photo],
        "both attachments, byte for byte"
    );
    assert_eq!(fake.count(Route::Token), 1);

    // Delivered again (acw after customer.end): already in vault, nothing downloaded.
    let downloads = fake.count(Route::Signed);
    let acw = repo().join("fixtures/genesys/eventbridge_acw__webmessaging.json");
    let (v, b) = (vault.clone(), base.clone());
    let out = tokio::task::spawn_blocking(move || {
        tvault_debug(&v, &b, &["archive", acw.to_str().unwrap()])
    })
    .await
    .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().next().unwrap(),
        "archived 0, already in vault 1, skipped 0, failed 0"
    );
    assert_eq!(fake.count(Route::Signed), downloads);

    let v = vault.clone();
    let verify =
        tokio::task::spawn_blocking(move || tvault_debug(&v, "http://127.0.0.1:9", &["verify"]))
            .await
            .unwrap();
    assert_eq!(
        verify.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
}

#[test]
fn partial_genesys_settings_are_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tvault"))
        .args([
            "--vault",
            dir.path().to_str().unwrap(),
            "archive",
            repo().join("examples/events").to_str().unwrap(),
        ])
        .env("GENESYSCLOUD_OAUTHCLIENT_ID", "x")
        .env_remove("GENESYSCLOUD_OAUTHCLIENT_SECRET")
        .env_remove("GENESYSCLOUD_REGION")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("GENESYSCLOUD_OAUTHCLIENT_SECRET and GENESYSCLOUD_REGION"),
        "{err}"
    );
}

/// `fixture` (an EventBridge event of the sample conversation) for `conv`,
/// on one line.
fn event_for(fixture: &str, conv: &str) -> String {
    let text = std::fs::read_to_string(repo().join("fixtures/genesys").join(fixture)).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text.replace(CONV, conv)).unwrap();
    value.to_string()
}

/// Every file under `dir`, by relative path, with its bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// `customer.end` and `acw` of the same 200 conversations, archived by two
/// processes at once: both compute the same generation, one commits it, and
/// the other's event (which no manifest lists) must still be in the vault,
/// and the vault must verify clean.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_archiving_the_same_conversations_from_different_events_verify_clean() {
    let fake = FakeGenesys::start().await.unwrap();
    // Genesys states a generous allowance, so the client's pacer does not
    // stretch 2,000 requests over minutes.
    fake.set_rate_limit_allowed(Some(1_000_000));
    let ids: Vec<String> = (0..200).map(|i| format!("race-{i:04}")).collect();
    for id in &ids {
        fake.add(FakeConversation::sample(
            id,
            format!("photo of {id}").into_bytes(),
            format!("invoice of {id}").into_bytes(),
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    let mut inputs = Vec::new();
    for fixture in [
        "eventbridge_customer_end__webmessaging.json",
        "eventbridge_acw__webmessaging.json",
    ] {
        let lines: Vec<String> = ids.iter().map(|id| event_for(fixture, id)).collect();
        let path = dir.path().join(format!("{fixture}l"));
        std::fs::write(&path, lines.join("\n")).unwrap();
        inputs.push((path, lines));
    }

    let (v, base) = (vault.clone(), fake.base_url());
    let paths: Vec<PathBuf> = inputs.iter().map(|(p, _)| p.clone()).collect();
    let outputs = tokio::task::spawn_blocking(move || {
        let children: Vec<_> = paths
            .iter()
            .map(|p| {
                with_genesys(&mut command(&v, &["archive", p.to_str().unwrap()]), &base)
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    let mut archived = 0;
    for out in &outputs {
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let summary = stdout.lines().next().unwrap();
        let counts: Vec<usize> = summary
            .split(", ")
            .map(|part| part.rsplit(' ').next().unwrap().parse().unwrap())
            .collect();
        assert_eq!(counts[0] + counts[1], 200, "{summary}");
        assert_eq!(counts[3], 0, "{summary}");
        archived += counts[0];
    }
    assert!(archived >= 200, "every conversation archived at least once");

    let v = vault.clone();
    let verify =
        tokio::task::spawn_blocking(move || tvault_debug(&v, "http://127.0.0.1:9", &["verify"]))
            .await
            .unwrap();
    let report = String::from_utf8_lossy(&verify.stdout);
    assert_eq!(verify.status.code(), Some(0), "{report}");
    assert!(
        report.contains("verified 200 manifest(s) of 200 conversation(s)"),
        "{report}"
    );
    assert!(!report.contains("orphaned"), "{report}");
    // Each conversation's other event is kept, listed by no manifest.
    assert!(
        report.contains(": 0 problem(s), 200 unlisted provenance object(s)"),
        "{report}"
    );
    eprintln!("archived by the two processes together: {archived} of 400 records");
    let help = Command::new(env!("CARGO_BIN_EXE_tvault"))
        .args(["verify", "--help"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("unlisted provenance"));

    // Every event, from either process, is in the vault byte for byte.
    let stored = files(&vault.join("conversations"));
    for (i, id) in ids.iter().enumerate() {
        let sources: Vec<&Vec<u8>> = stored
            .iter()
            .filter(|(p, _)| p.starts_with(&format!("{id}/source/event.")))
            .map(|(_, b)| b)
            .collect();
        for (path, lines) in &inputs {
            assert!(
                sources.iter().any(|b| **b == lines[i].as_bytes()),
                "{id}: the event of {} is not in the vault",
                path.display()
            );
        }
    }
}

/// Attachment names that Windows reserves for devices are stored under a
/// name any disk can hold; the attachment itself is kept byte for byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_named_like_windows_devices_are_stored_under_a_safe_name() {
    let fake = FakeGenesys::start().await.unwrap();
    let mut conv = FakeConversation::sample(CONV, b"photo".to_vec(), b"invoice".to_vec());
    let mut names = ["CON.jpg", "nul"].into_iter();
    for a in conv.attachments_mut() {
        a.filename = names.next().unwrap().to_string();
    }
    let ids: Vec<String> = conv.attachments_mut().map(|a| a.id.clone()).collect();
    fake.add(conv);
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    let event = repo().join("fixtures/genesys/eventbridge_customer_end__webmessaging.json");
    let (v, b) = (vault.clone(), fake.base_url());
    let out = tokio::task::spawn_blocking(move || {
        tvault_debug(&v, &b, &["archive", event.to_str().unwrap()])
    })
    .await
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let att = vault.join(format!("conversations/{CONV}/attachments"));
    assert_eq!(
        std::fs::read(att.join(&ids[0]).join("CON_.jpg")).unwrap(),
        b"photo"
    );
    assert_eq!(
        std::fs::read(att.join(&ids[1]).join("nul_")).unwrap(),
        b"invoice"
    );
    let stored: Vec<String> = files(&att).into_keys().collect();
    assert_eq!(stored.len(), 2, "{stored:?}");
}

/// The chat of `fixtures/genesys/api_get_conversation_recordings__chat.json`.
const CHAT: &str = "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d";

/// A legacy chat's customer.end (`mediaType` CHAT) is archived from its chat
/// recording, and `show` prints every line, a member joining included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_chat_is_archived_and_shown_from_the_command_line() {
    let fake = FakeGenesys::start().await.unwrap();
    let mut chat = FakeConversation::chat_sample(CHAT);
    // A `ChatMessage` of platform-client-sdk `ChatMessage.md` (bodyType MEMBERJOIN).
    chat.chat_extra = vec![serde_json::json!({
        "id": "join-1", "bodyType": "MEMBERJOIN", "utc": "2026-09-21T15:03:00.000Z",
        "participantPurpose": "agent", "user": {"id": "u-9", "name": "Sam Okafor"}
    })];
    fake.add(chat);
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    let event = dir.path().join("chat.json");
    let text = std::fs::read_to_string(
        repo().join("fixtures/genesys/eventbridge_customer_end__webmessaging.json"),
    )
    .unwrap()
    .replace(CONV, CHAT)
    .replace("\"MESSAGE\"", "\"CHAT\"");
    std::fs::write(&event, text).unwrap();
    let base = fake.base_url();
    let (v, e, b) = (vault.clone(), event.clone(), base.clone());
    let out = tokio::task::spawn_blocking(move || {
        tvault_debug(&v, &b, &["archive", e.to_str().unwrap()])
    })
    .await
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().next().unwrap(),
        "archived 1, already in vault 0, skipped 0, failed 0"
    );
    assert_eq!(fake.count(Route::Conversation), 0, "chats are not messages");

    let v = vault.clone();
    let out = tokio::task::spawn_blocking(move || {
        tvault_debug(&v, "http://127.0.0.1:9", &["show", CHAT])
    })
    .await
    .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(
        shown.starts_with(&format!("Conversation {CHAT}  (CHAT)\n")),
        "{shown}"
    );
    let lines: Vec<&str> = shown.lines().filter(|l| l.starts_with('[')).collect();
    assert_eq!(
        lines,
        [
            "[2026-09-21T15:02:15.000Z] customer: Hello, I cannot log in to my account.",
            "[2026-09-21T15:03:00.000Z] Sam Okafor (agent) [joined the chat]: ",
            "[2026-09-21T15:09:40.000Z] Sam Okafor (agent): I have reset it; you will get an email in a minute.",
        ],
        "{shown}"
    );
}

/// A client the login host does not know (the fake answers `invalid_client`
/// as Genesys does for an unknown client or one of another region) is
/// reported with the region to check, the login host and the client id,
/// never the secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_client_hints_at_the_region() {
    let fake = FakeGenesys::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    let event = repo().join("fixtures/genesys/eventbridge_customer_end__webmessaging.json");
    let base = fake.base_url();
    let wrong = "a-secret-of-another-region";
    let out = tokio::task::spawn_blocking(move || {
        with_genesys(
            &mut command(&vault, &["archive", event.to_str().unwrap()]),
            &base,
        )
        .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", wrong)
        .output()
        .unwrap()
    })
    .await
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    for needle in [
        "refused the client credentials of client id",
        "invalid_client",
        "check that GENESYSCLOUD_REGION names the region of your organization",
        &fake.base_url(),
    ] {
        assert!(err.contains(needle), "{needle:?} missing: {err}");
    }
    assert!(!err.contains(wrong), "the secret reached stderr: {err}");
}

/// Issue 11, item 9, through the built binary: a token whose `expires_in` is
/// u64::MAX (upstream input; it once overflowed the expiry) neither panics
/// nor is believed for ever: the archive runs on it, one token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expires_in_of_u64_max_archives_without_a_panic() {
    let fake = FakeGenesys::start().await.unwrap();
    fake.add(FakeConversation::sample(CONV, b"p".to_vec(), b"i".to_vec()));
    fake.set_token_expires_in_raw(&u64::MAX.to_string());
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    let event = repo().join("fixtures/genesys/eventbridge_customer_end__webmessaging.json");
    let base = fake.base_url();
    let v = vault.clone();
    let out = tokio::task::spawn_blocking(move || {
        tvault_debug(&v, &base, &["archive", event.to_str().unwrap()])
    })
    .await
    .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(fake.count(Route::Token), 1);
    assert_eq!(files_under(&vault.join("index")).len(), 1, "archived once");
}
