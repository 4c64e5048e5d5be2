//! `tvault index` and `tvault find` over a vault archived through the fake
//! Genesys API: phrases, prefixes, participants, days, media and message
//! types; German, French and emoji; a conversation with two generations
//! shows its latest; a tampered transcript is refused at display even
//! though it is indexed.

use std::path::PathBuf;
use std::process::Output;

use serde_json::Value;
use tvault_core::manifest::Manifest;
use tvault_testkit::genesys::{FakeConversation, FakeGenesys, QUEUE};

use crate::util::*;

/// A web message in October, by the same customer (Jordan Keane) as [`CONV`].
pub const OCTOBER: &str = "2b7e1a90-4c3d-4e5f-8a6b-7c8d9e0f1a2b";
/// A legacy chat (agent Sam Okafor).
pub const CHAT: &str = "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d";

pub const DAMAGED: &str = "Hi, my order arrived damaged. I would like a refund.";
pub const GERMAN: &str = "Grüße aus München, Herr Müller hat bestätigt 🎉";
pub const FRENCH: &str = "Très bien, l'élève a reçu le colis";
/// What the sample's first message said before its second generation.
pub const FIRST_WORDS: &str = "Hello, the parcel never came";

/// A local vault with three conversations; [`CONV`] has two generations.
pub struct Sample {
    pub dir: tempfile::TempDir,
    pub vault: PathBuf,
    pub index: PathBuf,
    pub photo: Vec<u8>,
}

fn event_for(conv: &str, media: &str, template: &str) -> String {
    std::fs::read_to_string(repo().join("fixtures/genesys").join(template))
        .unwrap()
        .replace(CONV, conv)
        .replace("\"MESSAGE\"", &format!("\"{media}\""))
}

