//! `tvault verify --json-report FILE --csv-report FILE`: the evidence a
//! compliance officer files, shaped and named like reconcile's reports.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;
use tvault_core::days::DayRange;
use tvault_core::keys;
use tvault_core::transcript::fmt_time;

/// What verify found for one object name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Listed by a manifest, present, and its bytes hash to what it says.
    Ok,
    /// An unlisted raw payload whose bytes match the hash in its name
    /// (information, not a problem).
    UnlistedProvenance,
    Missing,
    Corrupt,
    Unreadable,
    Orphaned,
    Unindexed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::UnlistedProvenance => "unlisted-provenance",
            Status::Missing => "missing",
            Status::Corrupt => "corrupt",
            Status::Unreadable => "unreadable",
            Status::Orphaned => "orphaned",
            Status::Unindexed => "unindexed",
        }
    }

    fn is_problem(self) -> bool {
        !matches!(self, Status::Ok | Status::UnlistedProvenance)
    }
}

/// One row per object name verify looked at (and one per problem that is
/// not about a single object, such as an unreadable listing).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRow {
    pub path: String,
    pub conversation_id: Option<String>,
    pub status: Status,
    /// The SHA-256 and size a manifest promises (listed objects only).
    pub sha256: Option<String>,
    pub size: Option<u64>,
    pub detail: String,
}

impl ObjectRow {
    pub fn new(path: &str, status: Status, detail: impl Into<String>) -> Self {
        ObjectRow {
            path: path.to_string(),
            conversation_id: conversation_of(path),
            status,
            sha256: None,
            size: None,
            detail: detail.into(),
        }
    }
}

/// The conversation an object name belongs to, from the vault layout.
fn conversation_of(path: &str) -> Option<String> {
    if let Some(rest) = path.strip_prefix(keys::CONVERSATIONS) {
        let conv = rest.split('/').next().unwrap_or_default();
        return (!conv.is_empty()).then(|| conv.to_string());
    }
    keys::parse_index(path).map(|(_, conv, _)| conv.to_string())
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ConversationRow {
    conversation_id: String,
    generations: usize,
    objects: usize,
    problems: usize,
    status: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Totals {
    manifests: usize,
    conversations: usize,
    objects: usize,
    problems: usize,
    unlisted_provenance: usize,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Tool {
    name: &'static str,
    version: &'static str,
}

/// The whole run, as `--json-report` writes it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonReport<'a> {
    schema: &'static str,
    generated_at: String,
    tool: Tool,
    vault: String,
    /// `null` for the whole vault.
    from: Option<String>,
    to: Option<String>,
    elapsed_seconds: f64,
    complete: bool,
    totals: Totals,
    conversations: Vec<ConversationRow>,
    objects: &'a [ObjectRow],
}

/// What one verify run found, ready to be written as JSON or CSV.
pub struct Report<'a> {
    pub vault_location: &'a str,
    pub range: Option<DayRange>,
    pub elapsed: Duration,
    pub manifests: usize,
    /// Committed generations per conversation (from readable manifests).
    pub generations: BTreeMap<String, usize>,
    /// Every object and problem row, in any order (sorted on writing).
    pub rows: Vec<ObjectRow>,
}

impl Report<'_> {
    fn sorted_rows(&mut self) {
        self.rows
            .sort_by(|a, b| (&a.path, a.status).cmp(&(&b.path, b.status)));
    }

    fn conversations(&self) -> Vec<ConversationRow> {
        let mut by_conv: BTreeMap<&str, (usize, usize, usize)> = self
            .generations
            .iter()
            .map(|(c, g)| (c.as_str(), (*g, 0, 0)))
            .collect();
        for r in &self.rows {
            let Some(c) = &r.conversation_id else {
                continue;
            };
            let entry = by_conv.entry(c.as_str()).or_default();
            entry.1 += 1;
            if r.status.is_problem() {
                entry.2 += 1;
            }
        }
        by_conv
            .into_iter()
            .map(|(c, (generations, objects, problems))| ConversationRow {
                conversation_id: c.to_string(),
                generations,
                objects,
                problems,
                status: if problems == 0 { "ok" } else { "problems" },
            })
            .collect()
    }

    pub fn write_json(&mut self, path: &Path) -> Result<()> {
        self.sorted_rows();
        let problems = self.rows.iter().filter(|r| r.status.is_problem()).count();
        let doc = JsonReport {
            schema: "transcript-vault/verify-report/v1",
            generated_at: fmt_time(chrono::Utc::now()),
            tool: Tool {
                name: "tvault",
                version: env!("CARGO_PKG_VERSION"),
            },
            // A SAS token in a URL would be a secret: never write a query string.
            vault: tvault_core::manifest::strip_query(self.vault_location),
            from: self.range.map(|r| r.from().to_string()),
            to: self.range.map(|r| r.to().to_string()),
            // Milliseconds are enough for a report; a float keeps it one field.
            elapsed_seconds: self.elapsed.as_millis() as f64 / 1000.0,
            complete: problems == 0,
            totals: Totals {
                manifests: self.manifests,
                conversations: self.generations.len(),
                objects: self.rows.iter().filter(|r| r.sha256.is_some()).count(),
                problems,
                unlisted_provenance: self
                    .rows
                    .iter()
                    .filter(|r| r.status == Status::UnlistedProvenance)
                    .count(),
            },
            conversations: self.conversations(),
            objects: &self.rows,
        };
        let mut bytes = serde_json::to_vec_pretty(&doc)?;
        bytes.push(b'\n');
        std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
    }

    /// One row per object, so a spreadsheet can filter by status.
    pub fn write_csv(&mut self, path: &Path) -> Result<()> {
        self.sorted_rows();
        let mut w =
            csv::Writer::from_path(path).with_context(|| format!("writing {}", path.display()))?;
        w.write_record([
            "path",
            "conversation_id",
            "status",
            "sha256",
            "size",
            "detail",
        ])?;
        for r in &self.rows {
            w.write_record([
                r.path.as_str(),
                r.conversation_id.as_deref().unwrap_or_default(),
                r.status.as_str(),
                r.sha256.as_deref().unwrap_or_default(),
                &r.size.map(|s| s.to_string()).unwrap_or_default(),
                r.detail.as_str(),
            ])?;
        }
        w.flush()
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }
}
