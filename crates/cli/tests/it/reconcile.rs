//! `tvault reconcile` against the fake Genesys API: the fake knows 500 ended
//! conversations over 3 days, the vault holds 480. Reconcile names exactly the
//! 20 missing ones per day (text, JSON and CSV) and exits 1; `--backfill`
//! archives them with `trigger.kind` backfill; the next reconcile exits 0.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output};

use chrono::{Duration, NaiveDate, Utc};
use tvault_testkit::genesys::{
    CLIENT_SECRET, FakeConversation, FakeGenesys, FakeMessage, Fault, Route,
};
use tvault_testkit::pipeline::customer_end;

use crate::util::*;

async fn run(vault: &Path, base_url: &str, args: &[impl AsRef<str>]) -> Output {
    let (v, b) = (vault.to_path_buf(), base_url.to_string());
    let args: Vec<String> = args.iter().map(|s| s.as_ref().to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        tvault_genesys(&v, &b, &refs)
    })
    .await
    .unwrap()
}

/// 500 web-messaging conversations started over 2026-09-01..03, each with
/// one message a minute after its start (so the vault indexes it on that day
/// or the next).
fn conversations() -> Vec<FakeConversation> {
    let first = NaiveDate::from_ymd_opt(2026, 9, 1).unwrap();
    FakeConversation::spread("rc", 500, first, 3)
        .into_iter()
        .map(|mut c| {
            let start = tvault_core::transcript::parse_time(&c.start_time).unwrap();
            c.messages = vec![FakeMessage {
                id: format!("m-{}", c.id),
                timestamp: tvault_core::transcript::fmt_time(start + Duration::minutes(1)),
                purpose: "customer".into(),
                participant_id: tvault_testkit::genesys::model::CUSTOMER_PARTICIPANT.into(),
                text: format!("Hello from {}", c.id),
                attachments: Vec::new(),
            }];
            c
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_names_the_gaps_and_backfill_closes_them() {
    let fake = FakeGenesys::start().await.unwrap();
    // Genesys states a generous allowance, so the client's pacer does not
    // stretch the 480 archives over minutes (pacing is tested in tvault-genesys).
    fake.set_rate_limit_allowed(Some(1_000_000));
    let convs = conversations();
    let day_of = |c: &FakeConversation| c.start_time[..10].to_string();
    // Every 25th is never archived: 20 in all, spread over the three days.
    let missing: BTreeSet<String> = convs.iter().step_by(25).map(|c| c.id.clone()).collect();
    assert_eq!(missing.len(), 20);
    let mut missing_per_day: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for c in convs.iter().filter(|c| missing.contains(&c.id)) {
        missing_per_day
            .entry(day_of(c))
            .or_default()
            .insert(c.id.clone());
    }
    assert_eq!(missing_per_day.len(), 3);

    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    let events = dir.path().join("events.jsonl");
    let mut lines = String::new();
    for c in &convs {
        if !missing.contains(&c.id) {
            let e: serde_json::Value = serde_json::from_str(&customer_end(&c.id)).unwrap();
            lines += &format!("{e}\n");
        }
    }
    for c in convs {
        fake.add(c);
    }
    std::fs::write(&events, lines).unwrap();
    let base = fake.base_url();
    let out = run(
        &vault,
        &base,
        &["archive", "--concurrency", "16", events.to_str().unwrap()],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("archived 480,"),
        "{}",
        text(&out.stdout)
    );

    // 1. Reconcile: exactly the 20, per day, in text, JSON and CSV; exit 1.
    let json = dir.path().join("report.json");
    let csv = dir.path().join("report.csv");
    let reconcile = |extra: &[&str]| {
        let mut a = vec![
            "reconcile",
            "--from",
            "2026-09-01",
            "--to",
            "2026-09-03",
            "--json-report",
            json.to_str().unwrap(),
            "--csv-report",
            csv.to_str().unwrap(),
        ];
        a.extend_from_slice(extra);
        a.into_iter().map(str::to_string).collect::<Vec<_>>()
    };
    let args = reconcile(&[]);
    let out = run(&vault, &base, &args).await;
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let printed = printed_missing(&stdout);
    assert_eq!(printed, missing, "{stdout}");
    assert!(
        stdout.contains(&format!(
            "{:<10}  {:>8}  {:>8}  {:>7}",
            "total", 500, 480, 20
        )),
        "{stdout}"
    );
    // Not a terminal: plain progress lines on stderr.
    assert!(
        stderr.contains("reconcile: checking the vault: 500/500 conversations, done"),
        "{stderr}"
    );
    assert!(!stderr.contains(CLIENT_SECRET));

    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["complete"], false);
    assert_eq!(report["totals"]["expected"], 500);
    assert_eq!(report["totals"]["missing"], 20);
    // 500 conversations at 100 a page: the listing really paged.
    assert!(
        report["listing"]["pages"].as_u64().unwrap() >= 5,
        "{}",
        report["listing"]
    );
    for d in report["days"].as_array().unwrap() {
        let day = d["day"].as_str().unwrap();
        let ids: BTreeSet<String> = d["missingIds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(&ids, &missing_per_day[day], "{day}");
        assert_eq!(d["missing"], ids.len());
        assert_eq!(
            d["expected"].as_u64().unwrap(),
            d["archived"].as_u64().unwrap() + ids.len() as u64
        );
    }
    let mut per_day_csv: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut rows = 0;
    let mut reader = csv_rows(&csv);
    assert_eq!(reader.remove(0)[..3], ["day", "conversation_id", "status"]);
    for r in reader {
        rows += 1;
        if r[2] == "missing" {
            per_day_csv
                .entry(r[0].clone())
                .or_default()
                .insert(r[1].clone());
        } else {
            assert_eq!(r[2], "archived", "{r:?}");
        }
    }
    assert_eq!(rows, 500);
    assert_eq!(per_day_csv, missing_per_day);

    // 2. Backfill: the 20 are pulled and archived as "backfill"; the re-report is complete.
    let recordings_before = fake.count(Route::Recordings);
    let args = reconcile(&["--backfill"]);
    let out = run(&vault, &base, &args).await;
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains("backfill: attempted 20, archived 20, already in vault 0, failed 0"),
        "{stdout}"
    );
    assert_eq!(fake.count(Route::Recordings) - recordings_before, 20);
    for id in &missing {
        let m = manifest_of(&vault, id);
        assert_eq!(m["trigger"]["kind"], "backfill", "{id}");
    }
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["complete"], true);
    assert_eq!(report["backfill"]["archived"], 20);

    // 3. Again: nothing to do, exit 0, nothing pulled.
    let recordings_before = fake.count(Route::Recordings);
    let args = reconcile(&["--backfill"]);
    let out = run(&vault, &base, &args).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("backfill: attempted 0,"));
    assert_eq!(fake.count(Route::Recordings), recordings_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_range_past_data_availability_is_refused_with_the_reason() {
    let fake = FakeGenesys::start().await.unwrap();
    let available = Utc::now() - Duration::days(2);
    fake.set_data_availability(available);
    let dir = tempfile::tempdir().unwrap();
    let today = Utc::now().date_naive().to_string();
    let out = run(
        &dir.path().join("vault"),
        &fake.base_url(),
        &["reconcile", "--from", "2026-09-01", "--to", &today],
    )
    .await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("dataAvailabilityDate"), "{stderr}");
    assert_eq!(
        fake.count(Route::AnalyticsQuery) + fake.count(Route::AnalyticsJobCreate),
        0
    );
}

#[tokio::test]
async fn bad_dates_and_missing_credentials_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    let out = tvault_genesys(
        &vault,
        "http://127.0.0.1:9",
        &["reconcile", "--from", "2026-09-03", "--to", "2026-09-01"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("after --to"),
        "{}",
        text(&out.stderr)
    );
    let out = tvault_genesys(
        &vault,
        "http://127.0.0.1:9",
        &["reconcile", "--from", "yesterday", "--to", "2026-09-01"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("YYYY-MM-DD"),
        "{}",
        text(&out.stderr)
    );
    let out = Command::new(env!("CARGO_BIN_EXE_tvault"))
        .args([
            "--vault",
            vault.to_str().unwrap(),
            "reconcile",
            "--from",
            "2026-09-01",
            "--to",
            "2026-09-01",
        ])
        .env_remove("GENESYSCLOUD_OAUTHCLIENT_ID")
        .env_remove("GENESYSCLOUD_OAUTHCLIENT_SECRET")
        .env_remove("GENESYSCLOUD_REGION")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("GENESYSCLOUD_OAUTHCLIENT_ID"),
        "{}",
        text(&out.stderr)
    );
}

fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(path)
        .unwrap()
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

fn manifest_of(vault: &Path, conv: &str) -> serde_json::Value {
    let mut manifests = manifests_of(vault, conv);
    assert_eq!(manifests.len(), 1, "{manifests:?}");
    manifests.remove(0)
}

/// An attachment Genesys could not serve at archive time leaves the
/// conversation "archived with missing attachments": reconcile reports it and
/// exits 1; once Genesys serves it again, --backfill adds a complete
/// generation (the incomplete one stays) and the next report is complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attachment_missing_at_archive_time_is_reported_and_backfilled() {
    const CONV: &str = "8d3f4c1e-5b2a-4e7f-9c61-0a2b3c4d5e6f";
    let fake = FakeGenesys::start().await.unwrap();
    let photo: Vec<u8> = (0..4_000u32).map(|i| (i % 251) as u8).collect();
    let invoice: Vec<u8> = (0..3_000u32).map(|i| (i % 241) as u8).collect();
    let mut conv = FakeConversation::sample(CONV, photo.clone(), invoice.clone());
    let day = conv.start_time[..10].to_string();
    let photo_id = {
        let a = conv.attachments_mut().next().unwrap();
        a.gone = true;
        a.id.clone()
    };
    fake.add(conv);
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    let event = dir.path().join("event.json");
    std::fs::write(&event, customer_end(CONV)).unwrap();
    let base = fake.base_url();
    let out = run(&vault, &base, &["archive", event.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let json = dir.path().join("report.json");
    let args = [
        "reconcile",
        "--from",
        &day,
        "--to",
        &day,
        "--json-report",
        json.to_str().unwrap(),
    ];
    let out = run(&vault, &base, &args).await;
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    let line = stdout
        .lines()
        .find(|l| l.starts_with("missing-attachments "))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(line.contains(CONV) && line.contains(&photo_id), "{line}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["days"][0]["archived"], 1);
    assert_eq!(report["days"][0]["missing"], 0);
    assert_eq!(report["days"][0]["archivedWithMissingAttachments"], 1);
    assert_eq!(
        report["conversations"][0]["status"],
        "archived-with-missing-attachments"
    );

    // Genesys serves the photo again; backfill completes the conversation.
    fake.add(FakeConversation::sample(CONV, photo, invoice));
    let mut with_backfill = args.to_vec();
    with_backfill.push("--backfill");
    let out = run(&vault, &base, &with_backfill).await;
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains("backfill: attempted 1, archived 1,"),
        "{stdout}"
    );
    let manifests = manifests_of(&vault, CONV);
    assert_eq!(manifests.len(), 2, "the incomplete generation stays");
    let complete = manifests
        .iter()
        .find(|m| m["missing"].as_array().unwrap().is_empty())
        .unwrap();
    assert_eq!(complete["trigger"]["kind"], "backfill");
}

/// Longer than 31 days: the command lists through asynchronous jobs, one per
/// interval of at most 31 whole days, and still reports per day.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_range_longer_than_31_days_is_listed_through_jobs_in_pieces() {
    let fake = FakeGenesys::start().await.unwrap();
    fake.set_results_page_cap(7);
    let first = NaiveDate::from_ymd_opt(2026, 7, 1).unwrap();
    let convs = FakeConversation::spread("long", 45, first, 45);
    let ids: BTreeSet<String> = convs.iter().map(|c| c.id.clone()).collect();
    for c in convs {
        fake.add(c);
    }
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let out = run(
        &dir.path().join("vault"),
        &fake.base_url(),
        &[
            "reconcile",
            "--from",
            "2026-07-01",
            "--to",
            "2026-08-14",
            "--json-report",
            json.to_str().unwrap(),
        ],
    )
    .await;
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    let printed = printed_missing(&stdout);
    assert_eq!(printed, ids);
    assert_eq!(fake.count(Route::AnalyticsJobCreate), 2);
    assert_eq!(fake.count(Route::AnalyticsQuery), 0);
    let intervals = fake.intervals_seen();
    assert_eq!(
        intervals,
        [
            "2026-07-01T00:00:00.000Z/2026-08-01T00:00:00.000Z",
            "2026-08-01T00:00:00.000Z/2026-08-15T00:00:00.000Z"
        ]
    );
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["days"].as_array().unwrap().len(), 45);
    assert!(
        report["days"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["expected"] == 1)
    );
    // 45 rows at 7 a page over two jobs: more than one results page each.
    assert!(
        report["listing"]["pages"].as_u64().unwrap() >= 7,
        "{}",
        report["listing"]
    );
}

