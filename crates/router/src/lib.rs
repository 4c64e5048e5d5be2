//! # tvault-router
//!
//! What the Lambda `bootstrap` and `tvault worker` have in common: reading the
//! settings (environment, or the Secrets Manager secret), wiring the vault and
//! the Genesys client into an [`Archiver`](tvault_core::Archiver), handling one
//! queued record from start to end ([`Router::process`]: its age, its own
//! task, its deadline, its requeue delay, its count), re-reading a rotated
//! secret, the worker's receive loop, the metrics (one recorder for both
//! runtimes), the worker's health and metrics endpoint, and the log format.
//!
//! | module | role |
//! |---|---|
//! | [`settings`] | raw environment and secret values into validated settings |
//! | [`router`] | [`Router`]: one record in, one [`Handled`] out |
//! | [`record`] | [`Record`] and [`Router::process`]: a record's whole life |
//! | [`budget`] | a Lambda invocation's time budget |
//! | [`worker`] | the long-running SQS consumer behind `tvault worker` |
//! | [`seal`] | sealing a day into the ledger and keeping its witness line |
//! | [`telemetry`] | what is counted, through the `metrics` facade; the EMF line and the Prometheus text |
//! | [`http`] | the worker's `/healthz`, `/readyz` and `/metrics` |
//! | [`logs`] | the log subscriber: flat JSON lines (or text without colours off a terminal) |
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use tvault_core::ports::Deadline;
//! use tvault_router::{Record, Router, Settings};
//! let router = Arc::new(Router::new(Settings::from_env().with_vault("memory://"))?);
//! let record = Record {
//!     message_id: "m-1".into(),
//!     body: r#"{"detail": {}}"#.into(),
//!     receive_count: 1,
//!     sent_at_ms: None,
//! };
//! let handled = router.process(&record, Deadline::NONE, None).await;
//! println!("{}", router.totals());
//! # let _ = handled;
//! # Ok(()) }
//! ```

pub mod budget;
pub mod http;
pub mod logs;
pub mod record;
pub mod router;
pub mod seal;
pub mod settings;
pub mod telemetry;
pub mod worker;

pub use budget::Budget;
pub use record::Record;
pub use router::{Handled, Router};
pub use settings::{Settings, SettingsError};
pub use telemetry::Totals;
