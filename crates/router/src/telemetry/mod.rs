//! What the router counts, through the [`metrics`] facade, and the two ways
//! it is published: one CloudWatch Embedded Metric Format line per Lambda
//! invocation ([`emf`]), and the Prometheus text format the worker serves on
//! `/metrics` ([`prometheus`]). Both read the same in-memory [`Registry`],
//! which the binary installs as the process's recorder.
//!
//! Only [`Router::process`](crate::Router::process) counts a record, so its
//! outcome, age and duration are counted on every path (archived, failed,
//! cut off, panicked), in both runtimes. Retries are counted where they
//! happen (the vault's and the Genesys client's own counters) and added to
//! the facade after each record ([`Retries`]).
//!
//! | name (Prometheus) | EMF name(s) | what |
//! |---|---|---|
//! | `tvault_records_total{outcome}` | `Archived`, `AlreadyInVault`, `Skipped`, `NotReady`, `Invalid`, `Transient`, `Permanent`; `Failed` = the last three | records by outcome |
//! | `tvault_attachments_archived_total` | `Attachments` | attachments of committed generations |
//! | `tvault_attachments_missing_total` | `MissingAttachments` | attachments committed as missing |
//! | `tvault_bytes_written_total` | `BytesArchived` | bytes written to the vault |
//! | `tvault_azure_retries_total` | `AzureRetries` | Azure requests retried |
//! | `tvault_genesys_retries_total` | `GenesysRetries` | Genesys requests retried |
//! | `tvault_record_age_seconds` | `RecordAge` (ms), `OldestEventAge` (ms, the largest) | SQS sent time to durable in the vault |
//! | `tvault_time_to_archive_seconds` | `TimeToArchive` (ms) | time the router spent on a record, any outcome |

pub mod emf;
pub mod prometheus;
pub mod registry;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tvault_core::{ArchiveError, ErrorClass, Outcome};

pub use registry::Registry;

/// Records by outcome (label `outcome`).
pub const RECORDS: &str = "tvault_records_total";
pub const ATTACHMENTS_ARCHIVED: &str = "tvault_attachments_archived_total";
pub const ATTACHMENTS_MISSING: &str = "tvault_attachments_missing_total";
pub const BYTES_WRITTEN: &str = "tvault_bytes_written_total";
pub const AZURE_RETRIES: &str = "tvault_azure_retries_total";
pub const GENESYS_RETRIES: &str = "tvault_genesys_retries_total";
/// Seconds from a record's SQS sent time to its archive being durable.
pub const RECORD_AGE: &str = "tvault_record_age_seconds";
/// Seconds the router spent on one record, whatever its outcome.
pub const TIME_TO_ARCHIVE: &str = "tvault_time_to_archive_seconds";

/// The `outcome` label values, and the EMF metric of each.
pub const OUTCOMES: [(&str, &str); 7] = [
    ("archived", "Archived"),
    ("already_in_vault", "AlreadyInVault"),
    ("skipped", "Skipped"),
    ("not_ready", "NotReady"),
    ("invalid", "Invalid"),
    ("transient", "Transient"),
    ("permanent", "Permanent"),
];

/// The outcomes that count as failed (`Failed` in EMF, the worker's totals).
pub const FAILED_OUTCOMES: [&str; 3] = ["invalid", "transient", "permanent"];

/// `# HELP` texts, by name.
pub const HELP: [(&str, &str); 8] = [
    (RECORDS, "Records handled, by outcome."),
    (
        ATTACHMENTS_ARCHIVED,
        "Attachments of committed generations.",
    ),
    (
        ATTACHMENTS_MISSING,
        "Attachments committed as missing (could not be fetched for good).",
    ),
    (BYTES_WRITTEN, "Bytes written to the vault."),
    (
        AZURE_RETRIES,
        "Azure requests retried (throttling, 5xx, lost connections).",
    ),
    (
        GENESYS_RETRIES,
        "Genesys API requests retried (429, 502-504, lost connections).",
    ),
    (
        RECORD_AGE,
        "Seconds from a record's SQS sent time to its archive being durable.",
    ),
    (
        TIME_TO_ARCHIVE,
        "Seconds spent on one record, whatever its outcome.",
    ),
];

/// The `outcome` label of a record's result.
pub fn outcome_label(result: &Result<Outcome, ArchiveError>) -> &'static str {
    match result {
        Ok(Outcome::Archived(_)) => "archived",
        Ok(Outcome::AlreadyInVault { .. }) => "already_in_vault",
        Ok(Outcome::Skipped { .. }) => "skipped",
        Err(e) => match e.class() {
            ErrorClass::NotReady => "not_ready",
            ErrorClass::Invalid => "invalid",
            ErrorClass::Transient => "transient",
            ErrorClass::Permanent => "permanent",
        },
    }
}

