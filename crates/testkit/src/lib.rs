//! # tvault-testkit
//!
//! Test doubles for transcript-vault's integration tests, started in-process
//! on port 0.
//!
//! | module | role |
//! |---|---|
//! | [`proxy`] | an HTTP proxy that throttles, drops and delays a seeded share of requests |

pub mod proxy;
