//! `tvault reconcile`: prove completeness against Genesys, and `--backfill` the gaps.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use futures::StreamExt;
use serde::Serialize;
use tvault_core::days::DayRange;
use tvault_core::event::{Classified, EventInfo, LifecycleEvent};
use tvault_core::manifest::TriggerKind;
use tvault_core::ports::{ConversationSource, Deadline, SystemClock, Vault};
use tvault_core::reconcile::{self, ExpectedConversation, Holding, Report, Row};
use tvault_core::transcript::{fmt_time, parse_time};
use tvault_core::{Archiver, Outcome};
use tvault_genesys::analytics::{ListError, Listing};

use crate::cli::{EXIT_FAILED, EXIT_OK, EXIT_USAGE, ReconcileArgs};
use crate::progress::Progress;

/// The whole run, as `--json-report` writes it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonReport<'a> {
    schema: &'static str,
    generated_at: String,
    vault: String,
    from: String,
    to: String,
    complete: bool,
    totals: Totals,
    listing: ListingFacts<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    backfill: Option<&'a BackfillFacts>,
    days: &'a [reconcile::DayReport],
    conversations: &'a [Row],
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Totals {
    expected: usize,
    archived: usize,
    missing: usize,
    archived_with_missing_attachments: usize,
    incomplete: usize,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ListingFacts<'a> {
    source: &'static str,
    queries: u32,
    pages: u32,
    /// Rows of the listing that could not be used, each with its reason.
    rejected: &'a [String],
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct BackfillFacts {
    attempted: usize,
    archived: usize,
    already_in_vault: usize,
    failed: Vec<String>,
}

pub async fn run(vault_location: &str, args: ReconcileArgs) -> Result<u8> {
    let range = match DayRange::parse(&args.from, &args.to) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tvault reconcile: {e}");
            return Ok(EXIT_USAGE);
        }
    };
    let settings = crate::settings(vault_location).await?;
    let Some(genesys) = settings.genesys()? else {
        eprintln!(
            "tvault reconcile: needs the Genesys API to list the conversations that ended: set \
             GENESYSCLOUD_OAUTHCLIENT_ID, GENESYSCLOUD_OAUTHCLIENT_SECRET and GENESYSCLOUD_REGION \
             (the OAuth client needs the analytics:conversationDetail:view permission)"
        );
        return Ok(EXIT_USAGE);
    };
    let vault = settings.open_vault()?;

    let listing_progress =
        Progress::new("reconcile: listing conversations in Genesys", "chunks", 0);
    let listing = genesys
        .ended_conversations(range, &|p| {
            listing_progress.set(p.chunks_done as u64, p.chunks_total as u64)
        })
        .await;
    listing_progress.finish();
    let listing = match listing {
        Ok(l) => l,
        Err(e @ (ListError::NotAvailable { .. } | ListError::TooMany { .. })) => {
            eprintln!("tvault reconcile: {e}");
            return Ok(EXIT_USAGE);
        }
        Err(e) => return Err(anyhow::Error::new(e).context("listing conversations in Genesys")),
    };
    for r in &listing.rejected {
        eprintln!("tvault reconcile: listing row not usable: {r}");
    }
    let options = reconcile::Options {
        concurrency: args.concurrency as usize,
        index_days_after: args.index_days_after,
    };
    let mut report = check(vault.as_ref(), range, &listing.conversations, options).await?;

    let mut backfill = None;
    if args.backfill {
        let source: Arc<dyn ConversationSource> = genesys.clone();
        let archiver = Archiver::new(vault.clone(), Some(source), Arc::new(SystemClock));
        let facts = backfill_gaps(&archiver, &report, args.concurrency).await;
        report = check(vault.as_ref(), range, &listing.conversations, options).await?;
        backfill = Some(facts);
    }

    print_report(&report, backfill.as_ref());
    let complete = report.is_complete() && listing.rejected.is_empty();
    if let Some(path) = &args.json_report {
        write_json(
            path,
            vault_location,
            &report,
            &listing,
            backfill.as_ref(),
            complete,
        )?;
    }
    if let Some(path) = &args.csv_report {
        write_csv(path, &report)?;
    }
    let backfill_failed = backfill.as_ref().is_some_and(|b| !b.failed.is_empty());
    Ok(if complete && !backfill_failed {
        EXIT_OK
    } else {
        EXIT_FAILED
    })
}

