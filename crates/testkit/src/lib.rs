//! # tvault-testkit
//!
//! Test doubles and harnesses for transcript-vault, used only by tests and
//! benchmarks, started in-process on port 0:
//!
//! | module | role |
//! |---|---|
//! | [`azure_refusals`] | a fake Azure Blob endpoint that refuses every request as Azure does (firewall, bad credential, missing right, no container) |
//! | [`proxy`] | an HTTP proxy that throttles, drops and delays a seeded share of requests |
//! | [`genesys`] | an in-process fake of the Genesys Cloud Platform API |
//! | [`lambda`] | a Lambda Runtime API emulator that runs the real `bootstrap` |
//! | [`pipeline`] | moto queues with a redrive policy, event mixes, drain checks (feature `sqs`) |
//! | [`peak`] | a peak day's load, generated deterministically: conversations in the fake Genesys API, their events, poison, and what the vault must hold after |
//! | [`panic`] | a conversation source that panics, for per-record isolation tests |
//! | [`services`] | whether Azurite, moto, the Python reader and Chromium are there, and failing (never skipping) under `scripts/test` |
//!
//! The `sqs` feature brings [`pipeline`] and the AWS SDK with it: tests that
//! never touch a queue (the Genesys client's, the vault's) do not link it.

// Test support: a failed setup step is a failed test, with its message.
#![allow(clippy::expect_used, clippy::unwrap_used)]

pub mod azure_refusals;
pub mod genesys;
pub mod lambda;
pub mod panic;
pub mod peak;
#[cfg(feature = "sqs")]
pub mod pipeline;
pub mod proxy;
pub mod services;
