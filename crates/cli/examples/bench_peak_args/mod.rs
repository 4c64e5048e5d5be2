//! What both halves of `scripts/bench-peak` (`bench_peak_fakes`,
//! `bench_peak_lambda`) read their arguments and stamp their lines with.

use std::time::{SystemTime, UNIX_EPOCH};

/// The value after `name` in `args`, if any.
pub fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// Milliseconds since the epoch (the samples' and the log lines' time).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
