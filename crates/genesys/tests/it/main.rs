//! End-to-end tests of the Genesys source: the fake Genesys API
//! (`tvault-testkit`), the real client, `tvault_core::Archiver` and a local
//! vault on disk.

// Tests may unwrap: a panic is a failed test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod analytics;
mod archive;
mod chat;
mod concurrency;
mod fake;
mod faults;
mod limits;
mod logs;
mod permissions;
mod unfinished;
mod urls;
mod util;