async fn check(
    vault: &dyn Vault,
    range: DayRange,
    expected: &[ExpectedConversation],
    options: reconcile::Options,
) -> Result<Report> {
    let progress = Progress::new(
        "reconcile: checking the vault",
        "conversations",
        expected.len() as u64,
    );
    let report = reconcile::reconcile(vault, range, expected, options, &|done, total| {
        progress.set(done as u64, total as u64)
    })
    .await
    .context("reading the vault")?;
    progress.finish();
    Ok(report)
}

/// Archive every gap through the same pull path as a live lifecycle event,
/// with `trigger.kind` `backfill`. Write-once makes a re-run safe.
async fn backfill_gaps(archiver: &Archiver, report: &Report, concurrency: u16) -> BackfillFacts {
    let gaps: Vec<&Row> = report.gaps().collect();
    let progress = Progress::new("reconcile: backfilling", "conversations", gaps.len() as u64);
    let mut results = futures::stream::iter(gaps)
        .map(|row| async move {
            let end = row
                .conversation_end
                .as_deref()
                .and_then(|t| parse_time(t).ok());
            let event = Classified::Lifecycle(LifecycleEvent {
                conversation_id: row.conversation_id.clone(),
                media_type: None,
                info: EventInfo {
                    id: None,
                    topic: None,
                    source: Some("tvault reconcile --backfill".into()),
                    time: end,
                    raw: backfill_source(row),
                },
            });
            let outcome = archiver
                .archive(event, Some(TriggerKind::Backfill), Deadline::NONE)
                .await;
            (row, outcome)
        })
        .buffer_unordered(concurrency.max(1) as usize);
    let mut facts = BackfillFacts::default();
    while let Some((row, outcome)) = results.next().await {
        facts.attempted += 1;
        match outcome {
            Ok(Outcome::Archived(_)) => facts.archived += 1,
            Ok(Outcome::AlreadyInVault { .. }) => facts.already_in_vault += 1,
            Ok(Outcome::Skipped { reason, .. }) => facts
                .failed
                .push(format!("{}: skipped: {reason}", row.conversation_id)),
            Err(e) => facts.failed.push(format!("{}: {e}", row.conversation_id)),
        }
        progress.inc();
    }
    progress.finish();
    facts.failed.sort();
    for f in &facts.failed {
        eprintln!("tvault reconcile: backfill failed: {f}");
    }
    facts
}

/// The "event" a backfilled generation keeps under `source/`: what asked for
/// it. Deterministic, so a re-run after an interruption writes the same bytes.
fn backfill_source(row: &Row) -> String {
    serde_json::json!({
        "transcriptVaultBackfill": {
            "conversationId": row.conversation_id,
            "conversationStart": row.conversation_start,
            "conversationEnd": row.conversation_end,
            "listedBy": "POST /api/v2/analytics/conversations/details/query or .../details/jobs",
            "statusBefore": row.holding.status(),
        }
    })
    .to_string()
}

