//! `tvault export` of many conversations (days of the date index, or what a
//! search of the index finds) into one folder or zip with SHA256SUMS.

use crate::search::{CHAT, OCTOBER, sample_vault};
use crate::util::*;

/// `sha256sum -c SHA256SUMS` in `dir`: its output, after asserting it passed.
pub fn sums_hold(dir: &std::path::Path) -> String {
    let o = std::process::Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    text(&o.stdout)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_of_days_or_of_a_search_bundles_each_conversation_with_sums() {
    let s = sample_vault().await;
    s.index_all();
    let out = s.dir.path().join("march");
    let o = s.tvault(&[
        "export",
        "--from",
        "2026-09-01",
        "--to",
        "2026-10-31",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with(&format!("exported 3 conversation(s) to {}", out.display())),
        "{}",
        stdout(&o)
    );
    let files = files_under(&out);
    for c in [CONV, OCTOBER, CHAT] {
        for f in ["index.html", "manifest.json", "transcript.json"] {
            assert!(files.contains(&format!("{c}/{f}")), "{c}/{f} in {files:?}");
        }
    }
    assert!(files.contains(&"index.html".to_string()) && files.contains(&"SHA256SUMS".to_string()));
    let checked = sums_hold(&out);
    assert_eq!(
        checked.lines().count(),
        files.len() - 1,
        "every file but SHA256SUMS: {checked}"
    );
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    for c in [CONV, OCTOBER, CHAT] {
        assert!(
            index.contains(&format!("<a href=\"{c}/index.html\">")),
            "{index}"
        );
    }
    // The same folder again: never overwritten.
    let o = s.tvault(&[
        "export",
        "--from",
        "2026-09-01",
        "--to",
        "2026-10-31",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));

    // What a search finds, as a zip.
    let zip = s.dir.path().join("found.zip");
    let o = s.tvault(&["export", "--query", "élève", "--zip", zip.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let unpacked = s.dir.path().join("unzipped");
    let o = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys,zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])",
        ])
        .arg(&zip)
        .arg(&unpacked)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(sums_hold(&unpacked).contains(&format!("{OCTOBER}/transcript.json: OK")));
    assert!(!unpacked.join(CONV).exists());

    // One altered attachment: nothing at all is exported.
    let m = s.latest_manifest(CONV);
    let att = m
        .objects
        .iter()
        .find(|o| o.role == tvault_core::manifest::Role::Attachment)
        .unwrap();
    std::fs::write(s.vault.join(&att.path), b"not what was archived").unwrap();
    let again = s.dir.path().join("again");
    let o = s.tvault(&[
        "export",
        "--from",
        "2026-09-01",
        "--to",
        "2026-10-31",
        "--out",
        again.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains(&att.path), "{}", stderr(&o));
    assert!(!again.exists());
    let leftovers: Vec<_> = std::fs::read_dir(s.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
