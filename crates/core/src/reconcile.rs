//! Reconciliation: what the contact centre says happened, against what the
//! vault holds, per UTC day.
//!
//! The expected list comes from Genesys's analytics API (which files a
//! conversation under the UTC day it started); the vault side comes from the
//! date index (which files it under the day it ended) and the manifests. So
//! the index is read from the first day of the range to a few days past the
//! last, and a conversation found on none of those days is looked up by its
//! own prefix before it is called missing.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Days, NaiveDate, Utc};
use futures::StreamExt;
use serde::Serialize;

use crate::days::DayRange;
use crate::id::ConversationId;
use crate::manifest::{Manifest, Missing};
use crate::ports::Vault;
use crate::read::{self, ReadError};

/// A conversation the contact centre says ended: one row of Genesys's
/// analytics conversation-details listing, after de-duplication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedConversation {
    pub conversation_id: ConversationId,
    /// `conversationStart`. Genesys files conversations under the UTC day
    /// they started, so the reconcile report does too.
    pub start: DateTime<Utc>,
    /// `conversationEnd`.
    pub end: Option<DateTime<Utc>>,
}

impl ExpectedConversation {
    /// The UTC day it is reported under (its start).
    pub fn day(&self) -> NaiveDate {
        self.start.date_naive()
    }
}

/// What the vault holds of one expected conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "status")]
pub enum Holding {
    /// The latest generation lists every attachment.
    Archived { generation: String },
    /// The latest generation lists attachments it could not fetch.
    #[serde(rename_all = "camelCase")]
    ArchivedWithMissingAttachments {
        generation: String,
        missing_attachments: Vec<Missing>,
    },
    /// Committed generations exist, but none has a conversation end: each
    /// was archived while the conversation was still going on (before that
    /// was refused), so the final transcript is not in the vault.
    Incomplete { generation: String },
    /// No committed generation.
    Missing,
    /// A manifest exists but cannot be read: treated as not archived.
    Unreadable { reason: String },
}

impl Holding {
    fn of(latest: Option<Manifest>) -> Holding {
        match latest {
            None => Holding::Missing,
            Some(m) if m.missing.is_empty() => Holding::Archived {
                generation: m.generation,
            },
            Some(m) => Holding::ArchivedWithMissingAttachments {
                generation: m.generation,
                missing_attachments: m.missing,
            },
        }
    }

    /// Anything short of a complete archive.
    pub fn is_gap(&self) -> bool {
        !matches!(self, Holding::Archived { .. })
    }

    /// The status word used in reports.
    pub fn status(&self) -> &'static str {
        match self {
            Holding::Archived { .. } => "archived",
            Holding::ArchivedWithMissingAttachments { .. } => "archived-with-missing-attachments",
            Holding::Incomplete { .. } => "incomplete",
            Holding::Missing => "missing",
            Holding::Unreadable { .. } => "unreadable",
        }
    }
}

/// One expected conversation and what the vault holds of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    pub day: NaiveDate,
    pub conversation_id: ConversationId,
    pub conversation_start: String,
    pub conversation_end: Option<String>,
    #[serde(flatten)]
    pub holding: Holding,
}

/// The figures of one UTC day (of conversation start).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DayReport {
    pub day: NaiveDate,
    pub expected: usize,
    /// With a committed generation that has the conversation's end (with
    /// every attachment or not).
    pub archived: usize,
    /// Not in the vault (or only an unreadable manifest).
    pub missing: usize,
    pub archived_with_missing_attachments: usize,
    /// Only generations without a conversation end.
    pub incomplete: usize,
    pub missing_ids: Vec<ConversationId>,
    pub missing_attachment_ids: Vec<ConversationId>,
    pub incomplete_ids: Vec<ConversationId>,
}

/// The whole comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub days: Vec<DayReport>,
    /// Every expected conversation, by day then id.
    pub conversations: Vec<Row>,
}

impl Report {
    pub fn expected(&self) -> usize {
        self.days.iter().map(|d| d.expected).sum()
    }
    pub fn archived(&self) -> usize {
        self.days.iter().map(|d| d.archived).sum()
    }
    pub fn missing(&self) -> usize {
        self.days.iter().map(|d| d.missing).sum()
    }
    pub fn archived_with_missing_attachments(&self) -> usize {
        self.days
            .iter()
            .map(|d| d.archived_with_missing_attachments)
            .sum()
    }
    pub fn incomplete(&self) -> usize {
        self.days.iter().map(|d| d.incomplete).sum()
    }
    /// Nothing missing: every expected conversation has a complete generation.
    pub fn is_complete(&self) -> bool {
        self.conversations.iter().all(|r| !r.holding.is_gap())
    }
    /// The rows that are not a complete archive.
    pub fn gaps(&self) -> impl Iterator<Item = &Row> {
        self.conversations.iter().filter(|r| r.holding.is_gap())
    }
}

/// How hard to read the vault.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Reads in flight at once.
    pub concurrency: usize,
    /// Index days read past the range's last day: conversations end after
    /// they start, and the index files them under their end.
    pub index_days_after: u64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            concurrency: 16,
            index_days_after: 3,
        }
    }
}

