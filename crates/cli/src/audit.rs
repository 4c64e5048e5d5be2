//! `tvault audit`: sealed days against the vault. The ledger's checks are
//! `tvault_core::ledger::audit`; the listed conversations' objects are
//! checked by `verify`'s own code ([`crate::verify::examine`]).

use std::path::Path;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use serde::Serialize;
use tvault_core::days::DayRange;
use tvault_core::keys;
use tvault_core::ledger::audit::{self, DaySummary, Finding, LedgerAudit, Options};
use tvault_core::ledger::{Link, is_sha256, parse_witness};
use tvault_core::transcript::fmt_time;

use crate::cli::{AuditArgs, EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::progress::Progress;
use crate::term;
use crate::verify;
use tvault_router::seal::TOOL;

/// One problem of the report: a ledger finding, or a `verify` line.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Problem {
    day: Option<NaiveDate>,
    conversation_id: Option<String>,
    kind: String,
    detail: String,
}

impl From<&Finding> for Problem {
    fn from(f: &Finding) -> Self {
        Problem {
            day: f.day,
            conversation_id: f.conversation_id.clone(),
            kind: f.kind.text().to_string(),
            detail: f.detail.clone(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonReport<'a> {
    schema: &'static str,
    tool: &'static str,
    generated_at: String,
    vault: String,
    from: NaiveDate,
    to: NaiveDate,
    trusted_root: Option<&'a str>,
    witness: Option<String>,
    ok: bool,
    head: Option<&'a Link>,
    days: &'a [DaySummary],
    problems: &'a [Problem],
    notes: &'a [String],
    verified: Verified,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Verified {
    manifests: usize,
    conversations: usize,
    objects: usize,
    unlisted_provenance: usize,
}

pub async fn run(vault_location: &str, args: AuditArgs) -> Result<u8> {
    let usage = |msg: String| {
        eprintln!("tvault audit: {}", term::line(&msg));
        Ok(EXIT_USAGE)
    };
    let range = match DayRange::parse(&args.from, &args.to) {
        Ok(r) => r,
        Err(e) => return usage(e.to_string()),
    };
    if let Some(root) = &args.trusted_root
        && !is_sha256(root)
    {
        return usage(format!(
            "--trusted-root {root:?} is not a SHA-256 (64 lowercase hex digits)"
        ));
    }
    let witness = match &args.witness {
        None => None,
        Some(path) => {
            let text = match std::fs::read_to_string(path) {
                Ok(t) => t,
                Err(e) => return usage(format!("cannot read --witness {}: {e}", path.display())),
            };
            match parse_witness(&text) {
                Ok(w) => Some(w),
                Err(e) => return usage(format!("--witness {}: {e}", path.display())),
            }
        }
    };
    let concurrency = args.concurrency as usize;
    let vault = crate::settings(vault_location)
        .await?
        .open_existing_vault()?;
    let vault = vault.as_ref();
    let options = Options {
        range,
        trusted_root: args.trusted_root.clone(),
        witness,
        concurrency,
    };
    let progress = Progress::new("audit: reading the ledger", "days", range.len_days());
    let ledger = audit::audit(vault, &options)
        .await
        .context("auditing the ledger")?;
    progress.set(range.len_days(), range.len_days());
    progress.finish();

    // The listed and indexed conversations' objects, as `verify --from --to`
    // checks them.
    let verify::Listed {
        mut names,
        problems: unlistable,
        ..
    } = verify::conversation_objects(
        vault,
        ledger.conversations.keys().map(String::as_str),
        concurrency,
    )
    .await;
    names.extend(ledger.index_names.iter().cloned());
    let found = verify::examine(vault, &names, false, concurrency).await;

    let mut problems: Vec<Problem> = ledger.findings.iter().map(Problem::from).collect();
    for line in unlistable.iter().chain(&found.problems) {
        let (day, conversation_id) = attribute(line, &ledger);
        problems.push(Problem {
            day,
            conversation_id,
            kind: "verify".into(),
            detail: line.clone(),
        });
    }
    problems.sort_by(|a, b| {
        (a.day, &a.conversation_id, &a.kind, &a.detail).cmp(&(
            b.day,
            &b.conversation_id,
            &b.kind,
            &b.detail,
        ))
    });

    // Names and details come from whoever could write: escaped for the terminal.
    for note in &ledger.notes {
        println!("note: {}", term::line(note));
    }
    for p in &problems {
        println!("{}", term::line(&human(p)));
    }
    if let Some(head) = &ledger.head {
        println!("head: {} {}", head.path, head.sha256);
    }
    let sealed_days = ledger.days.iter().filter(|d| !d.objects.is_empty()).count();
    let objects: usize = ledger.days.iter().map(|d| d.objects.len()).sum();
    let listed: usize = ledger.days.iter().map(|d| d.listed).sum();
    println!(
        "audited {} day(s) ({range}): {sealed_days} sealed, {objects} ledger object(s), {listed} generation(s) listed; verified {} manifest(s) of {} conversation(s), {} object(s): {} problem(s)",
        range.len_days(),
        found.manifests,
        found.conversations,
        found.objects,
        problems.len()
    );
    let ok = problems.is_empty();
    if let Some(path) = &args.json_report {
        let doc = JsonReport {
            schema: "transcript-vault/audit-report/v1",
            tool: TOOL,
            generated_at: fmt_time(chrono::Utc::now()),
            // A SAS token in a URL would be a secret: never write a query
            // string (a URL with a password was refused when the vault opened).
            vault: tvault_core::manifest::strip_query(vault_location),
            from: range.from(),
            to: range.to(),
            trusted_root: args.trusted_root.as_deref(),
            witness: args.witness.as_ref().map(|p| p.display().to_string()),
            ok,
            head: ledger.head.as_ref(),
            days: &ledger.days,
            problems: &problems,
            notes: &ledger.notes,
            verified: Verified {
                manifests: found.manifests,
                conversations: found.conversations,
                objects: found.objects,
                unlisted_provenance: found.provenance.len(),
            },
        };
        write_json(path, &doc)?;
    }
    Ok(if ok { EXIT_OK } else { EXIT_FAILED })
}

fn human(p: &Problem) -> String {
    let who = match (&p.day, &p.conversation_id) {
        (Some(d), Some(c)) => format!("{d} {c}: "),
        (Some(d), None) => format!("{d}: "),
        (None, Some(c)) => format!("{c}: "),
        (None, None) => String::new(),
    };
    format!("{who}{}: {}", p.kind, p.detail)
}

/// The day and conversation a `verify` line is about, from the object name
/// it names (`KIND NAME[: reason]`).
fn attribute(line: &str, ledger: &LedgerAudit) -> (Option<NaiveDate>, Option<String>) {
    let name = line.split_once(' ').map_or(line, |(_, rest)| rest);
    let conv = if let Some(rest) = name.strip_prefix(keys::CONVERSATIONS) {
        rest.split_once('/').map(|(c, _)| c)
    } else {
        name.strip_prefix(keys::INDEX)
            .and_then(|rest| rest.splitn(4, '/').nth(3))
            .and_then(|file| file.rsplit_once('.'))
            .map(|(c, _)| c)
    };
    match conv.and_then(|c| ledger.conversations.get_key_value(c)) {
        Some((c, day)) => (Some(*day), Some(c.clone())),
        None => (None, conv.map(str::to_string)),
    }
}

fn write_json(path: &Path, doc: &JsonReport<'_>) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(doc)?;
    bytes.push(b'\n');
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}