/// Register every counter at zero, so a scrape before the first record shows
/// them all (and a rate has a starting point).
pub fn announce() {
    for (label, _) in OUTCOMES {
        metrics::counter!(RECORDS, "outcome" => label).increment(0);
    }
    for name in [
        ATTACHMENTS_ARCHIVED,
        ATTACHMENTS_MISSING,
        BYTES_WRITTEN,
        AZURE_RETRIES,
        GENESYS_RETRIES,
    ] {
        metrics::counter!(name).increment(0);
    }
    let _ = metrics::histogram!(RECORD_AGE);
    let _ = metrics::histogram!(TIME_TO_ARCHIVE);
}

/// Count one record: its outcome, what it wrote, its age when it became
/// durable (`age`, when it came from a queue), and how long it took.
pub fn count(result: &Result<Outcome, ArchiveError>, age: Option<Duration>, took: Duration) {
    metrics::counter!(RECORDS, "outcome" => outcome_label(result)).increment(1);
    match result {
        Ok(Outcome::Archived(a)) => {
            metrics::counter!(ATTACHMENTS_ARCHIVED).increment(a.attachments as u64);
            metrics::counter!(ATTACHMENTS_MISSING).increment(a.missing.len() as u64);
            metrics::counter!(BYTES_WRITTEN).increment(a.bytes_written);
            if let Some(age) = age {
                metrics::histogram!(RECORD_AGE).record(age.as_secs_f64());
            }
        }
        Ok(Outcome::AlreadyInVault { .. }) => {
            if let Some(age) = age {
                metrics::histogram!(RECORD_AGE).record(age.as_secs_f64());
            }
        }
        _ => {}
    }
    metrics::histogram!(TIME_TO_ARCHIVE).record(took.as_secs_f64());
}

/// A retry counter kept elsewhere (the vault's, the Genesys client's), added
/// to the facade by its increase since the last look.
#[derive(Debug, Default)]
pub struct Retries {
    seen: AtomicU64,
}

impl Retries {
    /// Add what `now` (the counter's current value) has grown by to `name`.
    /// `fetch_max` keeps two records that read the counter at once from
    /// adding the same retries twice.
    pub fn publish(&self, name: &'static str, now: u64) {
        let before = self.seen.fetch_max(now, Ordering::Relaxed);
        let grown = now.saturating_sub(before);
        if grown > 0 {
            metrics::counter!(name).increment(grown);
        }
    }

    /// The counter was replaced by a new one counting from zero (a client
    /// rebuilt after a rotated secret).
    pub fn restart(&self) {
        self.seen.store(0, Ordering::Relaxed);
    }
}

/// What the router has done so far, as the worker's last line reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub archived: u64,
    pub already_in_vault: u64,
    pub skipped: u64,
    pub not_ready: u64,
    pub failed: u64,
}

impl std::fmt::Display for Totals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "archived {}, already in vault {}, skipped {}, not ready {}, failed {}",
            self.archived, self.already_in_vault, self.skipped, self.not_ready, self.failed
        )
    }
}

/// This router's own outcome counts (the facade's recorder is the process's;
/// these are the router's, for its [`Totals`]).
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub(crate) archived: AtomicU64,
    pub(crate) already_in_vault: AtomicU64,
    pub(crate) skipped: AtomicU64,
    pub(crate) not_ready: AtomicU64,
    pub(crate) failed: AtomicU64,
}

impl Tally {
    pub(crate) fn record(&self, result: &Result<Outcome, ArchiveError>) {
        let c = match outcome_label(result) {
            "archived" => &self.archived,
            "already_in_vault" => &self.already_in_vault,
            "skipped" => &self.skipped,
            "not_ready" => &self.not_ready,
            _ => &self.failed,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn totals(&self) -> Totals {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Totals {
            archived: g(&self.archived),
            already_in_vault: g(&self.already_in_vault),
            skipped: g(&self.skipped),
            not_ready: g(&self.not_ready),
            failed: g(&self.failed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_are_added_once_however_the_reads_interleave() {
        let r = Registry::new();
        let retries = Retries::default();
        metrics::with_local_recorder(&r, || {
            retries.publish(AZURE_RETRIES, 3);
            // A record that read the counter earlier publishes after.
            retries.publish(AZURE_RETRIES, 2);
            retries.publish(AZURE_RETRIES, 5);
            retries.restart();
            retries.publish(AZURE_RETRIES, 1);
        });
        assert_eq!(r.counter(AZURE_RETRIES, &[]), 6);
    }
}
