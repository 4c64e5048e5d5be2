//! The `tvault` binary's tests, one binary (as ripgrep's `tests/`): each
//! module runs the built `tvault` as a user runs it, against a local vault,
//! the in-process fake Genesys API, Azurite, moto and headless Chromium.
//! `util` holds what they share: running the binary with only the settings a
//! test gives it, and reading what it printed.

// Tests may unwrap: a panic is a failed test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod azure_errors;
mod azure_readonly;
mod bundle;
mod check;
mod cli;
mod dlq;
mod export;
mod genesys;
mod hostile;
mod ledger;
mod ledger_azure;
mod ledger_days;
mod manual;
mod peak;
mod read_only;
mod reconcile;
mod search;
mod serve;
mod telemetry;
mod tz;
mod util;
mod verify_report;
mod worker;