/// The conversation ids of the `missing DAY ID` lines.
fn printed_missing(stdout: &str) -> BTreeSet<String> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("missing "))
        .map(|l| l.split_whitespace().nth(1).unwrap().to_string())
        .collect()
}

/// Every manifest of a conversation in a local vault.
fn manifests_of(vault: &Path, conv: &str) -> Vec<serde_json::Value> {
    std::fs::read_dir(vault.join("conversations").join(conv))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("manifest.")
        })
        .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .collect()
}

/// A gap Genesys cannot serve yet (recordings answers 202) is a failed
/// backfill: named with its reason, still reported missing, exit 1. The next
/// run, once Genesys is ready, closes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_that_genesys_is_not_ready_for_fails_loudly_and_a_rerun_closes_it() {
    let fake = FakeGenesys::start().await.unwrap();
    let conv = conversations().remove(0);
    let id = conv.id.clone();
    let day = conv.start_time[..10].to_string();
    fake.add(conv);
    fake.script(Route::Recordings, [Fault::Status(202)]);
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    let args = ["reconcile", "--from", &day, "--to", &day, "--backfill"];
    let out = run(&vault, &fake.base_url(), &args).await;
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("backfill: attempted 1, archived 0, already in vault 0, failed 1"),
        "{stdout}"
    );
    assert!(
        stderr.contains(&format!("backfill failed: {id}")),
        "{stderr}"
    );
    assert_eq!(printed_missing(&stdout), BTreeSet::from([id.clone()]));

    let out = run(&vault, &fake.base_url(), &args).await;
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains("backfill: attempted 1, archived 1,"),
        "{stdout}"
    );
}

