//! `tvault audit`: sealed days against the vault. The ledger's checks are
//! `tvault_core::ledger::audit`; the listed conversations' objects are
//! checked by `verify`'s own code ([`crate::verify::examine`]).

use std::collections::{HashMap, HashSet};
use std::path::Path;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use futures::StreamExt;
use serde::Serialize;
use tvault_core::days::DayRange;
use tvault_core::ledger::audit::{self, DayNames, DaySummary, Finding, Options};
use tvault_core::ledger::{Link, is_sha256, parse_witness};
use tvault_core::ports::Vault;
use tvault_core::transcript::fmt_time;
use tvault_core::{ConversationId, keys};

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

#[derive(Debug, Default, Serialize)]
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
    // A day at a time, in order: the day's ledger checks, then its listed
    // and indexed conversations' objects, as `verify --from --to` checks
    // them. Only problems and a fixed-size key per verified conversation
    // outlive a day.
    let progress = Progress::new("audit", "days", range.len_days());
    let mut auditor = audit::Auditor::start(vault, &options)
        .await
        .context("auditing the ledger")?;
    let mut verified = Verified::default();
    let mut seen: HashSet<u128> = HashSet::new();
    let mut problems: Vec<Problem> = Vec::new();
    while let Some(day) = auditor.next_day().await.context("auditing the ledger")? {
        let lines = verify_day(vault, &day, &mut seen, &mut verified, concurrency).await;
        for line in lines {
            let (d, conversation_id) = attribute(&line, &day);
            problems.push(Problem {
                day: d,
                conversation_id,
                kind: "verify".into(),
                detail: line,
            });
        }
        progress.inc();
    }
    let ledger = auditor.finish().await.context("auditing the ledger")?;
    progress.finish();

    problems.extend(ledger.findings.iter().map(Problem::from));
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
        verified.manifests,
        verified.conversations,
        verified.objects,
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
            verified,
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

/// `verify`'s checks of one day's conversations (those not verified on an
/// earlier day of the range: `seen`) and of its index names; its problem
/// lines. A conversation on several days is verified once, on the first,
/// with all its generations; a later day's marker of it is checked against
/// its manifest's presence, as `verify` would. The day's conversations are
/// verified [`VERIFY_BATCH`] at a time, each with its own index markers.
async fn verify_day(
    vault: &dyn Vault,
    day: &DayNames,
    seen: &mut HashSet<u128>,
    verified: &mut Verified,
    concurrency: usize,
) -> Vec<String> {
    let mut fresh: Vec<&str> = Vec::new();
    let mut earlier: HashSet<&str> = HashSet::new();
    for c in &day.conversations {
        if seen.insert(conversation_key(c)) {
            fresh.push(c);
        } else {
            earlier.insert(c);
        }
    }
    // The day's index names: of a conversation verified earlier (checked
    // against its manifest's presence below), of one verified now (with its
    // batch), or neither (strays, unsafe ids: with the first batch).
    let batch_of: HashMap<&str, usize> = fresh
        .iter()
        .enumerate()
        .map(|(i, c)| (*c, i / VERIFY_BATCH))
        .collect();
    let batches = fresh.len().div_ceil(VERIFY_BATCH).max(1);
    let mut index: Vec<Vec<&String>> = vec![Vec::new(); batches];
    let mut again: Vec<(&str, String)> = Vec::new();
    for path in &day.index_names {
        let parsed = keys::parse_index(path);
        let earlier_id = parsed
            .filter(|(_, conv, _)| earlier.contains(conv))
            .and_then(|(_, conv, g)| Some((ConversationId::new(conv).ok()?, g)));
        if let Some((id, g)) = earlier_id {
            again.push((path, keys::manifest(&id, g)));
            continue;
        }
        let batch = parsed.and_then(|(_, conv, _)| batch_of.get(conv).copied());
        index[batch.unwrap_or(0)].push(path);
    }
    drop(batch_of);
    let mut lines = Vec::new();
    // One batch at least, for a day with strays and no conversation.
    let convs = fresh.chunks(VERIFY_BATCH).chain(std::iter::repeat(&[][..]));
    for (convs, index) in convs.zip(index) {
        let verify::Listed {
            mut names,
            problems,
            ..
        } = verify::conversation_objects(vault, convs.iter().copied(), concurrency).await;
        lines.extend(problems);
        names.extend(index.into_iter().cloned());
        let found = verify::examine(vault, &names, false, concurrency).await;
        drop(names);
        verified.manifests += found.manifests;
        verified.conversations += found.conversations;
        verified.objects += found.objects;
        verified.unlisted_provenance += found.provenance.len();
        lines.extend(found.problems);
    }
    let mut checks = futures::stream::iter(again)
        .map(|(path, manifest)| async move { (path, vault.exists(&manifest).await) })
        .buffer_unordered(concurrency.max(1));
    while let Some((path, found)) = checks.next().await {
        match found {
            Ok(true) => {}
            Ok(false) => lines.push(format!("orphaned {path}: no manifest for this generation")),
            Err(e) => lines.push(format!("unreadable {path}: {e}")),
        }
    }
    lines
}

/// Conversations verified at once: `verify` holds their manifests and
/// object names, so a day of 50,000 is checked in bounded memory too.
const VERIFY_BATCH: usize = 1000;

/// A fixed-size key for a conversation id: the first 128 bits of its
/// SHA-256 (a collision between two ids of one range is not a concern at
/// 2^-128 a pair), so the set of verified conversations stays ~16 bytes each.
fn conversation_key(id: &str) -> u128 {
    let hex = tvault_core::hash::sha256_hex(id.as_bytes());
    u128::from_str_radix(&hex[..32], 16).unwrap_or_default()
}

/// The day and conversation a `verify` line of `day` is about, from the
/// object name it names (`KIND NAME[: reason]`).
fn attribute(line: &str, day: &DayNames) -> (Option<NaiveDate>, Option<String>) {
    let name = line.split_once(' ').map_or(line, |(_, rest)| rest);
    let conv = if let Some(rest) = name.strip_prefix(keys::CONVERSATIONS) {
        rest.split_once('/').map(|(c, _)| c)
    } else {
        name.strip_prefix(keys::INDEX)
            .and_then(|rest| rest.splitn(4, '/').nth(3))
            .and_then(|file| file.rsplit_once('.'))
            .map(|(c, _)| c)
    };
    match conv.and_then(|c| day.conversations.get(c)) {
        Some(c) => (Some(day.day), Some(c.clone())),
        None => (None, conv.map(str::to_string)),
    }
}

fn write_json(path: &Path, doc: &JsonReport<'_>) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(doc)?;
    bytes.push(b'\n');
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}
