//! `tvault seal` and `tvault audit` on a local vault archived through the
//! fake Genesys API: three sealed days audit clean; a removed, replaced or
//! added manifest and an altered ledger object are each named with their
//! day; a late arrival goes into a supplement; a day sealed late shows in
//! the chain; the witness file is compared line by line. The Python check
//! script of docs/ (standard library only) must agree with `tvault audit`
//! each time. `ledger_azure` runs the same life against Azurite.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tvault_testkit::genesys::{FakeConversation, FakeGenesys};
use tvault_testkit::pipeline::customer_end;

use crate::util::*;

/// Three past UTC days, and the conversations that end on each (odd and
/// even counts, for the Merkle tree).
pub const DAYS: [&str; 3] = ["2026-09-20", "2026-09-21", "2026-09-22"];
pub const CONVS: [(&str, &str); 6] = [
    ("led-a1", "2026-09-20"),
    ("led-a2", "2026-09-20"),
    ("led-b1", "2026-09-21"),
    ("led-c1", "2026-09-22"),
    ("led-c2", "2026-09-22"),
    ("led-c3", "2026-09-22"),
];

/// A vault, the fake Genesys API that feeds it, and the settings each side
/// runs with: the archiver and sealer (writer), the auditor (reader).
pub struct Ledgered {
    pub fake: FakeGenesys,
    pub vault: String,
    pub writer: Vec<(String, String)>,
    pub reader: Vec<(String, String)>,
    pub dir: tempfile::TempDir,
}

impl Ledgered {
    pub async fn local() -> Ledgered {
        let dir = tempfile::tempdir().unwrap();
        let vault = dir.path().join("vault").to_string_lossy().into_owned();
        Ledgered {
            fake: FakeGenesys::start().await.unwrap(),
            vault,
            writer: vec![],
            reader: vec![],
            dir,
        }
    }

    pub fn local_vault(&self) -> PathBuf {
        PathBuf::from(&self.vault)
    }

    /// Run `tvault` with `env` (and Genesys for the writer).
    pub async fn run(&self, writer: bool, args: &[&str]) -> Output {
        let mut env = if writer {
            self.writer.clone()
        } else {
            self.reader.clone()
        };
        if writer {
            env.push((
                "GENESYSCLOUD_OAUTHCLIENT_ID".into(),
                tvault_testkit::genesys::CLIENT_ID.into(),
            ));
            env.push((
                "GENESYSCLOUD_OAUTHCLIENT_SECRET".into(),
                tvault_testkit::genesys::CLIENT_SECRET.into(),
            ));
            env.push(("GENESYSCLOUD_REGION".into(), self.fake.base_url()));
        }
        let (vault, args): (String, Vec<String>) = (
            self.vault.clone(),
            args.iter().map(|s| s.to_string()).collect(),
        );
        tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            tvault_env(&vault, &env, &refs)
        })
        .await
        .unwrap()
    }

    /// Archive conversations that end on the given days (lifecycle events
    /// pulled from the fake, two small attachments each).
    pub async fn archive(&self, convs: &[(&str, &str)]) {
        let events = tempfile::tempdir().unwrap();
        for (conv, day) in convs {
            let mut c = FakeConversation::sample(
                conv,
                format!("photo {conv}").into_bytes(),
                format!("invoice {conv}").into_bytes(),
            );
            c.end_time = format!("{day}T23:10:00.000Z");
            self.fake.add(c);
            std::fs::write(
                events.path().join(format!("{conv}.json")),
                customer_end(conv),
            )
            .unwrap();
        }
        let out = self
            .run(true, &["archive", events.path().to_str().unwrap()])
            .await;
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}{}",
            stdout(&out),
            stderr(&out)
        );
        assert!(
            stdout(&out).starts_with(&format!("archived {}", convs.len())),
            "{}",
            stdout(&out)
        );
    }

    /// `tvault seal --day DAY`: its witness line.
    pub async fn seal(&self, day: &str) -> String {
        let out = self.run(true, &["seal", "--day", day]).await;
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let line = stdout(&out);
        let line = line.trim_end();
        assert!(
            line.starts_with(&format!("{day} ")) && line.len() == 11 + 64 && !line.contains('\n'),
            "{line:?}"
        );
        line.to_string()
    }

    /// `tvault audit --from --to` with more arguments.
    pub async fn audit(&self, from: &str, to: &str, more: &[&str]) -> Output {
        let mut args = vec!["audit", "--from", from, "--to", to];
        args.extend_from_slice(more);
        self.run(false, &args).await
    }

    /// Write the witness lines to a file in the test's folder.
    pub fn witness_file(&self, lines: &[String]) -> PathBuf {
        let p = self.dir.path().join("witness.txt");
        std::fs::write(&p, lines.join("\n") + "\n").unwrap();
        p
    }
}

