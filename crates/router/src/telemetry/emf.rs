//! The CloudWatch Embedded Metric Format line: one JSON object on stdout per
//! Lambda invocation, which CloudWatch Logs turns into metrics under
//! [`NAMESPACE`] with the dimension `FunctionName`, without an API call.
//!
//! It carries `level` (the function's own log level, so Lambda's log-level
//! filter, which reads a missing level as INFO, never drops it),
//! `timestamp`, `message` and the invocation's `request_id`, like every
//! other line of the function.

use serde_json::{Map, Value, json};

use super::registry::Registry;
use super::{
    ATTACHMENTS_ARCHIVED, ATTACHMENTS_MISSING, AZURE_RETRIES, BYTES_WRITTEN, FAILED_OUTCOMES,
    GENESYS_RETRIES, OUTCOMES, RECORD_AGE, RECORDS, TIME_TO_ARCHIVE,
};

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "TranscriptVault";

/// What a line says besides the metrics.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The `FunctionName` dimension (`AWS_LAMBDA_FUNCTION_NAME`).
    pub function_name: &'a str,
    /// Milliseconds since the epoch.
    pub timestamp_ms: i64,
    /// `INFO`, `WARN`, ...: at least the function's configured log level.
    pub level: &'a str,
    /// The Lambda request id of the invocation.
    pub request_id: Option<&'a str>,
}

/// The line for everything counted since the last one; the counters and
/// histogram windows start again from zero.
pub fn line(registry: &Registry, cx: &Context<'_>) -> String {
    let counters = registry.take_counters();
    let counter = |name: &str, outcome: Option<&str>| -> u64 {
        counters
            .iter()
            .filter(|(k, _)| {
                k.name() == name
                    && match outcome {
                        Some(o) => k.labels().any(|l| l.key() == "outcome" && l.value() == o),
                        None => k.labels().next().is_none(),
                    }
            })
            .fold(0u64, |sum, (_, v)| sum.saturating_add(*v))
    };
    let mut defs = Vec::new();
    let mut values = Map::new();
    let mut put = |name: &str, unit: &str, value: Value| {
        defs.push(json!({"Name": name, "Unit": unit}));
        values.insert(name.to_string(), value);
    };
    for (label, emf) in OUTCOMES {
        put(emf, "Count", json!(counter(RECORDS, Some(label))));
    }
    let failed = FAILED_OUTCOMES
        .iter()
        .fold(0u64, |sum, o| sum.saturating_add(counter(RECORDS, Some(o))));
    put("Failed", "Count", json!(failed));
    put(
        "Attachments",
        "Count",
        json!(counter(ATTACHMENTS_ARCHIVED, None)),
    );
    put(
        "MissingAttachments",
        "Count",
        json!(counter(ATTACHMENTS_MISSING, None)),
    );
    put(
        "BytesArchived",
        "Bytes",
        json!(counter(BYTES_WRITTEN, None)),
    );
    put("AzureRetries", "Count", json!(counter(AZURE_RETRIES, None)));
    put(
        "GenesysRetries",
        "Count",
        json!(counter(GENESYS_RETRIES, None)),
    );

    let window = |name: &str| {
        registry
            .histogram(name)
            .map(|h| h.take_window())
            .unwrap_or_default()
    };
    let (ages, oldest) = window(RECORD_AGE);
    // An empty array is not a metric value: a histogram with nothing in this
    // window is left out of the line.
    if !ages.is_empty() {
        put("RecordAge", "Milliseconds", json!(ms(&ages)));
    }
    put(
        "OldestEventAge",
        "Milliseconds",
        json!(oldest.map_or(0, seconds_to_ms)),
    );
    let (took, _) = window(TIME_TO_ARCHIVE);
    if !took.is_empty() {
        put("TimeToArchive", "Milliseconds", json!(ms(&took)));
    }

    let timestamp = chrono::DateTime::from_timestamp_millis(cx.timestamp_ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    let mut obj = Map::new();
    obj.insert(
        "_aws".into(),
        json!({
            "Timestamp": cx.timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["FunctionName"]],
                "Metrics": defs,
            }]
        }),
    );
    obj.insert("timestamp".into(), json!(timestamp));
    obj.insert("level".into(), json!(cx.level));
    obj.insert("message".into(), json!("metrics"));
    if let Some(id) = cx.request_id {
        obj.insert("request_id".into(), json!(id));
    }
    obj.insert("FunctionName".into(), json!(cx.function_name));
    obj.extend(values);
    Value::Object(obj).to_string()
}

fn ms(seconds: &[f64]) -> Vec<u64> {
    seconds.iter().copied().map(seconds_to_ms).collect()
}

/// Whole milliseconds; a float-to-integer `as` saturates, so a huge value
/// cannot overflow.
fn seconds_to_ms(s: f64) -> u64 {
    (s * 1000.0).round() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_declares_every_metric_it_carries_and_starts_again_from_zero() {
        let r = Registry::new();
        metrics::with_local_recorder(&r, || {
            metrics::counter!(RECORDS, "outcome" => "archived").increment(3);
            metrics::counter!(RECORDS, "outcome" => "invalid").increment(1);
            metrics::counter!(RECORDS, "outcome" => "permanent").increment(2);
            metrics::counter!(GENESYS_RETRIES).increment(4);
            metrics::histogram!(RECORD_AGE).record(10.0);
            metrics::histogram!(RECORD_AGE).record(7.5);
        });
        let cx = Context {
            function_name: "fn",
            timestamp_ms: 1_700_000_000_000,
            level: "WARN",
            request_id: Some("req-1"),
        };
        let line = line(&r, &cx);
        assert!(!line.contains('\n'));
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["Archived"], 3);
        assert_eq!(v["Failed"], 3, "invalid + transient + permanent");
        assert_eq!(v["GenesysRetries"], 4);
        assert_eq!(v["RecordAge"], json!([10_000, 7_500]));
        assert_eq!(v["OldestEventAge"], 10_000);
        assert!(v.get("TimeToArchive").is_none(), "nothing in the window");
        assert_eq!(v["level"], "WARN");
        assert_eq!(v["request_id"], "req-1");
        assert_eq!(v["timestamp"], "2023-11-14T22:13:20.000Z");
        let declared = v["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap();
        for d in declared {
            let name = d["Name"].as_str().unwrap();
            assert!(!v[name].is_null(), "{name} declared but absent");
        }

        let next: Value = serde_json::from_str(&super::line(&r, &cx)).unwrap();
        assert_eq!(
            (&next["Archived"], &next["GenesysRetries"]),
            (&json!(0), &json!(0))
        );
        assert!(next.get("RecordAge").is_none());
    }
}
