//! # tvault-web
//!
//! transcript-vault for people: what a compliance officer reads, hands on,
//! and checks, while the archive's own cloud may be down.
//!
//! | module | role |
//! |---|---|
//! | [`page`] | a conversation as one HTML page (`tvault export`'s, and the reading room's) |
//! | [`export`] | one conversation read and checked against its manifest, into a [`export::Sink`] |
//! | [`bundle`] | many conversations in one folder or zip, with an index page and `SHA256SUMS` |
//! | [`server`] | `tvault serve`: the read-only web reading room |
//! | [`zone`] | `--tz`: stored UTC times shown in the reader's zone |
//!
//! Everything reads the vault through the core's [`tvault_core::ports::Vault`]
//! port and [`tvault_core::read`], so it works the same on a local folder and
//! on Azure with a read-only SAS, and never writes to the vault.
//!
//! ```
//! let z = tvault_web::zone::Zone::parse("Europe/Berlin").unwrap();
//! assert_eq!(z.show("2026-09-20T09:14:03.512Z"), "2026-09-20 11:14:03.512 CEST");
//! ```

pub mod bundle;
pub mod export;
pub mod page;
pub mod server;
pub mod zone;