/// Compare `expected` (rows whose start day is outside `range` are ignored)
/// with the vault. `progress(done, total)` is called as conversations are
/// checked.
pub async fn reconcile(
    vault: &dyn Vault,
    range: DayRange,
    expected: &[ExpectedConversation],
    options: Options,
    progress: &(dyn Fn(usize, usize) + Send + Sync),
) -> Result<Report, ReadError> {
    let expected: Vec<&ExpectedConversation> = expected
        .iter()
        .filter(|e| range.contains(e.day()))
        .collect();
    let last_index_day = range
        .to()
        .checked_add_days(Days::new(options.index_days_after))
        .unwrap_or(range.to());
    let index_range = DayRange::new(range.from(), last_index_day).unwrap_or(range);
    let (markers, _) = read::index_days(vault, index_range.days(), options.concurrency).await?;
    let mut indexed: HashMap<String, Vec<String>> = HashMap::new();
    for m in markers {
        indexed
            .entry(m.conversation)
            .or_default()
            .push(m.generation);
    }

    let total = expected.len();
    let indexed = &indexed;
    let mut checks = futures::stream::iter(expected)
        .map(|e| async move {
            let holding = holding(
                vault,
                &e.conversation_id,
                indexed.get(e.conversation_id.as_str()),
            )
            .await;
            holding.map(|h| (e, h))
        })
        .buffer_unordered(options.concurrency.max(1));
    let mut rows = Vec::with_capacity(total);
    while let Some(checked) = checks.next().await {
        let (e, holding) = checked?;
        rows.push(Row {
            day: e.day(),
            conversation_id: e.conversation_id.clone(),
            conversation_start: crate::transcript::fmt_time(e.start),
            conversation_end: e.end.map(crate::transcript::fmt_time),
            holding,
        });
        progress(rows.len(), total);
    }
    rows.sort_by(|a, b| (a.day, &a.conversation_id).cmp(&(b.day, &b.conversation_id)));
    rows.dedup_by(|a, b| a.conversation_id == b.conversation_id);

    let mut days: BTreeMap<NaiveDate, DayReport> = range
        .days()
        .map(|day| {
            (
                day,
                DayReport {
                    day,
                    expected: 0,
                    archived: 0,
                    missing: 0,
                    archived_with_missing_attachments: 0,
                    incomplete: 0,
                    missing_ids: Vec::new(),
                    missing_attachment_ids: Vec::new(),
                    incomplete_ids: Vec::new(),
                },
            )
        })
        .collect();
    for r in &rows {
        let Some(d) = days.get_mut(&r.day) else {
            continue;
        };
        d.expected += 1;
        match &r.holding {
            Holding::Archived { .. } => d.archived += 1,
            Holding::ArchivedWithMissingAttachments { .. } => {
                d.archived += 1;
                d.archived_with_missing_attachments += 1;
                d.missing_attachment_ids.push(r.conversation_id.clone());
            }
            Holding::Incomplete { .. } => {
                d.incomplete += 1;
                d.incomplete_ids.push(r.conversation_id.clone());
            }
            Holding::Missing | Holding::Unreadable { .. } => {
                d.missing += 1;
                d.missing_ids.push(r.conversation_id.clone());
            }
        }
    }
    Ok(Report {
        from: range.from(),
        to: range.to(),
        days: days.into_values().collect(),
        conversations: rows,
    })
}

async fn holding(
    vault: &dyn Vault,
    conversation: &ConversationId,
    indexed: Option<&Vec<String>>,
) -> Result<Holding, ReadError> {
    if let Some(generations) = indexed {
        let found = latest_holding(vault, conversation, generations).await?;
        if !matches!(found, Holding::Missing | Holding::Incomplete { .. }) {
            return Ok(found);
        }
        // Indexed generations that never committed, or none with an end;
        // another may have, filed under a day not read.
    }
    // Not on the index days read: it may have ended later, or its index date
    // came from another clock. Its own prefix is the last word.
    let all = read::generations(vault, conversation).await?;
    latest_holding(vault, conversation, &all).await
}

/// The latest generation that has the conversation's end decides; without
/// one, any generation makes the conversation [`Holding::Incomplete`]. An
/// unreadable manifest among them makes it [`Holding::Unreadable`]: counted
/// as not archived. A marker without its manifest is an archive that never
/// committed.
async fn latest_holding(
    vault: &dyn Vault,
    conversation: &ConversationId,
    generations: &[String],
) -> Result<Holding, ReadError> {
    let found = read::read_generations(vault, conversation, generations).await?;
    if let Some(bad) = found.unreadable.first() {
        return Ok(Holding::Unreadable {
            reason: format!("{}: {}", bad.path, bad.reason),
        });
    }
    let ended = |m: &Manifest| m.conversation.end_time.is_some();
    Ok(match found.latest_where(ended) {
        Some(m) => Holding::of(Some(m.clone())),
        None => match found.latest() {
            Some(open) => Holding::Incomplete {
                generation: open.generation.clone(),
            },
            None => Holding::Missing,
        },
    })
}
