//! # tvault-vault
//!
//! The write-once vault of transcript-vault, over [`object_store`]. It
//! implements [`tvault_core::ports::Vault`] for every backend the same way:
//! create-only writes, "already there with the same bytes" as success, "already
//! there with other bytes" as an integrity error, and streamed writes that are
//! hashed on the way and committed only when complete.
//!
//! | module | role |
//! |---|---|
//! | [`location`] | parsing `--vault` / `TVAULT_VAULT` and opening the backend it names |
//! | [`store`] | [`ObjectVault`], the port implementation, backend-blind |
//! | [`writer`] | the write-once seam: [`CreateOnlyWriter`], the trait every backend's writes go through |
//! | [`staged`] | the local-disk and in-memory writer (stage, then rename create-only) |
//! | [`listing`] | the listing seam: [`Lister`], an ordered stream of names per backend; [`listing::DirWalk`] for the local disk and memory |
//! | `store_error` | `object_store` errors in the vault's terms (Azure's answers in plain words) |
//! | [`azure`] | the Azure Blob backend: configuration, create-only block writes, retries |
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let vault = tvault_vault::open("./vault")?;
//! let names = tvault_core::ports::Vault::list(vault.as_ref(), "conversations/").await?;
//! # Ok(()) }
//! ```

pub mod azure;
pub mod listing;
pub mod location;
pub mod staged;
pub mod store;
mod store_error;
pub mod writer;

pub use listing::Lister;
pub use location::{Location, LocationError, open, open_azure, open_existing};
pub use store::ObjectVault;
pub use writer::CreateOnlyWriter;
