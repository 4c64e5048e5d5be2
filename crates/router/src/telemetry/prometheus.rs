//! The Prometheus text exposition format (version 0.0.4) of a [`Registry`],
//! as `tvault worker --metrics-addr` serves it on `/metrics`.

use std::fmt::Write;

use metrics::Key;

use super::HELP;
use super::registry::{BUCKETS, Registry};

/// The `Content-Type` of [`render`]'s text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Every counter and histogram, grouped by name, with `# HELP` and `# TYPE`.
pub fn render(registry: &Registry) -> String {
    let mut out = String::new();
    let mut last = None::<String>;
    for (key, value) in registry.counters() {
        header(&mut out, &mut last, key.name(), "counter");
        let _ = writeln!(out, "{}{} {value}", key.name(), labels(&key, None));
    }
    for (key, hist) in registry.histograms() {
        header(&mut out, &mut last, key.name(), "histogram");
        let snap = hist.snapshot();
        let name = key.name();
        for (bound, count) in BUCKETS.iter().zip(&snap.cumulative) {
            let le = bound.to_string();
            let _ = writeln!(out, "{name}_bucket{} {count}", labels(&key, Some(&le)));
        }
        let _ = writeln!(
            out,
            "{name}_bucket{} {}",
            labels(&key, Some("+Inf")),
            snap.count
        );
        let _ = writeln!(out, "{name}_sum{} {}", labels(&key, None), snap.sum);
        let _ = writeln!(out, "{name}_count{} {}", labels(&key, None), snap.count);
    }
    out
}

fn header(out: &mut String, last: &mut Option<String>, name: &str, kind: &str) {
    if last.as_deref() == Some(name) {
        return;
    }
    if let Some((_, help)) = HELP.iter().find(|(n, _)| *n == name) {
        let _ = writeln!(out, "# HELP {name} {help}");
    }
    let _ = writeln!(out, "# TYPE {name} {kind}");
    *last = Some(name.to_string());
}

/// `{a="x",le="1"}`, or nothing without labels.
fn labels(key: &Key, le: Option<&str>) -> String {
    let mut pairs: Vec<String> = key
        .labels()
        .map(|l| format!("{}=\"{}\"", l.key(), escape(l.value())))
        .collect();
    if let Some(le) = le {
        pairs.push(format!("le=\"{le}\""));
    }
    if pairs.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", pairs.join(","))
    }
}

/// A label value as the format requires: backslash, quote and newline escaped.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::{RECORDS, TIME_TO_ARCHIVE};

    #[test]
    fn counters_and_histograms_render_in_the_text_format() {
        let r = Registry::new();
        metrics::with_local_recorder(&r, || {
            metrics::counter!(RECORDS, "outcome" => "archived").increment(2);
            metrics::counter!(RECORDS, "outcome" => "a\"b\\c\nd").increment(1);
            metrics::histogram!(TIME_TO_ARCHIVE).record(0.2);
            metrics::histogram!(TIME_TO_ARCHIVE).record(3.0);
        });
        let text = render(&r);
        assert!(
            text.contains("# TYPE tvault_records_total counter\n"),
            "{text}"
        );
        assert_eq!(
            text.matches("# TYPE tvault_records_total").count(),
            1,
            "{text}"
        );
        assert!(
            text.contains("tvault_records_total{outcome=\"archived\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("{outcome=\"a\\\"b\\\\c\\nd\"} 1\n"), "{text}");
        assert!(
            text.contains("tvault_time_to_archive_seconds_bucket{le=\"0.25\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("tvault_time_to_archive_seconds_bucket{le=\"5\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("tvault_time_to_archive_seconds_bucket{le=\"+Inf\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("tvault_time_to_archive_seconds_count 2\n"),
            "{text}"
        );
        assert!(
            text.contains("tvault_time_to_archive_seconds_sum 3.2\n"),
            "{text}"
        );
    }
}
