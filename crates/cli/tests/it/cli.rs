//! The `tvault` binary, run as a user runs it, against a local vault.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::*;

/// Every file under `dir` with its size and modification time.
fn listing(dir: &Path) -> Vec<(PathBuf, u64, std::time::SystemTime)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            if m.is_dir() {
                stack.push(e.path());
            } else {
                out.push((e.path(), m.len(), m.modified().unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn find(dir: &Path, needle: &str) -> PathBuf {
    listing(dir)
        .into_iter()
        .map(|(p, _, _)| p)
        .find(|p| p.to_string_lossy().contains(needle))
        .unwrap()
}

const BILLING: &str = "3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b0c";

#[test]
fn archiving_the_examples_twice_writes_nothing_the_second_time() {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    let examples = repo().join("examples/events");
    let first = tvault(&vault, &["archive", examples.to_str().unwrap()]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert_eq!(
        stdout(&first).lines().next().unwrap(),
        "archived 3, already in vault 0, skipped 1, failed 0"
    );
    let before = listing(&vault);
    assert!(before.len() >= 12, "{before:#?}");

    let second = tvault(&vault, &["archive", examples.to_str().unwrap()]);
    assert_eq!(second.status.code(), Some(0));
    assert_eq!(
        stdout(&second).lines().next().unwrap(),
        "archived 0, already in vault 3, skipped 1, failed 0"
    );
    assert_eq!(
        before,
        listing(&vault),
        "names, sizes and modification times must be unchanged"
    );

    let verify = tvault(&vault, &["verify"]);
    assert_eq!(verify.status.code(), Some(0), "{}", stdout(&verify));
    assert!(
        stdout(&verify).contains("3 manifest(s) of 3 conversation(s), 6 object(s): 0 problem(s)"),
        "{}",
        stdout(&verify)
    );
}

#[test]
fn show_prints_the_latest_generation_and_json_prints_the_stored_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    let one = r#"{"detail":{"conversationId":"c-42","mediaType":"MESSAGE","messages":[{"messageId":"m1","timestamp":"2026-09-20T09:00:00Z","participantPurpose":"customer","text":"first version"}]}}"#;
    let two = r#"{"detail":{"conversationId":"c-42","mediaType":"MESSAGE","messages":[{"messageId":"m1","timestamp":"2026-09-20T09:00:00Z","participantPurpose":"customer","text":"first version"},{"messageId":"m2","timestamp":"2026-09-20T09:05:00Z","participantPurpose":"agent","text":"a later reply"}]}}"#;
    for doc in [one, two] {
        let f = dir.path().join("e.json");
        std::fs::write(&f, doc).unwrap();
        let o = tvault(&vault, &["archive", f.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        // The two generations must differ in `archivedAt` (milliseconds):
        // wait for the clock to pass the first one's, not a fixed time.
        let ms = || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis()
        };
        let after = ms() + 1;
        while ms() <= after {
            std::thread::yield_now();
        }
    }
    let manifests = listing(&vault)
        .into_iter()
        .filter(|(p, _, _)| p.to_string_lossy().contains("manifest."))
        .count();
    assert_eq!(manifests, 2);

    let shown = tvault(&vault, &["show", "c-42"]);
    assert_eq!(shown.status.code(), Some(0), "{}", stderr(&shown));
    let text = stdout(&shown);
    assert!(text.contains("customer: first version"), "{text}");
    assert!(text.contains("agent: a later reply"), "{text}");

    let json = tvault(&vault, &["show", "c-42", "--json"]);
    let stored: Vec<u8> = listing(&vault)
        .into_iter()
        .filter(|(p, _, _)| p.to_string_lossy().contains("transcript."))
        .map(|(p, _, _)| std::fs::read(p).unwrap())
        .find(|b| String::from_utf8_lossy(b).contains("a later reply"))
        .unwrap();
    assert_eq!(json.stdout, stored);
}

#[test]
fn verify_names_a_corrupted_object_and_a_deleted_one() {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    let o = tvault(
        &vault,
        &["archive", repo().join("examples/events").to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0));

    let transcript = find(&vault, &format!("{BILLING}/transcript."));
    let mut bytes = std::fs::read(&transcript).unwrap();
    bytes[40] ^= 0x01;
    std::fs::write(&transcript, bytes).unwrap();
    let source = find(&vault, &format!("{BILLING}/source/event."));
    std::fs::remove_file(&source).unwrap();

    let v = tvault(&vault, &["verify"]);
    assert_eq!(v.status.code(), Some(1));
    let out = stdout(&v);
    let rel = |p: &Path| {
        p.strip_prefix(&vault)
            .unwrap()
            .to_string_lossy()
            .into_owned()
    };
    assert!(
        out.contains(&format!("corrupt {}: sha256", rel(&transcript))),
        "{out}"
    );
    assert!(out.contains(&format!("missing {}", rel(&source))), "{out}");
    assert!(out.contains("2 problem(s)"), "{out}");

    // `show` refuses the corrupted transcript rather than print it.
    let s = tvault(&vault, &["show", BILLING]);
    assert_eq!(s.status.code(), Some(1));
    assert!(stderr(&s).contains("manifest says"), "{}", stderr(&s));
}

/// `verify --from --to` checks only the conversations indexed on those days,
/// and `list` shows them, with an interrupted archive (a marker without its
/// manifest) named as a problem.
#[test]
fn verify_and_list_by_day_range_see_only_those_days() {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    let o = tvault(
        &vault,
        &["archive", repo().join("examples/events").to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0));
    // BILLING ended on 2026-10-02; the other two on 10-03 and 10-04.
    let transcript = find(&vault, &format!("{BILLING}/transcript."));
    let mut bytes = std::fs::read(&transcript).unwrap();
    bytes[40] ^= 0x01;
    std::fs::write(&transcript, bytes).unwrap();

    let v = tvault(
        &vault,
        &["verify", "--from", "2026-10-02", "--to", "2026-10-02"],
    );
    assert_eq!(v.status.code(), Some(1), "{}", stdout(&v));
    assert!(stdout(&v).contains(&format!("corrupt conversations/{BILLING}/transcript.")));
    assert!(stdout(&v).contains("verified 1 manifest(s) of 1 conversation(s)"));
    let v = tvault(
        &vault,
        &["verify", "--from", "2026-10-03", "--to", "2026-10-04"],
    );
    assert_eq!(v.status.code(), Some(0), "{}", stdout(&v));
    assert!(stdout(&v).contains("verified 2 manifest(s) of 2 conversation(s)"));
    let v = tvault(&vault, &["verify", "--from", "2026-10-03"]);
    assert_eq!(v.status.code(), Some(2), "--from needs --to");

    // An archive interrupted after its index marker and before its manifest.
    let marker = vault.join("index/2026/10/03/interrupted-1.0123456789abcdef");
    std::fs::write(&marker, b"").unwrap();
    let l = tvault(
        &vault,
        &["list", "--from", "2026-10-03", "--to", "2026-10-03"],
    );
    assert_eq!(l.status.code(), Some(1), "{}", stderr(&l));
    let lines: Vec<String> = stdout(&l).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("interrupted-1  NOT-COMMITTED")),
        "{lines:?}"
    );
    assert!(!stdout(&l).contains(BILLING));
    let v = tvault(
        &vault,
        &["verify", "--from", "2026-10-03", "--to", "2026-10-03"],
    );
    assert!(
        stdout(&v)
            .contains("orphaned index/2026/10/03/interrupted-1.0123456789abcdef: no manifest"),
        "{}",
        stdout(&v)
    );
}

#[test]
fn verify_reports_orphans_left_outside_any_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    tvault(
        &vault,
        &["archive", repo().join("examples/events").to_str().unwrap()],
    );
    let stray = vault.join(format!("conversations/{BILLING}/source/stray.0000.json"));
    std::fs::write(&stray, b"{}").unwrap();
    let v = tvault(&vault, &["verify"]);
    assert_eq!(v.status.code(), Some(1));
    assert!(
        stdout(&v).contains(&format!(
            "orphaned conversations/{BILLING}/source/stray.0000.json"
        )),
        "{}",
        stdout(&v)
    );
}

#[test]
fn a_file_mixing_good_and_bad_lines_archives_the_good_and_names_each_bad_line() {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    let good = |id: &str| {
        format!(
            r#"{{"detail":{{"conversationId":"{id}","messages":[{{"messageId":"m","timestamp":"2026-09-20T09:00:00Z","text":"ok"}}]}}}}"#
        )
    };
    let lines = [
        good("good-1"),
        "{\"detail\": {\"conversationId\": \"trunc".to_string(),
        r#"{"detail":{"conversationId":"../../etc","messages":[]}}"#.to_string(),
        String::new(),
        good("good-2"),
        r#"{"detail-type":"v2.detail.events.conversation.{id}.customer.end","detail":{"eventBody":{"mediaType":"MESSAGE","eventTime":"yesterday"}}}"#.to_string(),
    ];
    let f = dir.path().join("mixed.jsonl");
    std::fs::write(&f, lines.join("\n")).unwrap();
    let o = tvault(&vault, &["archive", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stdout(&o).lines().next().unwrap(),
        "archived 2, already in vault 0, skipped 0, failed 3"
    );
    let err = stderr(&o);
    let name = f.display().to_string();
    assert!(
        err.contains(&format!(
            "{name}:2: invalid input: not JSON: EOF while parsing"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{name}:3: invalid input: unsafe detail.conversationId \"../../etc\""
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{name}:6: invalid input: detail.eventBody.eventTime: expected epoch milliseconds"
        )),
        "{err}"
    );
    assert!(
        vault.join("conversations/good-1").is_dir() && vault.join("conversations/good-2").is_dir()
    );
}

#[test]
fn stdin_is_read_with_a_dash() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tvault"))
        .args(["--vault", vault.to_str().unwrap(), "archive", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let event =
        std::fs::read_to_string(repo().join("examples/events/sms-appointment-flat.json")).unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(event.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).starts_with("archived 1,"), "{}", stdout(&o));
}

#[test]
fn attachments_without_credentials_are_announced() {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    let f = repo()
        .join("fixtures/genesys/SEED_ASSUMED__eventbridge_transcripts__NOT_A_REAL_TOPIC.json");
    let o = tvault(&vault, &["archive", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("2 attachment(s) not fetched: no Genesys credentials configured"),
        "{}",
        stdout(&o)
    );
    let shown = stdout(&tvault(
        &vault,
        &["show", "8d3f4c1e-5b2a-4e7f-9c61-0a2b3c4d5e6f"],
    ));
    assert!(
        shown.contains("NOT IN VAULT (no Genesys credentials configured)"),
        "{shown}"
    );
}

#[test]
fn usage_errors_exit_2_and_unknown_conversations_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    let o = tvault(&vault, &["show", "../etc"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("must start with a letter or digit"),
        "{}",
        stderr(&o)
    );
    std::fs::create_dir(&vault).unwrap();
    let o = tvault(&vault, &["show", "nobody"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("conversation nobody is not in the vault"),
        "{}",
        stderr(&o)
    );
    let o = tvault(&vault, &["archive", "/no/such/file.json"]);
    assert_eq!(o.status.code(), Some(2));
    let o = tvault(Path::new("s3://bucket"), &["verify"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown scheme"), "{}", stderr(&o));
}

#[test]
fn help_explains_inputs_outputs_and_exit_codes() {
    let o = Command::new(env!("CARGO_BIN_EXE_tvault"))
        .args(["archive", "--help"])
        .output()
        .unwrap();
    let text = stdout(&o);
    for needle in [
        "JSON Lines",
        "SQS",
        "already in vault",
        "Exit codes",
        "GENESYSCLOUD_REGION",
        "TVAULT_VAULT",
    ] {
        assert!(
            text.contains(needle),
            "archive --help lacks {needle:?}:\n{text}"
        );
    }
    let o = Command::new(env!("CARGO_BIN_EXE_tvault"))
        .args(["verify", "--help"])
        .output()
        .unwrap();
    assert!(stdout(&o).contains("orphaned"), "{}", stdout(&o));
}