/// The Python check script of docs/ on a local copy: exit code and lines.
pub fn python_check(
    vault: &Path,
    from: &str,
    to: &str,
    witness: Option<&Path>,
) -> (Option<i32>, String) {
    let py = tvault_testkit::services::venv_python().unwrap_or_else(|| PathBuf::from("python3"));
    let mut cmd = Command::new(py);
    cmd.arg(repo().join("docs/check_ledger.py"))
        .arg(vault)
        .args([from, to]);
    if let Some(w) = witness {
        cmd.arg(w);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{}",
        stderr(&out)
    );
    (out.status.code(), stdout(&out))
}

/// The ledger findings (`DAY [CONVERSATION]: KIND`) of an output: `tvault
/// audit`'s or the script's, whose line shapes agree; `verify` lines and
/// notes are left out (the script re-hashes objects, it does not look for orphans).
pub fn findings(out: &str) -> BTreeSet<String> {
    const KINDS: [&str; 7] = [
        "not sealed",
        "bad ledger object",
        "chain broken",
        "removed after sealing",
        "changed after sealing",
        "added after sealing",
        "witness mismatch",
    ];
    out.lines()
        .filter_map(|l| {
            let (who, rest) = l.split_once(": ")?;
            let kind = KINDS.iter().find(|k| rest.starts_with(*k))?;
            Some(format!("{who}: {kind}"))
        })
        .collect()
}

/// `tvault audit` and the script give the same exit code and findings; the findings.
pub fn agree(
    audit: &Output,
    vault: &Path,
    from: &str,
    to: &str,
    witness: Option<&Path>,
) -> BTreeSet<String> {
    let (code, script) = python_check(vault, from, to, witness);
    let ours = findings(&stdout(audit));
    assert_eq!(
        audit.status.code(),
        code,
        "exit codes differ:\ntvault audit:\n{}\nscript:\n{script}",
        stdout(audit)
    );
    assert_eq!(
        ours,
        findings(&script),
        "findings differ:\ntvault audit:\n{}\nscript:\n{script}",
        stdout(audit)
    );
    ours
}