/// A legacy chat (`mediaType` chat in analytics) missing from the vault is
/// reported, and `--backfill` archives it from its chat recording: the
/// messages API, which answers 404 for chats, is not asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_chat_is_reported_and_backfilled_from_its_recording() {
    const CHAT: &str = "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d";
    let fake = FakeGenesys::start().await.unwrap();
    fake.add(FakeConversation::chat_sample(CHAT));
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    let args = ["reconcile", "--from", "2026-09-21", "--to", "2026-09-21"];
    let out = run(&vault, &fake.base_url(), &args).await;
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert_eq!(printed_missing(&stdout), BTreeSet::from([CHAT.to_string()]));

    let mut with_backfill = args.to_vec();
    with_backfill.push("--backfill");
    let out = run(&vault, &fake.base_url(), &with_backfill).await;
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains("backfill: attempted 1, archived 1, already in vault 0, failed 0"),
        "{stdout}"
    );
    let m = manifest_of(&vault, CHAT);
    assert_eq!(m["trigger"]["kind"], "backfill");
    assert_eq!(m["conversation"]["mediaType"], "CHAT");
    assert_eq!(m["conversation"]["messageCount"], 2);
    assert_eq!(m["conversation"]["endTime"], "2026-09-21T15:19:47.000Z");
    assert_eq!(fake.count(Route::Conversation), 0);
}

