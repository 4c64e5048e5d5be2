//! Sealing a day into the ledger (`tvault_core::ledger`), for the Lambda's
//! scheduled invocation, `tvault worker --seal-at` and `tvault seal`: the
//! day's ledger object, then its witness line, which always goes to the log
//! (the Lambda's log is CloudWatch Logs, in the AWS account the vault's Azure
//! administrators cannot rewrite) and, when `TVAULT_WITNESS_SSM_PREFIX` is
//! set, into a create-only SSM parameter.
//!
//! A seal invocation is a JSON object whose `tvault` key is `"seal"`: an SQS
//! batch has `Records`, an EventBridge event `detail-type` and `detail`, so
//! neither is ever taken for one. It touches no queue.
//!
//! ```
//! use serde_json::json;
//! use tvault_router::seal::seal_request;
//! let day = |v| seal_request(&v).unwrap().unwrap().to_string();
//! assert_eq!(day(json!({"tvault": "seal", "day": "2026-09-20"})), "2026-09-20");
//! // The schedule's payload: the UTC day before the scheduled time.
//! assert_eq!(day(json!({"tvault": "seal", "scheduledTime": "2026-09-21T02:00:00Z"})), "2026-09-20");
//! assert!(seal_request(&json!({"Records": []})).is_none());
//! ```

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};
use tracing::info;
use tvault_aws::witness::{SsmWitness, WitnessError, Witnessed};
use tvault_core::ledger::seal::{SealError, Sealed, seal_day};
use tvault_core::ports::{Deadline, Vault};

/// What goes into each ledger object's `tool`.
pub const TOOL: &str = concat!("tvault ", env!("CARGO_PKG_VERSION"));

/// Manifests read at the same time while sealing.
const CONCURRENCY: usize = 16;

/// The day a seal invocation asks for: `None` when `payload` is not a seal
/// invocation at all, `Some(Err)` when it is one that cannot be understood
/// (named in the message). `day` (`YYYY-MM-DD`) is that day;
/// `scheduledTime` (EventBridge Scheduler's `<aws.scheduler.scheduled-time>`)
/// means the UTC day before it, whatever the delay or retry of the invocation.
pub fn seal_request(payload: &Value) -> Option<Result<NaiveDate, String>> {
    let command = payload.get("tvault")?;
    if command != "seal" {
        return Some(Err(format!(
            "unknown tvault command {command}: the only one is \"seal\""
        )));
    }
    let day = payload.get("day").and_then(Value::as_str);
    let scheduled = payload.get("scheduledTime").and_then(Value::as_str);
    Some(match (day, scheduled) {
        (Some(d), _) => NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| format!("seal: day {d:?} is not a date (YYYY-MM-DD)")),
        (None, Some(t)) => DateTime::parse_from_rfc3339(t)
            .ok()
            .and_then(|t| t.with_timezone(&Utc).date_naive().pred_opt())
            .ok_or_else(|| format!("seal: scheduledTime {t:?} is not an RFC 3339 time")),
        (None, None) => Err("seal: give \"day\" (YYYY-MM-DD) or \"scheduledTime\"".into()),
    })
}

/// Why a day was not sealed, or its witness not kept.
#[derive(Debug, thiserror::Error)]
pub enum SealFailure {
    #[error(transparent)]
    Seal(#[from] SealError),
    #[error("{day} is sealed ({line}), but its witness could not be kept")]
    Witness {
        day: NaiveDate,
        line: String,
        #[source]
        source: WitnessError,
    },
    #[error("{0} has not ended yet (UTC): a day is sealed once it is over")]
    NotOver(NaiveDate),
}

/// A sealed day and where its witness went.
#[derive(Debug, Clone)]
pub struct SealReport {
    pub sealed: Sealed,
    /// `None` when no SSM prefix is configured.
    pub witnessed: Option<Witnessed>,
}

impl SealReport {
    /// The answer of a seal invocation.
    pub fn to_json(&self) -> Value {
        let s = &self.sealed;
        json!({
            "day": s.day.to_string(),
            "witness": s.witness_line(),
            "main": {"path": s.main.path, "sha256": s.main.sha256},
            "written": s.written.as_ref().map(|w| json!({
                "path": w.link.path,
                "sha256": w.link.sha256,
                "sequence": w.sequence,
                "entries": w.entries,
                "merkleRoot": w.merkle_root,
            })),
            "uncommitted": s.uncommitted.len(),
            "ssm": self.witnessed.map(|w| match w {
                Witnessed::Written => "written",
                Witnessed::AlreadyThere => "already there",
            }),
        })
    }
}

/// Seal `day` as of `now` into `vault`, then keep its witness line: logged
/// (field `witness`), and in SSM when `witness` is given.
pub async fn seal_and_witness(
    vault: &dyn Vault,
    witness: Option<&SsmWitness>,
    day: NaiveDate,
    now: DateTime<Utc>,
    deadline: Deadline,
) -> Result<SealReport, SealFailure> {
    if day >= now.date_naive() {
        return Err(SealFailure::NotOver(day));
    }
    let sealed = seal_day(vault, day, now, TOOL, CONCURRENCY, deadline).await?;
    let line = sealed.witness_line();
    info!(
        witness = %line,
        day = %day,
        written = sealed.written.as_ref().map(|w| w.link.path.as_str()).unwrap_or("nothing new"),
        "ledger witness"
    );
    let witnessed = match witness {
        None => None,
        Some(w) => Some(w.record(&day.to_string(), &line).await.map_err(|source| {
            SealFailure::Witness {
                day,
                line: line.clone(),
                source,
            }
        })?),
    };
    Ok(SealReport { sealed, witnessed })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seal_request_is_told_apart_and_a_bad_one_is_named() {
        let bad = |v: Value| seal_request(&v).unwrap().unwrap_err();
        assert!(bad(json!({"tvault": "unseal"})).contains("unknown tvault command"));
        assert!(bad(json!({"tvault": "seal"})).contains("give \"day\""));
        assert!(bad(json!({"tvault": "seal", "day": "2026-02-30"})).contains("not a date"));
        assert!(
            bad(json!({"tvault": "seal", "scheduledTime": "<aws.scheduler.scheduled-time>"}))
                .contains("not an RFC 3339 time")
        );
        for not in [
            json!({"Records": [{"body": "{\"tvault\": \"seal\"}"}]}),
            json!({"detail-type": "x", "detail": {"tvault": "seal"}}),
            json!([1]),
            json!("seal"),
        ] {
            assert!(seal_request(&not).is_none(), "{not}");
        }
    }

    #[tokio::test]
    async fn a_day_not_over_is_not_sealed() {
        let vault = tvault_vault::open("memory://").unwrap();
        let now = Utc::now();
        let err = seal_and_witness(vault.as_ref(), None, now.date_naive(), now, Deadline::NONE)
            .await
            .unwrap_err();
        assert!(matches!(err, SealFailure::NotOver(_)), "{err}");
        assert!(vault.list("ledger/").await.unwrap().is_empty());
    }
}
