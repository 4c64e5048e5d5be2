//! Counters for one invocation (or one worker's life), and the CloudWatch
//! Embedded Metric Format line that publishes them without an API call.
//!
//! Private to the router: only [`Router`](crate::Router) counts, so a record's
//! outcome, age and cut-off are counted on every path, and the Azure retries
//! are added before each line is written (`Router::emf_line`).

use std::sync::atomic::{AtomicU64, Ordering};

use tvault_core::ErrorClass;
use tvault_core::Outcome;

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "TranscriptVault";

/// Counters; cheap to update from many tasks.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    pub(crate) archived: AtomicU64,
    pub(crate) already_in_vault: AtomicU64,
    pub(crate) skipped: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) not_ready: AtomicU64,
    pub(crate) attachments: AtomicU64,
    pub(crate) missing_attachments: AtomicU64,
    pub(crate) bytes: AtomicU64,
    /// Requests to Azure that were retried (throttling, 5xx, lost connections).
    pub(crate) azure_retries: AtomicU64,
    /// Age in milliseconds of the oldest record seen (by its SQS sent time).
    pub(crate) oldest_event_age_ms: AtomicU64,
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

fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

impl Metrics {
    /// Count one record's result.
    pub(crate) fn record(&self, result: &Result<Outcome, tvault_core::ArchiveError>) {
        match result {
            Ok(Outcome::Archived(a)) => {
                add(&self.archived, 1);
                add(&self.attachments, a.attachments as u64);
                add(&self.missing_attachments, a.missing.len() as u64);
                add(&self.bytes, a.bytes_written);
            }
            Ok(Outcome::AlreadyInVault { .. }) => add(&self.already_in_vault, 1),
            Ok(Outcome::Skipped { .. }) => add(&self.skipped, 1),
            Err(e) if e.class() == ErrorClass::NotReady => add(&self.not_ready, 1),
            Err(_) => add(&self.failed, 1),
        }
    }

    /// Note a record's age.
    pub(crate) fn saw_age_ms(&self, age_ms: u64) {
        self.oldest_event_age_ms
            .fetch_max(age_ms, Ordering::Relaxed);
    }

    /// The outcome counters, without resetting them.
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

    fn values(&self, reset: bool) -> [(&'static str, &'static str, u64); 10] {
        let g = |c: &AtomicU64| {
            if reset {
                c.swap(0, Ordering::Relaxed)
            } else {
                c.load(Ordering::Relaxed)
            }
        };
        [
            ("Archived", "Count", g(&self.archived)),
            ("AlreadyInVault", "Count", g(&self.already_in_vault)),
            ("Skipped", "Count", g(&self.skipped)),
            ("Failed", "Count", g(&self.failed)),
            ("NotReady", "Count", g(&self.not_ready)),
            ("Attachments", "Count", g(&self.attachments)),
            ("MissingAttachments", "Count", g(&self.missing_attachments)),
            ("BytesArchived", "Bytes", g(&self.bytes)),
            ("AzureRetries", "Count", g(&self.azure_retries)),
            (
                "OldestEventAge",
                "Milliseconds",
                g(&self.oldest_event_age_ms),
            ),
        ]
    }

    /// One EMF JSON line: CloudWatch Logs turns it into metrics under
    /// [`NAMESPACE`] with the dimension `FunctionName`.
    /// `reset` sets the counters back to zero (one line per invocation).
    pub(crate) fn emf_line(&self, function_name: &str, timestamp_ms: i64, reset: bool) -> String {
        let values = self.values(reset);
        let defs: Vec<serde_json::Value> = values
            .iter()
            .map(|(n, u, _)| serde_json::json!({"Name": n, "Unit": u}))
            .collect();
        let mut obj = serde_json::json!({
            "_aws": {
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [["FunctionName"]],
                    "Metrics": defs,
                }]
            },
            "FunctionName": function_name,
        });
        for (n, _, v) in values {
            obj[n] = serde_json::json!(v);
        }
        obj.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_line_declares_every_metric_it_carries() {
        let m = Metrics::default();
        add(&m.archived, 3);
        m.saw_age_ms(10);
        m.saw_age_ms(7);
        let line = m.emf_line("fn", 1_700_000_000_000, true);
        assert_eq!(m.archived.load(Ordering::Relaxed), 0, "reset");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["Archived"], 3);
        assert_eq!(v["OldestEventAge"], 10);
        assert_eq!(v["FunctionName"], "fn");
        let declared = v["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap();
        for d in declared {
            let name = d["Name"].as_str().unwrap();
            assert!(v[name].is_u64(), "{name} declared but absent");
        }
        assert!(!line.contains('\n'));
    }
}
