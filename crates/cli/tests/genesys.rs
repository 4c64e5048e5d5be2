//! `tvault archive` with Genesys credentials, against the in-process fake
//! Genesys API: exported lifecycle events are archived from the command line.

// Tests may unwrap: a panic is a failed test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tvault_testkit::genesys::{CLIENT_ID, CLIENT_SECRET, FakeConversation, FakeGenesys, Route};

const CONV: &str = "8d3f4c1e-5b2a-4e7f-9c61-0a2b3c4d5e6f";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tvault(vault: &Path, base_url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tvault"))
        .arg("--vault")
        .arg(vault)
        .args(args)
        .env("GENESYSCLOUD_OAUTHCLIENT_ID", CLIENT_ID)
        .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", CLIENT_SECRET)
        .env("GENESYSCLOUD_REGION", base_url)
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
    let out =
        tokio::task::spawn_blocking(move || tvault(&v, &b, &["archive", e.to_str().unwrap()]))
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
    let out =
        tokio::task::spawn_blocking(move || tvault(&v, &b, &["archive", acw.to_str().unwrap()]))
            .await
            .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().next().unwrap(),
        "archived 0, already in vault 1, skipped 0, failed 0"
    );
    assert_eq!(fake.count(Route::Signed), downloads);

    let v = vault.clone();
    let verify = tokio::task::spawn_blocking(move || tvault(&v, "http://127.0.0.1:9", &["verify"]))
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
    let out =
        tokio::task::spawn_blocking(move || tvault(&v, &b, &["archive", e.to_str().unwrap()]))
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
    let out =
        tokio::task::spawn_blocking(move || tvault(&v, "http://127.0.0.1:9", &["show", CHAT]))
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
