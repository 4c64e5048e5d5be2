//! # tvault-web
//!
//! transcript-vault for people.
//!
//! | module | role |
//! |---|---|
//! | [`zone`] | `--tz`: stored UTC times shown in the reader's zone |

pub mod zone;
