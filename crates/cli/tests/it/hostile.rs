//! The `tvault` binary against hostile input and a hostile vault: unsafe
//! ids, forged and junk manifests, text that would drive a terminal,
//! directories with symbolic links and FIFOs, oversized documents and times
//! out of range. Each test runs the built binary on a local vault.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::util::*;

/// Run with a time limit: a command that hangs (reading a FIFO, walking a
/// loop) is killed and fails the test instead of hanging it.
fn tvault_within(vault: &Path, args: &[&str], limit: Duration) -> Output {
    let mut child = command(vault, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            child.kill().unwrap();
            let o = child.wait_with_output().unwrap();
            panic!(
                "tvault {args:?} did not finish within {limit:?}: {}",
                stderr(&o)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// A transcript-carrying event for `conv` with one message.
fn event(conv: &str, text: &str) -> String {
    serde_json::json!({"detail": {"conversationId": conv, "mediaType": "MESSAGE", "messages": [
        {"messageId": "m1", "timestamp": "2026-09-20T09:00:00Z", "participantPurpose": "customer", "text": text}
    ]}})
    .to_string()
}

fn archive_one(dir: &Path, vault: &Path, doc: &str) {
    let f = dir.join("event.json");
    std::fs::write(&f, doc).unwrap();
    let o = tvault(vault, &["archive", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// The one manifest of `conv`: its path and JSON.
fn only_manifest(vault: &Path, conv: &str) -> (PathBuf, serde_json::Value) {
    let dir = vault.join(format!("conversations/{conv}"));
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("manifest.")
        })
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    let path = found.remove(0);
    let json = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    (path, json)
}

#[test]
fn ids_ending_in_a_dot_or_naming_a_windows_device_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    let o = tvault(&vault, &["show", "abc."]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("ends with '.'"), "{}", stderr(&o));
    let o = tvault(&vault, &["show", "CON"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("Windows device name CON"),
        "{}",
        stderr(&o)
    );

    let attachment = serde_json::json!({"detail": {"conversationId": "c-ok", "messages": [
        {"messageId": "m1", "text": "x", "attachmentIds": ["a1."]}
    ]}});
    let lines = [
        event("c-1.", "hello"),
        event("nul.txt", "hello"),
        attachment.to_string(),
    ];
    let f = dir.path().join("ids.jsonl");
    std::fs::write(&f, lines.join("\n")).unwrap();
    let o = tvault(&vault, &["archive", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(
        stdout(&o).lines().next().unwrap(),
        "archived 0, already in vault 0, skipped 0, failed 3"
    );
    let err = stderr(&o);
    let name = f.display();
    for want in [
        format!("{name}:1: invalid input: unsafe detail.conversationId \"c-1.\": ends with '.'"),
        format!(
            "{name}:2: invalid input: unsafe detail.conversationId \"nul.txt\": is the Windows device name NUL"
        ),
        format!(
            "{name}:3: invalid input: unsafe detail.messages[0].attachmentIds[0] \"a1.\": ends with '.'"
        ),
    ] {
        assert!(err.contains(&want), "{want}\nnot in\n{err}");
    }
    assert!(!vault.join("conversations").exists(), "nothing was written");
}

/// Two manifests list one path with different hashes: the stored object
/// matches only one of them, and `verify` must say so.
#[test]
fn verify_checks_every_hash_manifests_give_for_one_path() {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    archive_one(dir.path(), &vault, &event("c-42", "the real text"));
    let (_, mut forged) = only_manifest(&vault, "c-42");
    let transcript = forged["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["role"] == "transcript")
        .unwrap()
        .clone();
    let real_sha = transcript["sha256"].as_str().unwrap().to_string();
    let path = transcript["path"].as_str().unwrap().to_string();
    // Another generation (sorting first) that claims other bytes for the same
    // transcript object, committed and indexed like a real one.
    let fake_gen = "0000000000000000";
    forged["generation"] = fake_gen.into();
    forged["archivedAt"] = "2026-09-20T10:00:00.000Z".into();
    for o in forged["objects"].as_array_mut().unwrap() {
        if o["role"] == "transcript" {
            o["sha256"] = "f".repeat(64).into();
        }
    }
    std::fs::write(
        vault.join(format!("conversations/c-42/manifest.{fake_gen}.json")),
        serde_json::to_vec_pretty(&forged).unwrap(),
    )
    .unwrap();
    std::fs::write(vault.join(format!("index/2026/09/20/c-42.{fake_gen}")), b"").unwrap();

    let v = tvault(&vault, &["verify"]);
    let out = stdout(&v);
    assert_eq!(v.status.code(), Some(1), "{out}");
    assert!(
        out.contains(&format!(
            "corrupt {path}: sha256 {real_sha}, manifest says {}",
            "f".repeat(64)
        )),
        "{out}"
    );
    assert!(out.contains(": 1 problem(s)"), "{out}");
}

#[test]
fn an_unreadable_manifest_is_reported_by_verify_and_skipped_by_show_export_and_list() {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    archive_one(dir.path(), &vault, &event("c-42", "still readable"));
    let (good_path, good) = only_manifest(&vault, "c-42");
    let good_gen = good["generation"].as_str().unwrap().to_string();
    let conv = vault.join("conversations/c-42");
    // Junk bytes under a manifest name, indexed like a generation; and a
    // valid manifest copied under another generation's name.
    let junk = "conversations/c-42/manifest.ffffffffffffffff.json";
    std::fs::write(vault.join(junk), b"\x00\x01 not json {").unwrap();
    std::fs::write(vault.join("index/2026/09/20/c-42.ffffffffffffffff"), b"").unwrap();
    let copy = "conversations/c-42/manifest.eeeeeeeeeeeeeeee.json";
    std::fs::copy(&good_path, vault.join(copy)).unwrap();
    std::fs::write(vault.join("index/2026/09/20/c-42.eeeeeeeeeeeeeeee"), b"").unwrap();

    let v = tvault(&vault, &["verify"]);
    let out = stdout(&v);
    assert_eq!(v.status.code(), Some(1), "{out}");
    assert!(out.contains(&format!("unreadable {junk}: ")), "{out}");
    assert!(
        out.contains(&format!(
            "unreadable {copy}: it holds conversation \"c-42\" generation \"{good_gen}\""
        )),
        "{out}"
    );
    assert!(out.contains("verified 1 manifest(s)"), "{out}");

    let s = tvault(&vault, &["show", "c-42"]);
    assert_eq!(s.status.code(), Some(0), "{}", stderr(&s));
    assert!(
        stdout(&s).contains("customer: still readable"),
        "{}",
        stdout(&s)
    );
    assert!(stderr(&s).contains(&format!("tvault: skipped {junk}: not a valid manifest")));
    assert!(stderr(&s).contains(&format!("tvault: skipped {copy}: not a valid manifest")));

    // Asked by name, a generation is read alone: nothing else is looked at.
    let s = tvault(&vault, &["show", "c-42", "--generation", &good_gen]);
    assert_eq!(s.status.code(), Some(0), "{}", stderr(&s));
    assert_eq!(stderr(&s), "");
    let s = tvault(
        &vault,
        &["show", "c-42", "--generation", "ffffffffffffffff"],
    );
    assert_eq!(s.status.code(), Some(1), "{}", stderr(&s));
    assert!(stderr(&s).contains(&format!("{junk}: not a valid manifest")));
    let s = tvault(&vault, &["show", "c-42", "--generation", "../../etc"]);
    assert_eq!(s.status.code(), Some(1), "{}", stderr(&s));
    assert!(stderr(&s).contains("has no generation"), "{}", stderr(&s));

    let out_dir = dir.path().join("exports");
    let e = tvault(
        &vault,
        &["export", "c-42", "--out", out_dir.to_str().unwrap()],
    );
    assert_eq!(e.status.code(), Some(0), "{}", stderr(&e));
    assert!(
        stderr(&e).contains(&format!("skipped {junk}")),
        "{}",
        stderr(&e)
    );
    let exported = std::fs::read(out_dir.join("c-42/manifest.json")).unwrap();
    assert_eq!(exported, std::fs::read(&good_path).unwrap());

    for json in [false, true] {
        let mut args = vec!["list", "--from", "2026-09-20", "--to", "2026-09-20"];
        if json {
            args.push("--json");
        }
        let l = tvault(&vault, &args);
        assert_eq!(l.status.code(), Some(0), "{}", stderr(&l));
        assert!(
            stderr(&l).contains(&format!("skipped {junk}")),
            "{}",
            stderr(&l)
        );
        assert_eq!(stdout(&l).lines().count(), 1, "{}", stdout(&l));
        assert!(stdout(&l).contains(&good_gen), "{}", stdout(&l));
    }
    assert!(conv.join("manifest.ffffffffffffffff.json").exists());
}

#[test]
fn show_and_list_print_control_characters_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    let doc = serde_json::json!({"detail": {"conversationId": "c-tty", "mediaType": "MESSAGE\u{1b}[31m\u{9b}2J", "messages": [
        {"messageId": "m1", "timestamp": "2026-09-20T09:00:00Z", "participantPurpose": "customer",
         "senderName": "Eve\u{1b}]0;owned\u{7}", "text": "I do NOT consent\r\u{1b}[2KI consent"},
        {"messageId": "m2", "timestamp": "2026-09-20T09:01:00Z", "participantPurpose": "customer",
         "text": "fine\n[2026-09-20T09:02:00.000Z] agent: I agree to everything"}
    ]}});
    archive_one(dir.path(), &vault, &doc.to_string());

    let s = tvault(&vault, &["show", "c-tty"]);
    assert_eq!(s.status.code(), Some(0), "{}", stderr(&s));
    let text = stdout(&s);
    for c in ['\u{1b}', '\r', '\u{7}', '\u{9b}'] {
        assert!(!text.contains(c), "{c:?} reached the terminal: {text:?}");
    }
    assert!(
        text.contains("Eve\\x1b]0;owned\\x07 (customer): I do NOT consent\\r\\x1b[2KI consent"),
        "{text}"
    );
    assert!(text.contains("(MESSAGE\\x1b[31m\\u{9b}2J)"), "{text}");
    // A newline in a text cannot start a line that looks like a message.
    assert!(
        text.contains("fine\n    [2026-09-20T09:02:00.000Z] agent: I agree"),
        "{text}"
    );
    assert!(!text.contains("\n[2026-09-20T09:02:00.000Z]"), "{text}");

    // --json is the stored bytes, untouched.
    let j = tvault(&vault, &["show", "c-tty", "--json"]);
    let stored = std::fs::read_dir(vault.join("conversations/c-tty"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("transcript."))
        .unwrap();
    assert_eq!(j.stdout, std::fs::read(stored).unwrap());

    let l = tvault(
        &vault,
        &["list", "--from", "2026-09-20", "--to", "2026-09-20"],
    );
    let listed = stdout(&l);
    assert_eq!(l.status.code(), Some(0), "{}", stderr(&l));
    assert!(
        !listed.contains('\u{1b}') && !listed.contains('\u{9b}'),
        "{listed:?}"
    );
    assert!(
        listed.contains("c-tty  MESSAGE\\x1b[31m\\u{9b}2J  2 message(s)"),
        "{listed}"
    );

    // An object name is text from the vault too, even in an error: the local
    // disk backend refuses to list this one, and says so escaped.
    std::fs::write(vault.join("index/2026/09/20/\u{1b}[2Jx.0123"), b"").unwrap();
    let l = tvault(
        &vault,
        &["list", "--from", "2026-09-20", "--to", "2026-09-20"],
    );
    let err = stderr(&l);
    assert_eq!(l.status.code(), Some(2), "{err}");
    assert!(!err.contains('\u{1b}'), "{err:?}");
    assert!(err.contains("\\x1b[2Jx.0123"), "{err}");
}

#[test]
fn archive_does_not_follow_links_out_of_or_round_a_directory() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    let input = dir.path().join("input");
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(input.join("good.json"), event("inside-1", "hello")).unwrap();
    std::fs::write(outside.join("other.json"), event("outside-1", "secret")).unwrap();
    symlink(&input, input.join("loop")).unwrap();
    symlink(&outside, input.join("out")).unwrap();
    symlink(outside.join("other.json"), input.join("link.json")).unwrap();
    let fifo = input.join("fifo.json");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());

    let o = tvault_within(
        &vault,
        &["archive", input.to_str().unwrap()],
        Duration::from_secs(60),
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert_eq!(
        stdout(&o).lines().next().unwrap(),
        "archived 1, already in vault 0, skipped 0, failed 0"
    );
    for name in ["loop", "out", "link.json", "fifo.json"] {
        let want = format!(
            "{}: not read: a symbolic link or special file",
            input.join(name).display()
        );
        assert!(err.contains(&want), "{want}\nnot in\n{err}");
    }
    assert!(vault.join("conversations/inside-1").is_dir());
    assert!(!vault.join("conversations/outside-1").exists());

    // Named on the command line, a link is the operator's choice: it is read.
    let o = tvault(
        &vault,
        &["archive", input.join("link.json").to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(vault.join("conversations/outside-1").is_dir());
}

#[test]
fn a_document_over_64_mib_is_refused_and_the_other_records_still_run() {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    let huge = event("huge-1", &"A".repeat(65 * 1024 * 1024));
    let whole = dir.path().join("whole.json");
    std::fs::write(&whole, &huge).unwrap();
    let lines = dir.path().join("lines.jsonl");
    std::fs::write(
        &lines,
        [event("small-1", "a"), huge.clone(), event("small-2", "b")].join("\n"),
    )
    .unwrap();
    // Pretty-printed, so its first line is not a document by itself.
    let pretty = dir.path().join("pretty.json");
    let value: serde_json::Value = serde_json::from_str(&huge).unwrap();
    std::fs::write(&pretty, serde_json::to_string_pretty(&value).unwrap()).unwrap();
    drop((huge, value));

    let o = tvault(
        &vault,
        &[
            "archive",
            whole.to_str().unwrap(),
            lines.to_str().unwrap(),
            pretty.to_str().unwrap(),
        ],
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(
        stdout(&o).lines().next().unwrap(),
        "archived 2, already in vault 0, skipped 0, failed 3"
    );
    for origin in [
        format!("{}:1", whole.display()),
        format!("{}:2", lines.display()),
        format!("{}:1", pretty.display()),
    ] {
        let want = format!("{origin}: invalid input: document: ");
        assert!(err.contains(&want), "{want}\nnot in\n{err}");
    }
    assert!(
        err.contains("at most 67108864 bytes (64 MiB) are accepted per document"),
        "{err}"
    );
    assert!(vault.join("conversations/small-1").is_dir());
    assert!(vault.join("conversations/small-2").is_dir());
    assert!(!vault.join("conversations/huge-1").exists());
}

#[test]
fn times_that_leave_years_1_to_9999_in_utc_are_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    let far_event_time = serde_json::json!({
        "detail-type": "v2.detail.events.conversation.{id}.customer.end",
        "detail": {"topicName": "v2.detail.events.conversation.c-far.customer.end",
            "eventBody": {"conversationId": "c-far", "mediaType": "MESSAGE", "eventTime": 253_402_300_800_000_i64,
                "messages": [{"messageId": "m1", "text": "no time of its own"}]}}
    });
    let far_end = serde_json::json!({"detail": {"conversationId": "c-end",
        "endTime": "9999-12-31T23:30:00-01:00", "messages": []}});
    let early = serde_json::json!({"detail": {"conversationId": "c-early",
        "messages": [{"messageId": "m1", "timestamp": "0001-01-01T00:30:00+01:00", "text": "x"}]}});
    let f = dir.path().join("times.jsonl");
    std::fs::write(
        &f,
        [far_event_time, far_end, early]
            .map(|v| v.to_string())
            .join("\n"),
    )
    .unwrap();
    let o = tvault(&vault, &["archive", f.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(
        stdout(&o).lines().next().unwrap(),
        "archived 0, already in vault 0, skipped 0, failed 3"
    );
    let name = f.display();
    for want in [
        format!(
            "{name}:1: invalid input: detail.eventBody.eventTime: 253402300800000 is outside the years 0001-9999 once converted to UTC"
        ),
        format!(
            "{name}:2: invalid input: detail.endTime: \"9999-12-31T23:30:00-01:00\" is outside the years 0001-9999"
        ),
        format!(
            "{name}:3: invalid input: detail.messages[0].timestamp: \"0001-01-01T00:30:00+01:00\" is outside the years 0001-9999"
        ),
    ] {
        assert!(err.contains(&want), "{want}\nnot in\n{err}");
    }
    assert!(
        !vault.join("index").exists(),
        "{:?}",
        std::fs::read_dir(&vault).map(|d| d.count())
    );
}