fn print_report(report: &Report, backfill: Option<&BackfillFacts>) {
    println!(
        "{:<10}  {:>8}  {:>8}  {:>7}  {:>19}  {:>10}",
        "day", "expected", "archived", "missing", "missing-attachments", "incomplete"
    );
    for d in &report.days {
        println!(
            "{:<10}  {:>8}  {:>8}  {:>7}  {:>19}  {:>10}",
            d.day.to_string(),
            d.expected,
            d.archived,
            d.missing,
            d.archived_with_missing_attachments,
            d.incomplete
        );
    }
    println!(
        "{:<10}  {:>8}  {:>8}  {:>7}  {:>19}  {:>10}",
        "total",
        report.expected(),
        report.archived(),
        report.missing(),
        report.archived_with_missing_attachments(),
        report.incomplete()
    );
    for row in report.gaps() {
        match &row.holding {
            Holding::ArchivedWithMissingAttachments {
                missing_attachments,
                ..
            } => {
                let reasons: Vec<String> = missing_attachments
                    .iter()
                    .map(|m| format!("{}: {}", m.attachment_id, m.reason))
                    .collect();
                println!(
                    "missing-attachments {} {} ({})",
                    row.day,
                    row.conversation_id,
                    reasons.join("; ")
                );
            }
            Holding::Unreadable { reason } => {
                println!(
                    "missing {} {} (unreadable manifest: {reason})",
                    row.day, row.conversation_id
                )
            }
            Holding::Incomplete { generation } => println!(
                "incomplete {} {} (generation {generation} has no conversation end: archived while the conversation went on)",
                row.day, row.conversation_id
            ),
            _ => println!("missing {} {}", row.day, row.conversation_id),
        }
    }
    if let Some(b) = backfill {
        println!(
            "backfill: attempted {}, archived {}, already in vault {}, failed {}",
            b.attempted,
            b.archived,
            b.already_in_vault,
            b.failed.len()
        );
    }
}

fn write_json(
    path: &Path,
    vault_location: &str,
    report: &Report,
    listing: &Listing,
    backfill: Option<&BackfillFacts>,
    complete: bool,
) -> Result<()> {
    let doc = JsonReport {
        schema: "transcript-vault/reconcile-report/v1",
        generated_at: fmt_time(chrono::Utc::now()),
        // A SAS token in a URL would be a secret: never write a query string.
        vault: tvault_core::manifest::strip_query(vault_location),
        from: report.from.to_string(),
        to: report.to.to_string(),
        complete,
        totals: Totals {
            expected: report.expected(),
            archived: report.archived(),
            missing: report.missing(),
            archived_with_missing_attachments: report.archived_with_missing_attachments(),
            incomplete: report.incomplete(),
        },
        listing: ListingFacts {
            source: "Genesys Cloud analytics conversation details",
            queries: listing.queries,
            pages: listing.pages,
            rejected: &listing.rejected,
        },
        backfill,
        days: &report.days,
        conversations: &report.conversations,
    };
    let mut bytes = serde_json::to_vec_pretty(&doc)?;
    bytes.push(b'\n');
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// One row per expected conversation, so a spreadsheet can pivot by day and status.
fn write_csv(path: &Path, report: &Report) -> Result<()> {
    let mut w =
        csv::Writer::from_path(path).with_context(|| format!("writing {}", path.display()))?;
    w.write_record([
        "day",
        "conversation_id",
        "status",
        "generation",
        "missing_attachments",
        "conversation_start",
        "conversation_end",
        "detail",
    ])?;
    for r in &report.conversations {
        let (generation, missing, detail) = match &r.holding {
            Holding::Archived { generation } => (generation.clone(), 0, String::new()),
            Holding::ArchivedWithMissingAttachments {
                generation,
                missing_attachments,
            } => (
                generation.clone(),
                missing_attachments.len(),
                missing_attachments
                    .iter()
                    .map(|m| format!("{}: {}", m.attachment_id, m.reason))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            Holding::Incomplete { generation } => (
                generation.clone(),
                0,
                "no generation has the conversation's end".to_string(),
            ),
            Holding::Missing => (String::new(), 0, String::new()),
            Holding::Unreadable { reason } => (String::new(), 0, reason.clone()),
        };
        w.write_record([
            r.day.to_string(),
            r.conversation_id.to_string(),
            r.holding.status().to_string(),
            generation,
            missing.to_string(),
            r.conversation_start.clone(),
            r.conversation_end.clone().unwrap_or_default(),
            detail,
        ])?;
    }
    w.flush()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