/// A conversation whose only generation has no end (here: a transcript-
/// carrying event, which says nothing of the end) is "incomplete" in the
/// table, the gap lines, JSON and CSV, and exits 1; `--backfill` pulls the
/// final transcript and the next report is complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incomplete_conversation_is_reported_everywhere_and_backfilled() {
    const CONV: &str = "8d3f4c1e-5b2a-4e7f-9c61-0a2b3c4d5e6f";
    let fake = FakeGenesys::start().await.unwrap();
    let conv = FakeConversation::sample(CONV, vec![1u8; 300], vec![2u8; 200]);
    let day = conv.start_time[..10].to_string();
    fake.add(conv);
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    let event = Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "../../fixtures/genesys/SEED_ASSUMED__eventbridge_transcripts__NOT_A_REAL_TOPIC.json",
    );
    let base = fake.base_url();
    let out = run(&vault, &base, &["archive", event.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let open = manifest_of(&vault, CONV);
    assert_eq!(open["conversation"]["endTime"], serde_json::Value::Null);
    let generation = open["generation"].as_str().unwrap().to_string();

    let json = dir.path().join("report.json");
    let csv = dir.path().join("report.csv");
    let args = [
        "reconcile",
        "--from",
        &day,
        "--to",
        &day,
        "--json-report",
        json.to_str().unwrap(),
        "--csv-report",
        csv.to_str().unwrap(),
    ];
    let out = run(&vault, &base, &args).await;
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        stdout.starts_with(&format!(
            "{:<10}  {:>8}  {:>8}  {:>7}  {:>19}  {:>10}\n",
            "day", "expected", "archived", "missing", "missing-attachments", "incomplete"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "{:<10}  {:>8}  {:>8}  {:>7}  {:>19}  {:>10}\n",
            "total", 1, 0, 0, 0, 1
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "incomplete {day} {CONV} (generation {generation} "
        )),
        "{stdout}"
    );
    assert!(printed_missing(&stdout).is_empty(), "{stdout}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["complete"], false);
    assert_eq!(report["totals"]["incomplete"], 1);
    assert_eq!(report["totals"]["archived"], 0);
    assert_eq!(report["days"][0]["incomplete"], 1);
    assert_eq!(report["days"][0]["incompleteIds"][0], CONV);
    assert_eq!(report["conversations"][0]["status"], "incomplete");
    assert_eq!(
        report["conversations"][0]["generation"],
        generation.as_str()
    );
    let rows = csv_rows(&csv);
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[1][..4],
        [
            day.clone(),
            CONV.to_string(),
            "incomplete".into(),
            generation
        ]
    );

    let mut with_backfill = args.to_vec();
    with_backfill.push("--backfill");
    let out = run(&vault, &base, &with_backfill).await;
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains("backfill: attempted 1, archived 1,"),
        "{stdout}"
    );
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["complete"], true);
    assert_eq!(report["totals"]["incomplete"], 0);
    assert_eq!(report["conversations"][0]["status"], "archived");
    assert_eq!(
        manifests_of(&vault, CONV).len(),
        2,
        "the open generation stays"
    );
}
