//! # tvault-testkit
//!
//! Test doubles and harnesses for transcript-vault, used only by tests and
//! benchmarks:
//!
//! | module | role |
//! |---|---|
//! | [`genesys`] | an in-process fake of the Genesys Cloud Platform API |
//! | [`lambda`] | a Lambda Runtime API emulator that runs the real `bootstrap` |
//! | [`pipeline`] | moto queues with a redrive policy, event mixes, drain checks |

// Test support: a failed setup step is a failed test, with its message.
#![allow(clippy::expect_used, clippy::unwrap_used)]

pub mod genesys;
pub mod lambda;
pub mod pipeline;