/// Archive [`CONVS`] and seal [`DAYS`]: the witness lines.
pub async fn three_sealed_days(l: &Ledgered) -> Vec<String> {
    l.archive(&CONVS).await;
    let mut witness = Vec::new();
    for d in DAYS {
        witness.push(l.seal(d).await);
    }
    witness
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_sealed_days_audit_clean_and_sealing_again_writes_nothing() {
    let l = Ledgered::local().await;
    let witness = three_sealed_days(&l).await;
    let v = l.local_vault();
    let ledger = files_under(&v.join("ledger"));
    assert_eq!(
        ledger,
        ["2026/09/20.json", "2026/09/21.json", "2026/09/22.json"]
    );
    let day3: serde_json::Value =
        serde_json::from_slice(&std::fs::read(v.join("ledger/2026/09/22.json")).unwrap()).unwrap();
    assert_eq!(day3["count"], 3);
    let listed: Vec<&str> = day3["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["conversationId"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["led-c1", "led-c2", "led-c3"]);
    assert_eq!(day3["previous"]["path"], "ledger/2026/09/21.json");
    assert_eq!(
        format!(
            "2026-09-22 {}",
            tvault_core::hash::sha256_hex(
                &std::fs::read(v.join("ledger/2026/09/22.json")).unwrap()
            )
        ),
        witness[2]
    );

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
    let printed = stdout(&out);
    assert!(printed.contains("audited 3 day(s) (2026-09-20 to 2026-09-22): 3 sealed, 3 ledger object(s), 6 generation(s) listed; verified 6 manifest(s) of 6 conversation(s)"), "{printed}");
    assert!(
        printed.contains(&format!(
            "head: ledger/2026/09/22.json {}",
            &witness[2][11..]
        )),
        "{printed}"
    );
    assert!(agree(&out, &v, DAYS[0], DAYS[2], Some(&w)).is_empty());
    // The ledger is part of the vault: verify does not call it an orphan.
    let out = l.run(false, &["verify"]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let report = l.dir.path().join("audit.json");
    let out = l
        .audit(
            DAYS[0],
            DAYS[2],
            &["--json-report", report.to_str().unwrap()],
        )
        .await;
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(report["ok"], true);
    assert_eq!(report["head"]["sha256"], &witness[2][11..]);
    assert_eq!(report["days"].as_array().unwrap().len(), 3);
    assert_eq!(report["days"][2]["listed"], 3);
    assert_eq!(report["verified"]["manifests"], 6);
    assert_eq!(report["problems"].as_array().unwrap().len(), 0);

    // Sealing again: nothing new, the same witness line, no new object.
    assert_eq!(l.seal(DAYS[1]).await, witness[1]);
    assert_eq!(files_under(&v.join("ledger")).len(), 3);

    // A day of the range that was never sealed fails the audit.
    let out = l.audit(DAYS[0], "2026-09-23", &[]).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        agree(&out, &v, DAYS[0], "2026-09-23", None),
        BTreeSet::from(["2026-09-23: not sealed".to_string()])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_removed_after_sealing_is_named_with_its_day() {
    let l = Ledgered::local().await;
    three_sealed_days(&l).await;
    let v = l.local_vault();
    // A test may delete what WORM would keep: the manifest and its marker.
    for f in files_under(&v.join("conversations/led-b1"))
        .iter()
        .filter(|f| f.starts_with("manifest."))
    {
        std::fs::remove_file(v.join("conversations/led-b1").join(f)).unwrap();
    }
    for f in files_under(&v.join("index/2026/09/21")) {
        std::fs::remove_file(v.join("index/2026/09/21").join(f)).unwrap();
    }
    let out = l.audit(DAYS[0], DAYS[2], &[]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains(
            "2026-09-21 led-b1: removed after sealing: manifest conversations/led-b1/manifest."
        ),
        "{}",
        stdout(&out)
    );
    let found = agree(&out, &v, DAYS[0], DAYS[2], None);
    assert_eq!(
        found,
        BTreeSet::from(["2026-09-21 led-b1: removed after sealing".to_string()])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_whose_bytes_were_replaced_is_named() {
    let l = Ledgered::local().await;
    three_sealed_days(&l).await;
    let v = l.local_vault();
    let dir = v.join("conversations/led-c2");
    let manifest = files_under(&dir)
        .into_iter()
        .find(|f| f.starts_with("manifest."))
        .unwrap();
    let bytes = std::fs::read_to_string(dir.join(&manifest)).unwrap();
    std::fs::write(
        dir.join(&manifest),
        bytes.replace("\"archivedAt\": \"2", "\"archivedAt\": \"1"),
    )
    .unwrap();
    let out = l.audit(DAYS[0], DAYS[2], &[]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains(&format!("2026-09-22 led-c2: changed after sealing: manifest conversations/led-c2/{manifest} has sha256 ")), "{}", stdout(&out));
    assert_eq!(
        agree(&out, &v, DAYS[0], DAYS[2], None),
        BTreeSet::from(["2026-09-22 led-c2: changed after sealing".to_string()])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_arrival_is_added_after_sealing_until_a_supplement_lists_it() {
    let l = Ledgered::local().await;
    let witness = three_sealed_days(&l).await;
    let v = l.local_vault();
    // A conversation of a sealed day archived after it was sealed.
    l.archive(&[("led-a3", "2026-09-20")]).await;
    let out = l.audit(DAYS[0], DAYS[2], &[]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("2026-09-20 led-a3: added after sealing: generation "),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        agree(&out, &v, DAYS[0], DAYS[2], None),
        BTreeSet::from(["2026-09-20 led-a3: added after sealing".to_string()])
    );

    // Sealing the day again writes a supplement; the witness line is still the main object's.
    assert_eq!(l.seal(DAYS[0]).await, witness[0]);
    let sup: serde_json::Value =
        serde_json::from_slice(&std::fs::read(v.join("ledger/2026/09/20.1.json")).unwrap())
            .unwrap();
    assert_eq!(
        (sup["sequence"].as_u64(), sup["count"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(sup["entries"][0]["conversationId"], "led-a3");
    assert_eq!(sup["previous"]["path"], "ledger/2026/09/20.json");
    let w = l.witness_file(&witness);
    let out = l
        .audit(DAYS[0], DAYS[2], &["--witness", w.to_str().unwrap()])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(agree(&out, &v, DAYS[0], DAYS[2], Some(&w)).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_altered_ledger_object_breaks_the_chain_at_its_day_and_the_witness_sees_it() {
    let l = Ledgered::local().await;
    let witness = three_sealed_days(&l).await;
    let v = l.local_vault();
    // A careful forger: drop a conversation from day 2's ledger and recompute
    // its count and Merkle root, so the object is consistent in itself.
    let path = v.join("ledger/2026/09/21.json");
    let ledger = tvault_core::ledger::Ledger::parse(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(ledger.entries.len(), 1);
    let h = ledger.header;
    let header = tvault_core::ledger::header_for(h.day, 0, h.previous, h.sealed_at, h.tool, &[]);
    let forged: Vec<u8> = tvault_core::ledger::chunks(&header, vec![])
        .flat_map(|b| b.to_vec())
        .collect();
    std::fs::write(&path, forged).unwrap();

    let out = l.audit(DAYS[0], DAYS[2], &[]).await;
    assert_eq!(out.status.code(), Some(1));
    let printed = stdout(&out);
    assert!(
        printed.contains("2026-09-21: chain broken: ledger/2026/09/21.json has sha256 "),
        "{printed}"
    );
    let found = agree(&out, &v, DAYS[0], DAYS[2], None);
    assert!(found.contains("2026-09-21: chain broken"), "{found:?}");
    // (The dropped conversation is now unlisted: both also say so.)
    assert!(
        found.contains("2026-09-21 led-b1: added after sealing"),
        "{found:?}"
    );

    // The witness, kept outside the vault, disagrees too.
    let w = l.witness_file(&witness);
    let out = l
        .audit(DAYS[0], DAYS[2], &["--witness", w.to_str().unwrap()])
        .await;
    assert!(
        stdout(&out).contains("2026-09-21: witness mismatch: ledger/2026/09/21.json has sha256 "),
        "{}",
        stdout(&out)
    );
    assert!(agree(&out, &v, DAYS[0], DAYS[2], Some(&w)).contains("2026-09-21: witness mismatch"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_sealed_late_shows_in_the_chain_and_audits_clean() {
    let l = Ledgered::local().await;
    l.archive(&CONVS).await;
    let v = l.local_vault();
    let first = l.seal(DAYS[0]).await;
    let third = l.seal(DAYS[2]).await;
    let out = l.audit(DAYS[0], DAYS[2], &[]).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        agree(&out, &v, DAYS[0], DAYS[2], None),
        BTreeSet::from(["2026-09-21: not sealed".to_string()])
    );

    // The recovery: seal the forgotten day late. Day 3 still follows day 1, which shows when.
    let second = l.seal(DAYS[1]).await;
    let out = l.audit(DAYS[0], DAYS[2], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).contains(
            "note: 2026-09-21: sealed late: ledger/2026/09/22.json follows ledger/2026/09/20.json"
        ),
        "{}",
        stdout(&out)
    );
    assert!(agree(&out, &v, DAYS[0], DAYS[2], None).is_empty());

    // An auditor who trusts day 1 (from an earlier audit) checks from there.
    let root = &first[11..];
    let out = l.audit(DAYS[1], DAYS[2], &["--trusted-root", root]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let out = l
        .audit(DAYS[1], DAYS[2], &["--trusted-root", &"0".repeat(64)])
        .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("chain broken: no ledger object on the chain of 2026-09-21 to 2026-09-22 has the trusted root's sha256"), "{}", stdout(&out));

    // A witness line that differs, and one missing, both fail.
    let mut lines = [first, second, third];
    lines[1] = format!("{} {}", DAYS[1], "ab".repeat(32));
    let w = l.witness_file(&lines[..2]);
    let out = l
        .audit(DAYS[0], DAYS[2], &["--witness", w.to_str().unwrap()])
        .await;
    let found = agree(&out, &v, DAYS[0], DAYS[2], Some(&w));
    assert_eq!(
        found,
        BTreeSet::from([
            "2026-09-21: witness mismatch".to_string(),
            "2026-09-22: witness mismatch".to_string()
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_errors_exit_2_and_nothing_is_sealed_before_its_day_is_over() {
    let l = Ledgered::local().await;
    let today = chrono::Utc::now().date_naive().to_string();
    let out = l.run(true, &["seal", "--day", &today]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("has not ended yet"),
        "{}",
        stderr(&out)
    );
    assert!(!l.local_vault().join("ledger").exists());
    let out = l.run(true, &["seal", "--day", "2026-02-30"]).await;
    assert_eq!(out.status.code(), Some(2));
    let out = l.audit(DAYS[0], DAYS[2], &["--trusted-root", "xyz"]).await;
    assert_eq!(out.status.code(), Some(2));
    let w = l.witness_file(&["2026-09-20 not-a-hash".to_string()]);
    let out = l
        .audit(DAYS[0], DAYS[2], &["--witness", w.to_str().unwrap()])
        .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("line 1: expected `YYYY-MM-DD <64 lowercase hex digits>`"),
        "{}",
        stderr(&out)
    );
}

/// `tvault worker --seal-at HH:MM`, started after that hour, seals yesterday
/// at once while it consumes the queue, and logs the witness line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_seals_yesterday_at_its_hour() {
    let Some((endpoint, config)) = tvault_testkit::pipeline::moto().await else {
        return;
    };
    let q = tvault_testkit::pipeline::queues(&config, 5, 30).await;
    let yesterday = (chrono::Utc::now() - chrono::Duration::days(1))
        .date_naive()
        .to_string();
    let event = tvault_testkit::panic::transcript_event("seal-at-8d3f4c1e")
        .replace("2026-09-20", &yesterday);
    q.source.send(&event).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    let worker = |extra: &[&str]| {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_tvault"));
        cmd.arg("--vault")
            .arg(&vault)
            .args(["worker", "--queue-url", q.source.url(), "--until-empty"])
            .args(extra)
            .env_clear()
            .env("RUST_LOG", "info");
        for (k, v) in tvault_testkit::pipeline::aws_env(&endpoint) {
            cmd.env(k, v);
        }
        cmd
    };
    // One worker archives the conversation; the next, started after its
    // sealing hour, seals yesterday at once (and finds the queue empty).
    let out = worker(&[]).output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(q.source.depth().await.unwrap(), (0, 0), "the queue drained");
    assert!(!vault.join("ledger").exists(), "no seal without --seal-at");
    let out = worker(&["--seal-at", "00:00"]).output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let ledger = vault.join(format!("ledger/{}.json", yesterday.replace('-', "/")));
    let bytes = std::fs::read(&ledger).unwrap();
    let sealed = tvault_core::ledger::Ledger::read(
        &format!("ledger/{}.json", yesterday.replace('-', "/")),
        &bytes,
    )
    .unwrap();
    assert_eq!(sealed.entries.len(), 1);
    assert_eq!(sealed.entries[0].conversation_id, "seal-at-8d3f4c1e");
    let witness = format!("{yesterday} {}", tvault_core::hash::sha256_hex(&bytes));
    assert!(
        stderr(&out).contains(&witness),
        "the witness line is logged: {}",
        stderr(&out)
    );

    // A time that is not HH:MM is a usage error.
    let out = l_usage(&[
        "worker",
        "--queue-url",
        q.source.url(),
        "--seal-at",
        "25:00",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

fn l_usage(args: &[&str]) -> Output {
    tvault("memory://", args)
}

/// `tvault seal` with `TVAULT_WITNESS_SSM_PREFIX` keeps the witness line in
/// SSM (moto), create-only: sealing again is fine, and a parameter that holds
/// another line for the day is a failure naming it, the line still printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seal_keeps_the_witness_in_ssm_and_never_writes_over_it() {
    let Some((endpoint, config)) = tvault_testkit::pipeline::moto().await else {
        return;
    };
    let mut l = Ledgered::local().await;
    let prefix = format!(
        "/tvault-cli/{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    l.writer = tvault_testkit::pipeline::aws_env(&endpoint)
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .chain([("TVAULT_WITNESS_SSM_PREFIX".to_string(), prefix.clone())])
        .collect();
    l.archive(&CONVS[..2]).await;
    let line = l.seal(DAYS[0]).await;
    let witness = tvault_aws::witness::SsmWitness::new(&config, &prefix).unwrap();
    assert_eq!(witness.lines().await.unwrap(), std::slice::from_ref(&line));
    assert_eq!(
        l.seal(DAYS[0]).await,
        line,
        "sealing again: the same line, kept once"
    );

    // Another line already there for the next day (someone else's): refused.
    let other = format!("{} {}", DAYS[1], "ab".repeat(32));
    witness.record(DAYS[1], &other).await.unwrap();
    let out = l.run(true, &["seal", "--day", DAYS[1]]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("SSM parameter {prefix}/{}", DAYS[1])),
        "{}",
        stderr(&out)
    );
    assert!(
        stdout(&out).starts_with(&format!("{} ", DAYS[1])),
        "the day's line is still printed"
    );
    assert_ne!(stdout(&out).trim(), other);
    assert!(
        witness.lines().await.unwrap().contains(&other),
        "never written over"
    );
}
