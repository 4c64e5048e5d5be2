//! `tvault list`: archived conversations from the date index.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use futures::StreamExt;
use serde::Serialize;
use tvault_core::days::DayRange;
use tvault_core::manifest::Manifest;
use tvault_core::read::{self, ReadError};
use tvault_core::{ConversationId, keys};

use crate::cli::{EXIT_FAILED, EXIT_OK, EXIT_USAGE, ListArgs};
use crate::progress::Progress;
use crate::term;

/// One line of `--json` output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Line {
    day: NaiveDate,
    conversation_id: String,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    generation: Option<String>,
    generations: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    archived_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trigger: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    media_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_time: Option<String>,
    messages: usize,
    attachments: usize,
    missing_attachments: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<String>,
    /// Unreadable manifests passed over for this line (reported on stderr).
    #[serde(skip)]
    skipped: Vec<read::Unreadable>,
}

pub async fn run(vault_location: &str, args: ListArgs) -> Result<u8> {
    let range = match DayRange::parse(&args.from, &args.to) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tvault list: {e}");
            return Ok(EXIT_USAGE);
        }
    };
    let vault = crate::settings(vault_location)
        .await?
        .open_existing_vault()?;
    let concurrency = args.concurrency as usize;
    let (markers, strays) = read::index_days(vault.as_ref(), range.days(), concurrency)
        .await
        .context("reading the date index")?;
    // One line per conversation and day, with all the generations indexed there.
    let mut entries: BTreeMap<(NaiveDate, String), Vec<String>> = BTreeMap::new();
    for m in markers {
        entries
            .entry((m.day, m.conversation))
            .or_default()
            .push(m.generation);
    }

    let progress = Progress::new(
        "list: reading manifests",
        "conversations",
        entries.len() as u64,
    );
    let vault_ref = vault.as_ref();
    let progress = &progress;
    let mut lines: Vec<Line> = futures::stream::iter(entries)
        .map(|((day, conv), generations)| async move {
            let line = describe(vault_ref, day, &conv, &generations).await;
            progress.inc();
            line
        })
        .buffered(concurrency.max(1))
        .collect()
        .await;
    progress.finish();
    lines.sort_by(|a, b| (a.day, &a.conversation_id).cmp(&(b.day, &b.conversation_id)));

    let mut out = std::io::stdout().lock();
    let mut problems = 0usize;
    for line in &lines {
        problems += usize::from(line.problem.is_some());
        for bad in &line.skipped {
            eprintln!("tvault list: skipped {}", term::line(&bad.to_string()));
        }
        if args.json {
            writeln!(out, "{}", serde_json::to_string(line)?)?;
        } else {
            writeln!(out, "{}", human(line))?;
        }
    }
    for s in &strays {
        eprintln!(
            "tvault list: {}: not a date-index marker name",
            term::line(s)
        );
    }
    eprintln!(
        "listed {} conversation(s) indexed on {} day(s) ({range}){}",
        lines.len(),
        range.len_days(),
        if problems > 0 {
            format!(", {problems} with a problem")
        } else {
            String::new()
        }
    );
    Ok(if problems == 0 && strays.is_empty() {
        EXIT_OK
    } else {
        EXIT_FAILED
    })
}

async fn describe(
    vault: &dyn tvault_core::ports::Vault,
    day: NaiveDate,
    conv: &str,
    generations: &[String],
) -> Line {
    let mut line = Line {
        day,
        conversation_id: conv.to_string(),
        status: "archived",
        generation: None,
        generations: generations.len(),
        archived_at: None,
        trigger: None,
        media_type: None,
        start_time: None,
        end_time: None,
        messages: 0,
        attachments: 0,
        missing_attachments: 0,
        problem: None,
        skipped: Vec::new(),
    };
    // Unreadable manifests are passed over (and named): the readable
    // generations still describe the conversation.
    let found: Result<read::Generations, ReadError> = match ConversationId::new(conv) {
        Ok(id) => read::read_generations(vault, &id, generations).await,
        Err(e) => Err(ReadError::Corrupt {
            path: format!("{}.../{conv}", keys::INDEX),
            reason: e.to_string(),
        }),
    };
    let latest: Result<Option<Manifest>, ReadError> = match found {
        Ok(g) => {
            let (latest, skipped) = g.into_latest();
            line.skipped = skipped;
            latest.map_err(ReadError::from)
        }
        Err(e) => Err(e),
    };
    match latest {
        Ok(Some(m)) => {
            line.status = if m.missing.is_empty() {
                "archived"
            } else {
                "archived-with-missing-attachments"
            };
            line.generation = Some(m.generation.clone());
            line.archived_at = Some(m.archived_at.clone());
            line.trigger = serde_json::to_value(m.trigger.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string));
            line.media_type = m.conversation.media_type.clone();
            line.start_time = m.conversation.start_time.clone();
            line.end_time = m.conversation.end_time.clone();
            line.messages = m.conversation.message_count;
            line.attachments = m.conversation.attachment_count;
            line.missing_attachments = m.missing.len();
        }
        Ok(None) => {
            line.status = "not-committed";
            line.problem = Some(
                "index marker without its manifest: an archive was interrupted before it committed"
                    .into(),
            );
        }
        Err(e) => {
            line.status = "unreadable";
            line.problem = Some(e.to_string());
        }
    }
    line
}

/// One line for a person: every text from the vault escaped ([`term`]), so
/// a manifest or an index name cannot drive the terminal.
fn human(l: &Line) -> String {
    let or_dash = |o: &Option<String>| o.as_deref().map_or_else(|| "-".into(), term::line);
    match &l.problem {
        Some(p) => format!(
            "{}  {}  {}: {}",
            l.day,
            term::line(&l.conversation_id),
            l.status.to_uppercase(),
            term::line(p)
        ),
        None => format!(
            "{}  {}  {}  {} message(s), {} attachment(s){}  ended {}  gen {} archived {} ({})",
            l.day,
            term::line(&l.conversation_id),
            or_dash(&l.media_type),
            l.messages,
            l.attachments,
            if l.missing_attachments > 0 {
                format!(" ({} NOT IN VAULT)", l.missing_attachments)
            } else {
                String::new()
            },
            or_dash(&l.end_time),
            or_dash(&l.generation),
            or_dash(&l.archived_at),
            or_dash(&l.trigger),
        ),
    }
}
