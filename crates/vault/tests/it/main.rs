//! The vault's integration tests, one binary (as ripgrep's `tests/`): the
//! write-once conformance suite over memory, local disk and Azurite, the
//! archive's order of writes, Azure against Azurite (with the official Python
//! SDK as an independent reader) and behind the fault proxy, and reconciling
//! against the date index.
//!
//! `azure_secrets.rs` stays a binary of its own: it installs the process-wide
//! tracing subscriber at TRACE to capture every log line, which would also
//! capture (and slow) every other test of a shared binary.

// Tests may unwrap: a panic is a failed test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod archive;
mod azure;
mod azure_faults;
mod conformance;
mod listing;
mod reconcile;
mod requests;
mod util;
