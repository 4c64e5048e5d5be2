//! What a ledger audit finds and reports: shared by [`super::audit`] (the
//! days) and `chain` (the links between them and the witness), which
//! import it rather than each other.

use std::fmt;

use chrono::NaiveDate;
use serde::Serialize;

use super::Link;
use crate::days::DayRange;

/// What to audit.
#[derive(Debug, Clone)]
pub struct Options {
    pub range: DayRange,
    /// The SHA-256 of a ledger object trusted without checking further back
    /// (an earlier audit's head, a witness line); else the chain is followed
    /// back to the first sealed day.
    pub trusted_root: Option<String>,
    /// Witness lines: day and SHA-256 of its main object.
    pub witness: Option<Vec<(NaiveDate, String)>>,
    /// Manifests read at the same time.
    pub concurrency: usize,
}

/// What is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A day of the range has no ledger object.
    NotSealed,
    /// A ledger object that is not what it must be (name, schema, count, order, Merkle root).
    BadLedger,
    /// A link of the chain does not hold.
    ChainBroken,
    /// A listed manifest, or its index marker, is gone.
    RemovedAfterSealing,
    /// A listed manifest's bytes differ from its entry.
    ChangedAfterSealing,
    /// A committed generation indexed on a sealed day is in no ledger object of the day.
    AddedAfterSealing,
    /// The witness and the vault disagree.
    Witness,
}

impl Kind {
    pub fn text(self) -> &'static str {
        match self {
            Kind::NotSealed => "not sealed",
            Kind::BadLedger => "bad ledger object",
            Kind::ChainBroken => "chain broken",
            Kind::RemovedAfterSealing => "removed after sealing",
            Kind::ChangedAfterSealing => "changed after sealing",
            Kind::AddedAfterSealing => "added after sealing",
            Kind::Witness => "witness mismatch",
        }
    }
}

/// One problem, with the day and conversation it concerns where there is one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub day: Option<NaiveDate>,
    pub conversation_id: Option<String>,
    pub kind: Kind,
    pub detail: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.day, &self.conversation_id) {
            (Some(d), Some(c)) => write!(f, "{d} {c}: ")?,
            (Some(d), None) => write!(f, "{d}: ")?,
            (None, Some(c)) => write!(f, "{c}: ")?,
            (None, None) => {}
        }
        write!(f, "{}: {}", self.kind.text(), self.detail)
    }
}

/// One ledger object as found.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectFacts {
    pub path: String,
    pub sha256: String,
    pub sequence: u32,
    pub sealed_at: Option<String>,
    pub previous: Option<Link>,
    pub entries: u64,
    pub merkle_root: Option<String>,
}

/// One day of the range.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DaySummary {
    pub day: NaiveDate,
    pub objects: Vec<ObjectFacts>,
    /// Generations the day's ledger objects list.
    pub listed: usize,
    /// Index markers of committed or uncommitted generations.
    pub indexed: usize,
}

/// The ledger audit of a range.
#[derive(Debug, Clone, Default)]
pub struct LedgerAudit {
    pub days: Vec<DaySummary>,
    pub findings: Vec<Finding>,
    /// Information, not problems: days sealed late.
    pub notes: Vec<String>,
    /// The latest ledger object of the range: the next audit's trusted root.
    pub head: Option<Link>,
}

/// A ledger object read for the chain.
#[derive(Debug, Clone)]
pub(super) struct Node {
    pub(super) day: NaiveDate,
    pub(super) sequence: u32,
    pub(super) sha256: String,
    pub(super) previous: Option<Link>,
    pub(super) sealed_at: Option<String>,
    pub(super) in_range: bool,
}

pub(super) fn finding(
    day: Option<NaiveDate>,
    conv: Option<&str>,
    kind: Kind,
    detail: String,
) -> Finding {
    Finding {
        day,
        conversation_id: conv.map(str::to_string),
        kind,
        detail,
    }
}
