//! # tvault-search
//!
//! A local full-text index of the vault, for finding a conversation by what
//! was said, by whom, when and on which channel while the archive's own
//! cloud is down. The index is a cache: it is built from the vault (read
//! access is enough), never written to it, and deleting it loses nothing.
//! Every hit is checked against the vault before it is shown.
//!
//! | module | role |
//! |---|---|
//! | [`schema`] | the SQLite file: tables, FTS5 (`unicode61 remove_diacritics 2`), version |
//! | [`extract`] | what is indexed of one generation (pure) |
//! | [`indexer`] | reading new generations from the vault into the index |
//! | [`query`] | filters in, conversations out; user text made safe for FTS5 |
//! | [`recheck`] | each hit re-checked against the vault's manifest hash |
//!
//! It reads the vault only through the core's [`tvault_core::ports::Vault`]
//! port and [`tvault_core::read`] (which picks the latest generation and
//! checks bytes against a manifest).
//!
//! ```
//! let expr = tvault_search::query::fts_expression("\"arrived damaged\" refun*").unwrap();
//! assert_eq!(expr, "\"arrived damaged\" AND \"refun\"*");
//! ```

pub mod extract;
pub mod indexer;
pub mod query;
pub mod recheck;
pub mod schema;

pub use indexer::{IndexReport, build};
pub use query::{Found, Hit, Query, search};
pub use recheck::{Checked, Refused, recheck};
pub use schema::{open_for_reading, open_for_writing};

/// Problems with the index itself or reading the vault for it.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("search index {path}: {message}")]
    Db { path: String, message: String },
    #[error("no search index at {path}: build one with `tvault index --from DAY --to DAY`")]
    NoIndex { path: String },
    #[error("{0}")]
    Query(String),
    #[error(transparent)]
    Read(#[from] tvault_core::read::ReadError),
}