async fn archive(fake: &FakeGenesys, vault: &std::path::Path, event_text: String) {
    let dir = tempfile::tempdir().unwrap();
    let event = dir.path().join("event.json");
    std::fs::write(&event, event_text).unwrap();
    let (v, base) = (vault.to_path_buf(), fake.base_url());
    let out = tokio::task::spawn_blocking(move || {
        tvault_genesys(&v, &base, &["archive", event.to_str().unwrap()])
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(stdout(&out).starts_with("archived 1,"), "{}", stdout(&out));
}

/// Archive the sample conversations through the fake Genesys API.
pub async fn sample_vault() -> Sample {
    let fake = FakeGenesys::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    let photo: Vec<u8> = b"\x89PNG\r\n\x1a\n-not-really-a-png".to_vec();
    let invoice = b"%PDF-1.4 invoice".to_vec();

    // CONV, first generation (customer.end), then a second (acw) after
    // Genesys's transcript gained words.
    let mut first = FakeConversation::sample(CONV, photo.clone(), invoice.clone());
    first.messages[0].text = FIRST_WORDS.into();
    fake.add(first);
    archive(
        &fake,
        &vault,
        event_for(
            CONV,
            "MESSAGE",
            "eventbridge_customer_end__webmessaging.json",
        ),
    )
    .await;
    let mut second = FakeConversation::sample(CONV, photo.clone(), invoice);
    second.messages[0].text = DAMAGED.into();
    second.messages[1].text = "<img src=x onerror=alert(1)> Sorry to hear that!".into();
    second.messages[3].text = GERMAN.into();
    fake.add(second);
    archive(
        &fake,
        &vault,
        event_for(CONV, "MESSAGE", "eventbridge_acw__webmessaging.json"),
    )
    .await;

    let mut october = FakeConversation::sample(OCTOBER, b"a".to_vec(), b"b".to_vec());
    for m in &mut october.messages {
        m.timestamp = m.timestamp.replace("2026-09-20", "2026-10-05");
        m.attachments.clear();
    }
    october.start_time = "2026-10-05T09:14:03.512Z".into();
    october.end_time = "2026-10-05T09:31:40.123Z".into();
    october.messages[0].text = FRENCH.into();
    fake.add(october);
    archive(
        &fake,
        &vault,
        event_for(
            OCTOBER,
            "MESSAGE",
            "eventbridge_customer_end__webmessaging.json",
        ),
    )
    .await;

    fake.add(FakeConversation::chat_sample(CHAT));
    archive(
        &fake,
        &vault,
        event_for(CHAT, "CHAT", "eventbridge_customer_end__webmessaging.json")
            .replace("WEBMESSAGING", "OPEN"),
    )
    .await;

    let index = dir.path().join("index");
    Sample {
        dir,
        vault,
        index,
        photo,
    }
}

impl Sample {
    pub fn tvault(&self, args: &[&str]) -> Output {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--index", self.index.to_str().unwrap()]);
        tvault(&self.vault, &all)
    }

    pub fn index_all(&self) -> Output {
        let o = self.tvault(&["index", "--from", "2026-09-01", "--to", "2026-10-31"]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        o
    }

    /// `find ARGS --json`: the conversation ids shown, and the output.
    pub fn find(&self, args: &[&str]) -> (Vec<String>, Vec<Value>, Output) {
        let mut all = vec!["find", "--json"];
        all.extend(args);
        let o = self.tvault(&all);
        let lines: Vec<Value> = stdout(&o)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let ids = lines
            .iter()
            .map(|l| l["conversationId"].as_str().unwrap().to_string())
            .collect();
        (ids, lines, o)
    }

    /// The latest manifest of `conv` by `archivedAt`, read from disk.
    pub fn latest_manifest(&self, conv: &str) -> Manifest {
        let dir = self.vault.join("conversations").join(conv);
        let mut all: Vec<Manifest> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .starts_with("manifest.")
            })
            .map(|p| Manifest::from_slice(&std::fs::read(p).unwrap()).unwrap())
            .collect();
        all.sort_by(|a, b| a.archived_at.cmp(&b.archived_at));
        all.pop().unwrap()
    }
}

fn snippet_text(line: &Value) -> String {
    line["messages"][0]["snippet"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let t = s["text"].as_str().unwrap();
            if s["match"].as_bool().unwrap() {
                format!("[{t}]")
            } else {
                t.to_string()
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phrases_prefixes_participants_days_and_media_find_the_right_conversations() {
    let s = sample_vault().await;
    let o = s.index_all();
    assert!(
        stdout(&o).starts_with("indexed 4 new generation(s) from 4 marker(s)"),
        "{}",
        stdout(&o)
    );

    // A phrase, in order; the same words in another order are not it.
    let (ids, lines, o) = s.find(&["--text", "\"arrived damaged\""]);
    assert_eq!(ids, [CONV], "{}", stderr(&o));
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        snippet_text(&lines[0]),
        "Hi, my order [arrived damaged]. I would like a refund."
    );
    let (ids, _, o) = s.find(&["--text", "\"damaged arrived\""]);
    assert!(ids.is_empty());
    assert_eq!(o.status.code(), Some(1), "nothing matched: exit 1");

    // A prefix.
    let (ids, lines, _) = s.find(&["--text", "refu*"]);
    assert_eq!(ids, [CONV]);
    assert!(snippet_text(&lines[0]).contains("[refund]"));
    let (ids, _, _) = s.find(&["--text", "refu"]);
    assert!(ids.is_empty(), "without * a word is whole: {ids:?}");

    // A participant, by name (both of Jordan Keane's, newest first), by an
    // agent's name, and by an external contact id.
    let (ids, _, _) = s.find(&["--participant", "jordan keane"]);
    assert_eq!(ids, [OCTOBER, CONV]);
    let (ids, _, _) = s.find(&["--participant", "Sam Okafor"]);
    assert_eq!(ids, [CHAT]);
    let (ids, _, _) = s.find(&["--participant", "2a3b4c5d-6e7f-4081-92a3-b4c5d6e7f809"]);
    assert_eq!(ids, [OCTOBER, CONV]);
    let (ids, _, _) = s.find(&["--participant", "Jord*", "--text", "élève"]);
    assert_eq!(ids, [OCTOBER]);

    // A date range (UTC days of conversation end), media and message type.
    let (ids, _, _) = s.find(&["--from", "2026-10-01", "--to", "2026-10-31"]);
    assert_eq!(ids, [OCTOBER]);
    let (ids, _, _) = s.find(&["--from", "2026-09-20", "--to", "2026-09-21"]);
    assert_eq!(ids, [CHAT, CONV]);
    let (ids, lines, _) = s.find(&["--media", "chat"]);
    assert_eq!(ids, [CHAT]);
    assert_eq!(lines[0]["mediaType"], "CHAT");
    let (ids, _, _) = s.find(&["--message-type", "open"]);
    assert_eq!(ids, [CHAT]);
    let (ids, lines, _) = s.find(&["--message-type", "WEBMESSAGING", "--media", "MESSAGE"]);
    assert_eq!(ids, [OCTOBER, CONV]);
    assert_eq!(lines[1]["queue"], QUEUE, "the queue from the recording");

    // The table: day, time, conversation, who, the snippet with the match
    // in brackets; --tz shows the time in the officer's zone.
    let o = s.tvault(&["find", "--text", "damaged", "--tz", "Europe/Berlin"]);
    assert_eq!(
        stdout(&o),
        format!(
            "2026-09-20  11:14:03 CEST  {CONV}  Jordan Keane  Hi, my order arrived [damaged]. I would like a refund.\n"
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accents_and_emoji_are_found_and_shown_as_written() {
    let s = sample_vault().await;
    s.index_all();
    for q in ["muller", "MÜLLER", "grusse*", "munchen", "bestatigt"] {
        let (ids, lines, o) = s.find(&["--text", q]);
        if q == "grusse*" {
            // unicode61 folds accents, not ß: "grusse" is not "grüße".
            assert!(ids.is_empty(), "{q}: {ids:?}");
            continue;
        }
        assert_eq!(ids, [CONV], "{q}: {}", stderr(&o));
        assert!(
            lines[0]["messages"][0]["snippet"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["text"].as_str().unwrap().contains("🎉")),
            "{q}: the emoji is shown as stored"
        );
    }
    let (ids, lines, _) = s.find(&["--text", "gruße"]);
    assert_eq!(ids, [CONV]);
    assert!(snippet_text(&lines[0]).starts_with("[Grüße] aus München"));
    let (ids, _, _) = s.find(&["--text", "eleve \"tres bien\""]);
    assert_eq!(ids, [OCTOBER]);
    let (ids, lines, _) = s.find(&["--text", "🎉"]);
    assert_eq!(ids, [CONV]);
    assert_eq!(lines[0]["messages"][0]["seq"], 3);
    let (ids, _, _) = s.find(&["--text", "☕"]);
    assert!(ids.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_with_two_generations_is_found_by_its_latest_only() {
    let s = sample_vault().await;
    s.index_all();
    let latest = s.latest_manifest(CONV);
    let (ids, lines, _) = s.find(&["--text", "damaged"]);
    assert_eq!(ids, [CONV]);
    assert_eq!(lines[0]["generation"], latest.generation.as_str());
    let (ids, _, o) = s.find(&["--text", "parcel"]);
    assert!(ids.is_empty(), "the first generation's words: {ids:?}");
    assert_eq!(o.status.code(), Some(1));

    // Re-running reads nothing again.
    let o = s.index_all();
    assert!(
        stdout(&o).starts_with("indexed 0 new generation(s) from 4 marker(s)"),
        "{}",
        stdout(&o)
    );
}

/// The index is updated, not rebuilt: a generation archived after an index
/// run is read by the next one, and the conversation is then searched by it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerun_reads_only_what_was_archived_since_and_moves_to_the_new_latest() {
    let fake = FakeGenesys::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    let s = Sample {
        index: dir.path().join("index"),
        vault: vault.clone(),
        photo: Vec::new(),
        dir,
    };
    let mut first = FakeConversation::sample(CONV, b"a".to_vec(), b"b".to_vec());
    first.messages[0].text = FIRST_WORDS.into();
    fake.add(first);
    let event = |template| event_for(CONV, "MESSAGE", template);
    archive(
        &fake,
        &vault,
        event("eventbridge_customer_end__webmessaging.json"),
    )
    .await;
    let o = s.index_all();
    assert!(
        stdout(&o).starts_with("indexed 1 new generation(s) from 1 marker(s)"),
        "{}",
        stdout(&o)
    );
    let (ids, _, _) = s.find(&["--text", "parcel"]);
    assert_eq!(ids, [CONV]);

    let mut second = FakeConversation::sample(CONV, b"a".to_vec(), b"b".to_vec());
    second.messages[0].text = DAMAGED.into();
    fake.add(second);
    archive(&fake, &vault, event("eventbridge_acw__webmessaging.json")).await;
    let o = s.index_all();
    assert!(
        stdout(&o).starts_with("indexed 1 new generation(s) from 2 marker(s)")
            && stdout(&o).contains("(1 already indexed"),
        "only the new marker is read: {}",
        stdout(&o)
    );
    let (ids, lines, _) = s.find(&["--text", "damaged"]);
    assert_eq!(ids, [CONV]);
    assert_eq!(
        lines[0]["generation"],
        s.latest_manifest(CONV).generation.as_str()
    );
    let (ids, _, o) = s.find(&["--text", "parcel"]);
    assert!(ids.is_empty(), "the first generation's words: {ids:?}");
    assert_eq!(o.status.code(), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_transcript_is_refused_at_display_even_though_it_is_indexed() {
    let s = sample_vault().await;
    s.index_all();
    let m = s.latest_manifest(OCTOBER);
    let path = s.vault.join(&m.transcript().unwrap().path);
    let stored = std::fs::read_to_string(&path).unwrap();
    // Same length, valid JSON, one word changed.
    let altered = stored.replace("Très bien", "Très mal!");
    assert_ne!(altered, stored);
    std::fs::write(&path, &altered).unwrap();

    let (ids, _, o) = s.find(&["--text", "colis"]);
    assert!(ids.is_empty(), "{ids:?}");
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "conversation {OCTOBER} generation {}: not shown:",
            m.generation
        )) && err.contains("manifest says"),
        "{err}"
    );
    assert!(!stdout(&o).contains("mal") && !err.contains("Très mal"));
    // The other conversations are still shown.
    let (ids, _, o) = s.find(&["--participant", "jordan keane"]);
    assert_eq!(ids, [CONV], "{}", stderr(&o));
    assert_eq!(o.status.code(), Some(1), "a refused hit makes exit 1");
}

#[test]
fn find_without_an_index_or_with_an_empty_query_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let idx = dir.path().join("idx");
    let o = tvault(
        dir.path().join("vault"),
        &["find", "--text", "x", "--index", idx.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no search index at"), "{}", stderr(&o));
    let o = tvault(
        dir.path().join("vault"),
        &[
            "index",
            "--from",
            "2026-01-01",
            "--to",
            "2026-01-02",
            "--index",
            idx.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = tvault(
        dir.path().join("vault"),
        &[
            "find",
            "--text",
            "\"\" **",
            "--index",
            idx.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("has no word to search for"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_index_is_one_per_vault_in_the_users_cache() {
    let s = sample_vault().await;
    let cache = s.dir.path().join("cache");
    let env = [("XDG_CACHE_HOME", cache.to_str().unwrap())];
    let o = tvault_env(
        &s.vault,
        &env,
        &["index", "--from", "2026-09-01", "--to", "2026-10-31"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = tvault_env(&s.vault, &env, &["find", "--text", "damaged"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains(CONV));
    let made = files_under(&cache.join("tvault"));
    assert_eq!(made.len(), 1, "{made:?}");
    assert!(
        made[0].starts_with("index-") && made[0].ends_with("/index.sqlite"),
        "{made:?}"
    );
    // Another vault has another index: none yet.
    let other = s.dir.path().join("other-vault");
    let o = tvault_env(&other, &env, &["find", "--text", "damaged"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("no search index at"), "{}", stderr(&o));
}
