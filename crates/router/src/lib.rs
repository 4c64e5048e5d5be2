//! # tvault-router
//!
//! What the Lambda `bootstrap` and `tvault worker` have in common: reading the
//! settings (environment, or the Secrets Manager secret), wiring the vault and
//! the Genesys client into an [`Archiver`](tvault_core::Archiver), handling one
//! queued record to a [`Handled`] result with its requeue delay, re-reading a
//! rotated secret, and counting what happened for the metrics line.
//!
//! | module | role |
//! |---|---|
//! | [`settings`] | raw environment and secret values into validated settings |
//! | [`router`] | [`Router`]: one record in, one [`Handled`] out |
//! | [`metrics`] | counters and the CloudWatch Embedded Metric Format line |

pub mod metrics;
pub mod router;
pub mod settings;

pub use metrics::Metrics;
pub use router::{Handled, Router};
pub use settings::{Settings, SettingsError};
