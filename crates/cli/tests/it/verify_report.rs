//! `tvault verify --json-report FILE --csv-report FILE`: the same findings as
//! the text output, per object and per conversation, with totals, the tool's
//! version, the vault, the range and the time taken.

use std::path::Path;

use crate::util::*;

const BILLING: &str = "3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b0c";

fn find(dir: &Path, needle: &str) -> String {
    files_under(dir)
        .into_iter()
        .find(|p| p.contains(needle))
        .unwrap()
}

fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(
        header,
        [
            "path",
            "conversation_id",
            "status",
            "sha256",
            "size",
            "detail"
        ]
    );
    r.records()
        .map(|rec| rec.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

#[test]
fn verify_reports_name_each_object_and_conversation_with_totals() {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    let o = tvault(
        &vault,
        &["archive", repo().join("examples/events").to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // One corrupted object and one deleted one, in the same conversation.
    let transcript = find(&vault, &format!("{BILLING}/transcript."));
    let mut bytes = std::fs::read(vault.join(&transcript)).unwrap();
    bytes[40] ^= 0x01;
    std::fs::write(vault.join(&transcript), bytes).unwrap();
    let source = find(&vault, &format!("{BILLING}/source/event."));
    std::fs::remove_file(vault.join(&source)).unwrap();

    let json_path = dir.path().join("verify.json");
    let csv_path = dir.path().join("verify.csv");
    let v = tvault(
        &vault,
        &[
            "verify",
            "--json-report",
            json_path.to_str().unwrap(),
            "--csv-report",
            csv_path.to_str().unwrap(),
        ],
    );
    assert_eq!(v.status.code(), Some(1), "{}", stderr(&v));
    assert!(stdout(&v).contains("2 problem(s)"), "{}", stdout(&v));

    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
    assert_eq!(doc["schema"], "transcript-vault/verify-report/v1");
    let version = stdout(&tvault(&vault, &["--version"]));
    assert_eq!(
        format!("tvault {}", doc["tool"]["version"].as_str().unwrap()),
        version.trim()
    );
    assert_eq!(doc["vault"], vault.to_str().unwrap());
    assert!(doc["from"].is_null() && doc["to"].is_null(), "{doc:#}");
    assert!(doc["elapsedSeconds"].as_f64().unwrap() >= 0.0, "{doc:#}");
    assert!(doc["generatedAt"].as_str().unwrap().starts_with("20"));
    assert_eq!(doc["complete"], false);
    let t = &doc["totals"];
    assert_eq!(
        (
            &t["manifests"],
            &t["conversations"],
            &t["objects"],
            &t["problems"]
        ),
        (
            &serde_json::json!(3),
            &serde_json::json!(3),
            &serde_json::json!(6),
            &serde_json::json!(2)
        ),
        "{t:#}"
    );

    let objects = doc["objects"].as_array().unwrap();
    let status_of = |path: &str| {
        objects
            .iter()
            .find(|o| o["path"] == path)
            .unwrap_or_else(|| panic!("{path} not in {objects:#?}"))
    };
    let corrupt = status_of(&transcript);
    assert_eq!(corrupt["status"], "corrupt");
    assert_eq!(corrupt["conversationId"], BILLING);
    assert_eq!(corrupt["sha256"].as_str().unwrap().len(), 64);
    assert!(corrupt["size"].as_u64().unwrap() > 40);
    assert!(corrupt["detail"].as_str().unwrap().contains("sha256"));
    assert_eq!(status_of(&source)["status"], "missing");
    let ok = objects.iter().filter(|o| o["status"] == "ok").count();
    assert_eq!(ok, 4, "{objects:#?}");

    let convs = doc["conversations"].as_array().unwrap();
    assert_eq!(convs.len(), 3, "{convs:#?}");
    for c in convs {
        let billing = c["conversationId"] == BILLING;
        assert_eq!(c["problems"], if billing { 2 } else { 0 }, "{c}");
        assert_eq!(c["status"], if billing { "problems" } else { "ok" }, "{c}");
        assert_eq!(c["generations"], 1, "{c}");
    }

    // The CSV holds the same rows as the JSON, in the same order.
    let rows = csv_rows(&csv_path);
    assert_eq!(rows.len(), objects.len());
    for (row, o) in rows.iter().zip(objects) {
        assert_eq!(row[0], o["path"].as_str().unwrap());
        assert_eq!(row[2], o["status"].as_str().unwrap());
        assert_eq!(row[3], o["sha256"].as_str().unwrap_or_default());
    }
    assert!(
        rows.iter()
            .any(|r| r[0] == transcript && r[1] == BILLING && r[2] == "corrupt"),
        "{rows:?}"
    );
}

#[test]
fn a_ranged_verify_report_names_its_range_and_a_clean_one_is_complete() {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    let o = tvault(
        &vault,
        &["archive", repo().join("examples/events").to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let json_path = dir.path().join("verify.json");
    // BILLING ended on 2026-10-02, the other two later.
    let v = tvault(
        &vault,
        &[
            "verify",
            "--from",
            "2026-10-02",
            "--to",
            "2026-10-02",
            "--json-report",
            json_path.to_str().unwrap(),
        ],
    );
    assert_eq!(v.status.code(), Some(0), "{}", stdout(&v));
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
    assert_eq!(doc["from"], "2026-10-02");
    assert_eq!(doc["to"], "2026-10-02");
    assert_eq!(doc["complete"], true);
    assert_eq!(doc["totals"]["conversations"], 1);
    assert_eq!(doc["totals"]["problems"], 0);
    let convs = doc["conversations"].as_array().unwrap();
    assert_eq!(convs[0]["conversationId"], BILLING);
    assert!(
        doc["objects"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["status"] == "ok" && o["conversationId"] == BILLING),
        "{doc:#}"
    );
}
